/** The reference architectures by name (./architectures.ts builds them): without tfjs, so options can be checked before it loads. */
export type ArchName = 'madry-cnn' | 'fast-cnn' | 'wide-cnn' | 'mlp' | 'audio-cnn' | 'text-cnn';
export const ARCH_NAMES: readonly ArchName[] = ['madry-cnn', 'fast-cnn', 'wide-cnn', 'mlp', 'audio-cnn', 'text-cnn'];

/**
 * The hidden layers' activation in a built architecture. ReLU by default; the smooth ones (swish =
 * SiLU, GELU, ELU) give an attack gradients where a ReLU's are zero, which adversarial training can
 * use (Xie et al. 2020, "Smooth adversarial training"). All are Keras names, so saved models load
 * anywhere TF.js does.
 */
export type HiddenActivation = 'relu' | 'swish' | 'gelu' | 'elu';
export const HIDDEN_ACTIVATIONS: readonly HiddenActivation[] = ['relu', 'swish', 'gelu', 'elu'];

/** How a built network is named to people: 'wide-cnn', or 'wide-cnn (swish)' with a smooth activation. */
export function archLabel(arch: string, activation: unknown): string {
  return typeof activation === 'string' && activation !== 'relu' ? `${arch} (${activation})` : arch;
}
