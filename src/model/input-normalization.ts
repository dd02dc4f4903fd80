/**
 * A data manifest's per-channel normalisation as the model's first layer: x ↦ (lo + (hi − lo)·x −
 * mean[c]) / std[c]. It is a frozen 1×1 depthwise convolution (weight (hi − lo)/std[c], bias
 * (lo − mean[c])/std[c]), a standard TF.js layer, so every loader of model.json (alp's commands, the
 * browser bundle, TF.js itself) applies it without a custom class, and it is saved with the weights.
 * The model's inputs, and with them attacks and ε, stay in the [0,1] box.
 */
import * as tf from '@tensorflow/tfjs';
import type { InputNormalization } from '../data/source.js';

/** The layer's name in model.json. */
export const INPUT_NORMALIZATION_LAYER = 'alp_input_normalization';

/** The frozen layer on inputs of shape [H, W, C]; its weights are set once it is in a model (setNormalization). */
function normalizationLayer(inputShape: readonly [number, number, number]): tf.layers.Layer {
  return tf.layers.depthwiseConv2d({
    name: INPUT_NORMALIZATION_LAYER, inputShape: [...inputShape], kernelSize: 1, depthMultiplier: 1, useBias: true, trainable: false,
  });
}

/** Sets the built layer's weights to `n`: kernel (hi − lo)/std, bias (lo − mean)/std per channel. */
function setNormalization(layer: tf.layers.Layer, n: InputNormalization, c: number): void {
  if (n.mean.length !== c || n.std.length !== c) throw new Error(`input normalisation: ${n.mean.length} means and ${n.std.length} stds for ${c} channels`);
  const [lo, hi] = n.inputRange;
  const w = [tf.tensor4d(n.std.map((s) => (hi - lo) / s), [1, 1, c, 1]), tf.tensor1d(n.std.map((s, k) => (lo - (n.mean[k] as number)) / s))];
  layer.setWeights(w);
  tf.dispose(w);
}

/**
 * `model` behind the normalisation layer: for a Sequential model, a Sequential with the layer first
 * (the same layer objects, so the same weights); otherwise a functional model around it.
 */
export function withInputNormalization(model: tf.LayersModel, n: InputNormalization): tf.LayersModel {
  const shape = (model.inputs[0]?.shape ?? []).slice(1) as [number, number, number];
  const norm = normalizationLayer(shape);
  let out: tf.LayersModel;
  if (model instanceof tf.Sequential) out = tf.sequential({ name: model.name, layers: [norm, ...model.layers] });
  else {
    const input = tf.input({ shape: [...shape] });
    out = tf.model({ inputs: input, outputs: model.apply(norm.apply(input)) as tf.SymbolicTensor, name: `${model.name}_normalized` });
  }
  // Built inside the model, so its weights carry the layer's name in model.json.
  setNormalization(norm, n, shape[2]);
  return out;
}

/** The normalisation applied by hand to [0,1] values in NHWC order (for tests and checks). */
export function normalizeByHand(x: Float32Array, n: InputNormalization): Float32Array {
  const c = n.mean.length;
  const [lo, hi] = n.inputRange;
  return Float32Array.from(x, (v, i) => (lo + (hi - lo) * v - (n.mean[i % c] as number)) / (n.std[i % c] as number));
}
