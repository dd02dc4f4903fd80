/**
 * Functional-API models of the kinds users bring (not alp's built-in architectures): a CIFAR
 * ResNet-20-style network and a MobileNet-style depthwise-separable network, seeded, with non-trivial
 * batch-norm statistics. The native network's tests and bench/bench.mjs (with its PyTorch twin in
 * bench/peer.py) use them.
 */
import * as tf from '@tensorflow/tfjs';
import { Rng } from '../util/rng.js';

export interface GraphModelOptions {
  inputShape: [number, number, number];
  numClasses: number;
  seed: number;
}

/** ResNet options: residual blocks per stage (3 gives ResNet-20) and the stages' widths. */
export interface ResNetOptions extends GraphModelOptions {
  blocks?: number;
  widths?: readonly number[];
}

const init = (seed: number): ReturnType<typeof tf.initializers.heNormal> => tf.initializers.heNormal({ seed });

/**
 * ResNet-20 style (He et al. 2016, CIFAR): conv3×3 → BN → ReLU, then per stage `blocks` basic blocks
 * (conv3×3 → BN → ReLU → conv3×3 → BN, plus the shortcut, → ReLU); the first block of stages 2 and 3
 * halves the resolution, its shortcut a 1×1 conv with stride 2 and BN; global average pooling; dense.
 */
export function resnet(o: ResNetOptions): tf.LayersModel {
  const blocks = o.blocks ?? 3;
  const widths = o.widths ?? [16, 32, 64];
  let seed = o.seed * 1000;
  const conv = (filters: number, k: number, strides: number, name: string): tf.layers.Layer =>
    tf.layers.conv2d({ filters, kernelSize: k, strides, padding: 'same', useBias: false, kernelInitializer: init(seed++), name });
  const bn = (name: string): tf.layers.Layer => tf.layers.batchNormalization({ name });
  const relu = (name: string): tf.layers.Layer => tf.layers.activation({ activation: 'relu', name });
  const input = tf.input({ shape: o.inputShape, name: 'image' });
  let h = relu('stem_relu').apply(bn('stem_bn').apply(conv(widths[0] as number, 3, 1, 'stem_conv').apply(input))) as tf.SymbolicTensor;
  widths.forEach((w, s) => {
    for (let b = 0; b < blocks; b++) {
      const stride = s > 0 && b === 0 ? 2 : 1;
      const p = `s${s + 1}b${b + 1}`;
      let r = relu(`${p}_relu1`).apply(bn(`${p}_bn1`).apply(conv(w, 3, stride, `${p}_conv1`).apply(h))) as tf.SymbolicTensor;
      r = bn(`${p}_bn2`).apply(conv(w, 3, 1, `${p}_conv2`).apply(r)) as tf.SymbolicTensor;
      const short = stride !== 1 || (h.shape[3] as number) !== w ? (bn(`${p}_short_bn`).apply(conv(w, 1, stride, `${p}_short_conv`).apply(h)) as tf.SymbolicTensor) : h;
      h = relu(`${p}_relu2`).apply(tf.layers.add({ name: `${p}_add` }).apply([r, short])) as tf.SymbolicTensor;
    }
  });
  const pooled = tf.layers.globalAveragePooling2d({ name: 'gap' }).apply(h) as tf.SymbolicTensor;
  const logits = tf.layers.dense({ units: o.numClasses, kernelInitializer: tf.initializers.glorotUniform({ seed: seed++ }), name: 'logits' }).apply(pooled) as tf.SymbolicTensor;
  const model = tf.model({ inputs: input, outputs: logits, name: 'resnet' });
  randomizeBatchNorm(model, o.seed);
  return model;
}

/** MobileNet options: the separable blocks as [filters, stride]. */
export interface MobileNetOptions extends GraphModelOptions {
  blocks?: ReadonlyArray<readonly [number, number]>;
  stem?: number;
}

/**
 * MobileNet (v1) style: conv3×3 → BN → ReLU6, then depthwise-separable blocks (depthwise 3×3 → BN →
 * ReLU6 → pointwise 1×1 → BN → ReLU6), global average pooling, dense.
 */
export function mobilenet(o: MobileNetOptions): tf.LayersModel {
  const blocks = o.blocks ?? [[64, 1], [128, 2], [128, 1], [256, 2], [256, 1]];
  let seed = o.seed * 1000 + 500;
  const input = tf.input({ shape: o.inputShape, name: 'image' });
  const bnRelu6 = (t: tf.SymbolicTensor, name: string): tf.SymbolicTensor =>
    tf.layers.activation({ activation: 'relu6', name: `${name}_relu6` }).apply(tf.layers.batchNormalization({ name: `${name}_bn` }).apply(t)) as tf.SymbolicTensor;
  let h = bnRelu6(tf.layers.conv2d({ filters: o.stem ?? 32, kernelSize: 3, padding: 'same', useBias: false, kernelInitializer: init(seed++), name: 'stem_conv' }).apply(input) as tf.SymbolicTensor, 'stem');
  blocks.forEach(([filters, stride], i) => {
    const p = `b${i + 1}`;
    h = bnRelu6(tf.layers.depthwiseConv2d({ kernelSize: 3, strides: stride, padding: 'same', useBias: false, depthwiseInitializer: init(seed++), name: `${p}_dw` }).apply(h) as tf.SymbolicTensor, `${p}_dw`);
    h = bnRelu6(tf.layers.conv2d({ filters, kernelSize: 1, padding: 'same', useBias: false, kernelInitializer: init(seed++), name: `${p}_pw` }).apply(h) as tf.SymbolicTensor, `${p}_pw`);
  });
  const pooled = tf.layers.globalAveragePooling2d({ name: 'gap' }).apply(h) as tf.SymbolicTensor;
  const logits = tf.layers.dense({ units: o.numClasses, kernelInitializer: tf.initializers.glorotUniform({ seed: seed++ }), name: 'logits' }).apply(pooled) as tf.SymbolicTensor;
  const model = tf.model({ inputs: input, outputs: logits, name: 'mobilenet' });
  randomizeBatchNorm(model, o.seed);
  return model;
}

/** Seeded BN parameters and moving statistics, as a trained network has (fresh ones are the identity). */
export function randomizeBatchNorm(model: tf.LayersModel, seed: number): void {
  const rng = new Rng(seed + 17);
  for (const layer of model.layers) {
    if (layer.getClassName() !== 'BatchNormalization') continue;
    const out = layer.weights.map((w) => {
      const kind = w.originalName.split('/').pop();
      const v = Float32Array.from({ length: (w.shape as number[]).reduce((p, d) => p * d, 1) }, () => {
        const u = rng.next();
        return kind === 'gamma' || kind === 'moving_variance' ? 0.5 + u : u * 0.4 - 0.2;
      });
      return tf.tensor(v, w.shape as number[]);
    });
    layer.setWeights(out);
    tf.dispose(out);
  }
}

/**
 * Moving statistics from data, as training would leave them: each BatchNormalization layer, in order,
 * gets the mean and (biased) variance of its input over `x` (γ and β are kept). Without this, random
 * statistics let activations grow layer after layer until ReLU6s saturate and gradients vanish.
 */
export function calibrateBatchNorm(model: tf.LayersModel, x: tf.Tensor4D): void {
  for (const layer of model.layers) {
    if (layer.getClassName() !== 'BatchNormalization') continue;
    const probe = tf.model({ inputs: model.inputs, outputs: layer.input as tf.SymbolicTensor });
    tf.tidy(() => {
      const { mean, variance } = tf.moments(probe.predict(x) as tf.Tensor4D, [0, 1, 2]);
      const values = layer.weights.map((w) => {
        const kind = w.originalName.split('/').pop();
        return kind === 'moving_mean' ? mean : kind === 'moving_variance' ? variance : w.read();
      });
      layer.setWeights(values);
    });
  }
}
