/**
 * Which layers' input gradients alp has verified. An attack is only as strong as the gradient it
 * follows, and TF.js itself has had wrong ones (docs/tfjs-gradient-bugs.md), so a layer counts as
 * verified only when src/model/gradient-harness.test.ts compares its gradient against finite
 * differences on the cpu and wasm backends with alp's kernels. That test also fails when a class
 * listed here has no case, so this table cannot claim more than the harness checks.
 *
 * A layer outside the table is not known to be wrong, only unchecked: alp warns, and the audit
 * reports it as a gradient-masking risk.
 */
import * as tf from '@tensorflow/tfjs';
import { GraphModelLayer } from './graph-model.js';

export type GradientStatus = 'verified' | 'corrected' | 'unverified';

/**
 * Verified layer classes. 'corrected' means TF.js' own gradient is wrong or throws for this layer
 * and alp installs a fix (the harness checks the fixed one).
 */
export const VERIFIED_LAYERS: Readonly<Record<string, GradientStatus>> = {
  Dense: 'verified', Flatten: 'verified', Reshape: 'verified', Permute: 'verified', Rescaling: 'verified',
  Dropout: 'verified', SpatialDropout1D: 'verified', GaussianNoise: 'verified', GaussianDropout: 'verified', AlphaDropout: 'verified',
  Activation: 'verified', ReLU: 'verified', LeakyReLU: 'verified', PReLU: 'verified', ELU: 'verified', ThresholdedReLU: 'corrected', Softmax: 'verified',
  Conv1D: 'verified', Conv2D: 'verified', Conv3D: 'corrected', Conv2DTranspose: 'verified', DepthwiseConv2D: 'corrected', SeparableConv2D: 'corrected',
  MaxPooling1D: 'verified', MaxPooling2D: 'verified', MaxPooling3D: 'verified',
  AveragePooling1D: 'corrected', AveragePooling2D: 'corrected', AveragePooling3D: 'corrected',
  GlobalAveragePooling1D: 'verified', GlobalMaxPooling1D: 'verified', GlobalAveragePooling2D: 'verified', GlobalMaxPooling2D: 'verified',
  UpSampling2D: 'verified', ZeroPadding2D: 'verified', Cropping2D: 'verified', RepeatVector: 'verified', Masking: 'corrected',
  BatchNormalization: 'corrected', LayerNormalization: 'corrected',
  Add: 'verified', Concatenate: 'verified', Multiply: 'verified', Average: 'verified', Maximum: 'verified', Minimum: 'verified', Dot: 'verified',
  Embedding: 'verified', SimpleRNN: 'verified', LSTM: 'verified', GRU: 'verified', ConvLSTM2D: 'verified',
  Bidirectional: 'verified', TimeDistributed: 'verified',
};

/**
 * Graph-model ops (model/graph-model.ts) whose input gradient through TF.js' graph executor is checked:
 * src/model/graph-model.test.ts compares the hand-written graph fixtures' gradients with their Layers
 * twins' and with finite differences, and fails when an op listed here is in neither fixture. A
 * _Fused* op counts only with the fused ops in FUSED_VERIFIED.
 */
export const VERIFIED_GRAPH_OPS: readonly string[] = [
  'Placeholder', 'Const', 'Identity', 'MatMul', '_FusedMatMul', '_FusedConv2D', 'BiasAdd', 'Relu', 'Conv2D', 'MaxPool', 'Reshape', 'Softmax',
];
export const FUSED_VERIFIED: readonly string[] = ['BiasAdd', 'Relu'];

/** The unverified ops of a graph layer, as gradient-support entries. */
function graphOpSupport(layer: GraphModelLayer, path: string): LayerGradientSupport[] {
  const bad = new Map<string, string>();
  for (const n of layer.usedNodes()) {
    const fusedBad = n.fusedOps.filter((f) => !FUSED_VERIFIED.includes(f));
    if (!VERIFIED_GRAPH_OPS.includes(n.op)) bad.set(n.op, `graph op ${n.op} (node ${n.name}) has no gradient check`);
    else if (fusedBad.length > 0) bad.set(`${n.op}+${fusedBad.join('+')}`, `graph op ${n.op} fusing ${fusedBad.join(', ')} (node ${n.name}) has no gradient check`);
  }
  if (bad.size === 0) return [{ path, className: layer.getClassName(), status: 'verified' }];
  return [...bad.values()].map((note) => ({ path, className: layer.getClassName(), status: 'unverified', note }));
}

/** Activation names (the `activation` option of Dense, Conv*, Activation, ...) the harness covers. */
export const VERIFIED_ACTIVATIONS: readonly string[] = [
  'linear', 'relu', 'relu6', 'elu', 'selu', 'gelu', 'gelu_new', 'swish', 'mish', 'tanh', 'sigmoid', 'hardSigmoid', 'softplus', 'softsign', 'softmax', 'logSoftmax',
];

/** Why a class is listed: what goes wrong in TF.js and what alp does about it. */
export const CORRECTIONS: Readonly<Record<string, string>> = {
  AveragePooling1D: "TF.js' AvgPoolGrad (cpu, wasm) divides by the full window at padded edges; alp registers a correct kernel",
  AveragePooling2D: "TF.js' AvgPoolGrad (cpu, wasm) divides by the full window at padded edges; alp registers a correct kernel",
  BatchNormalization: 'TF.js throws when differentiating or training it without center or scale; alp registers a fixed layer class',
  LayerNormalization: 'TF.js throws when differentiating it without center or scale; alp registers a fixed layer class',
  AveragePooling3D: "TF.js' AvgPool3DGrad (cpu, wasm) divides by the full window at padded edges; alp registers a correct kernel",
  Conv3D: "tfjs-backend-wasm's Conv3DBackpropInputV2 gives the last depth slices too little or no gradient; alp registers a correct kernel",
  Masking: 'TF.js has no gradient for the boolean reduction Any and throws; alp registers its zero gradient',
  ThresholdedReLU: 'TF.js has no gradient for its comparison and throws; alp registers the zero gradient of comparisons',
  DepthwiseConv2D: 'tfjs-backend-wasm has no depthwise-convolution gradient kernels; alp registers them',
  SeparableConv2D: 'tfjs-backend-wasm has no depthwise-convolution gradient kernels; alp registers them',
};

export interface LayerGradientSupport {
  /** Layer name, with the names of the models it is nested in: `outer/inner/conv2d_1`. */
  path: string;
  className: string;
  status: GradientStatus;
  /** Why a layer is unverified, or what alp corrected. */
  note?: string;
}

/** Options of verified classes that the harness does not cover, from a layer's config. */
function uncoveredOption(c: Record<string, unknown>): string | undefined {
  if (c['dataFormat'] === 'channelsFirst') return "dataFormat 'channelsFirst' is not covered";
  const dil = c['dilationRate'];
  if (dil !== undefined && (Array.isArray(dil) ? dil : [dil]).some((d) => d !== 1)) return 'dilated convolutions: TF.js has no gradient for them (it throws)';
  for (const key of ['activation', 'recurrentActivation']) {
    const r = c[key];
    if (typeof r === 'string' && !VERIFIED_ACTIVATIONS.includes(r)) return `${key} '${r}' is not covered`;
  }
  // Wrappers (Bidirectional, TimeDistributed) are as verified as the layer they wrap.
  const inner = c['layer'];
  if (typeof inner === 'object' && inner !== null) {
    const { className, config } = inner as { className?: unknown; config?: unknown };
    if (typeof className !== 'string' || VERIFIED_LAYERS[className] === undefined) return `wraps ${String(className)}, which has no gradient check`;
    const why = uncoveredOption((config ?? {}) as Record<string, unknown>);
    if (why !== undefined) return `wraps ${className}: ${why}`;
  }
  return undefined;
}

/** Every layer of `model` (nested models walked, InputLayers left out) with its gradient status. */
export function gradientSupport(model: tf.LayersModel): LayerGradientSupport[] {
  const out: LayerGradientSupport[] = [];
  const walk = (m: tf.LayersModel, prefix: string): void => {
    for (const layer of m.layers) {
      const cls = layer.getClassName();
      if (cls === 'InputLayer') continue;
      const path = prefix + layer.name;
      if (layer instanceof tf.LayersModel) {
        walk(layer, path + '/');
        continue;
      }
      if (layer instanceof GraphModelLayer) {
        out.push(...graphOpSupport(layer, path));
        continue;
      }
      const listed = VERIFIED_LAYERS[cls];
      if (listed === undefined) {
        out.push({ path, className: cls, status: 'unverified', note: `no gradient check for ${cls}` });
        continue;
      }
      const missing = uncoveredOption(layer.getConfig() as Record<string, unknown>);
      if (missing !== undefined) out.push({ path, className: cls, status: 'unverified', note: missing });
      else if (CORRECTIONS[cls] !== undefined) out.push({ path, className: cls, status: listed, note: CORRECTIONS[cls] as string });
      else out.push({ path, className: cls, status: listed });
    }
  };
  walk(model, '');
  return out;
}

/** The layers whose input gradient alp has not verified. */
export function unverifiedLayers(model: tf.LayersModel): LayerGradientSupport[] {
  return gradientSupport(model).filter((l) => l.status === 'unverified');
}

/** One line for users, or undefined when every layer is verified. */
export function gradientWarning(model: tf.LayersModel, source = model.name): string | undefined {
  const bad = unverifiedLayers(model);
  if (bad.length === 0) return undefined;
  const shown = bad.slice(0, 4).map((l) => `${l.path} (${l.className}: ${l.note ?? 'unverified'})`).join(', ');
  const more = bad.length > 4 ? ` and ${bad.length - 4} more` : '';
  return `${source}: the input gradient of ${bad.length === 1 ? 'layer' : 'layers'} ${shown}${more} is not verified by alp; ` +
    'attacks may follow a wrong gradient and overstate robustness (a gradient-masking risk). Confirm with the gradient-free Square attack (alp audit).';
}
