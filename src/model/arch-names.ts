/** The reference architectures by name (./architectures.ts builds them): without tfjs, so options can be checked before it loads. */
export type ArchName = 'madry-cnn' | 'fast-cnn' | 'wide-cnn' | 'mlp' | 'audio-cnn' | 'text-cnn';
export const ARCH_NAMES: readonly ArchName[] = ['madry-cnn', 'fast-cnn', 'wide-cnn', 'mlp', 'audio-cnn', 'text-cnn'];
