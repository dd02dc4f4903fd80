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

/** The frozen layer for `n` on inputs of shape [H, W, C]. */
export function inputNormalizationLayer(n: InputNormalization, inputShape: readonly [number, number, number]): tf.layers.Layer {
  const c = inputShape[2];
  if (n.mean.length !== c || n.std.length !== c) throw new Error(`input normalisation: ${n.mean.length} means and ${n.std.length} stds for ${c} channels`);
  const [lo, hi] = n.inputRange;
  const scale = n.std.map((s) => (hi - lo) / s);
  const bias = n.std.map((s, k) => (lo - (n.mean[k] as number)) / s);
  const layer = tf.layers.depthwiseConv2d({
    name: INPUT_NORMALIZATION_LAYER, inputShape: [...inputShape], kernelSize: 1, depthMultiplier: 1, useBias: true, trainable: false,
  });
  layer.build([null, ...inputShape]);
  layer.setWeights([tf.tensor4d(scale, [1, 1, c, 1]), tf.tensor1d(bias)]);
  return layer;
}

/**
 * `model` behind the normalisation layer: for a Sequential model, a Sequential with the layer first
 * (the same layer objects, so the same weights); otherwise a functional model around it.
 */
export function withInputNormalization(model: tf.LayersModel, n: InputNormalization): tf.LayersModel {
  const shape = (model.inputs[0]?.shape ?? []).slice(1) as [number, number, number];
  const norm = inputNormalizationLayer(n, shape);
  if (model instanceof tf.Sequential) {
    return tf.sequential({ name: model.name, layers: [norm, ...model.layers] });
  }
  const input = tf.input({ shape: [...shape] });
  const output = model.apply(norm.apply(input)) as tf.SymbolicTensor;
  return tf.model({ inputs: input, outputs: output, name: `${model.name}_normalized` });
}

/** The normalisation applied by hand to [0,1] values in NHWC order (for tests and checks). */
export function normalizeByHand(x: Float32Array, n: InputNormalization): Float32Array {
  const c = n.mean.length;
  const [lo, hi] = n.inputRange;
  return Float32Array.from(x, (v, i) => (lo + (hi - lo) * v - (n.mean[i % c] as number)) / (n.std[i % c] as number));
}
