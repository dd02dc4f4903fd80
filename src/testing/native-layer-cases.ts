/**
 * Every layer and option the native network covers, each in a small seeded model: the per-layer cases
 * of its equivalence tests (input gradients in native-graph.test.ts, weight gradients in
 * native-training.test.ts).
 */
import * as tf from '@tensorflow/tfjs';
import { batchNormalization } from '../backend/batch-normalization.js';
import { Rng } from '../util/rng.js';

export type Build = (x: tf.SymbolicTensor) => tf.SymbolicTensor;

/** A functional model: the layer(s) under test on the input, then a dense head of 5 logits. */
export function wrap(shape: [number, number, number], body: Build, seed: number): tf.LayersModel {
  const input = tf.input({ shape });
  let h = body(input);
  if (h.shape.length > 2) h = tf.layers.flatten().apply(h) as tf.SymbolicTensor;
  const out = tf.layers.dense({ units: 5, kernelInitializer: tf.initializers.glorotUniform({ seed }), biasInitializer: tf.initializers.randomNormal({ seed: seed + 1, stddev: 0.1 }) }).apply(h) as tf.SymbolicTensor;
  const model = tf.model({ inputs: input, outputs: out });
  // Random biases and batch-norm parameters: fresh ones (zeros, ones) would hide a wrong formula.
  const rng = new Rng(seed + 2);
  model.setWeights(model.getWeights().map((w, i) => {
    const name = model.weights[i]?.originalName ?? '';
    if (/kernel$/.test(name)) return w;
    const positive = /gamma$|moving_variance$/.test(name);
    return tf.tensor(Float32Array.from({ length: w.size }, () => (positive ? 0.5 + rng.next() : rng.next() * 0.6 - 0.3)), w.shape);
  }));
  return model;
}

const gu = (seed: number) => tf.initializers.glorotUniform({ seed });
const conv = (o: Record<string, unknown>, seed: number): tf.layers.Layer => tf.layers.conv2d({ filters: 4, kernelSize: 3, padding: 'same', kernelInitializer: gu(seed), ...o } as Parameters<typeof tf.layers.conv2d>[0]);
const apply = (l: tf.layers.Layer, x: tf.SymbolicTensor | tf.SymbolicTensor[]): tf.SymbolicTensor => l.apply(x) as tf.SymbolicTensor;

/** Every layer and option the native network covers, each in a small model (name, input shape, body). */
export function layerCases(): Array<[string, [number, number, number], Build]> {
  const act = (a: string): Build => (x) => apply(tf.layers.activation({ activation: a as 'relu' }), apply(conv({}, 40), x));
  return [
    ['Conv2D 3×3 stride 2 same, bias', [9, 9, 2], (x) => apply(conv({ strides: 2 }, 1), x)],
    ['Conv2D [2,3] strides [1,2] valid, relu, no bias', [8, 9, 3], (x) => apply(conv({ kernelSize: [2, 3], strides: [1, 2], padding: 'valid', activation: 'relu', useBias: false }, 2), x)],
    ['Conv2D dilation 2 same', [9, 9, 2], (x) => apply(conv({ dilationRate: 2 }, 3), x)],
    ['Conv2D dilation [2,1] valid, relu', [9, 8, 2], (x) => apply(conv({ dilationRate: [2, 1], padding: 'valid', activation: 'relu' }, 4), x)],
    ['DepthwiseConv2D 3×3 same, multiplier 2, bias', [7, 7, 3], (x) => apply(tf.layers.depthwiseConv2d({ kernelSize: 3, padding: 'same', depthMultiplier: 2, depthwiseInitializer: gu(5) }), x)],
    ['DepthwiseConv2D stride 2 valid, relu, no bias', [9, 9, 2], (x) => apply(tf.layers.depthwiseConv2d({ kernelSize: 3, strides: 2, padding: 'valid', activation: 'relu', useBias: false, depthwiseInitializer: gu(6) }), x)],
    ['SeparableConv2D dilation 2 same', [9, 9, 2], (x) => apply(tf.layers.separableConv2d({ filters: 3, kernelSize: 3, dilationRate: 2, padding: 'same', depthwiseInitializer: gu(7), pointwiseInitializer: gu(70) }), x)],
    ['SeparableConv2D 3×3 same, relu', [8, 8, 3], (x) => apply(tf.layers.separableConv2d({ filters: 5, kernelSize: 3, padding: 'same', activation: 'relu', depthwiseInitializer: gu(8), pointwiseInitializer: gu(9) }), x)],
    ['SeparableConv2D stride 2 valid, multiplier 2, swish', [9, 9, 2], (x) => apply(tf.layers.separableConv2d({ filters: 3, kernelSize: 3, strides: 2, padding: 'valid', depthMultiplier: 2, activation: 'swish', depthwiseInitializer: gu(10), pointwiseInitializer: gu(11) }), x)],
    ['Dense on the last axis of a Reshape', [4, 4, 3], (x) => apply(tf.layers.dense({ units: 6, activation: 'tanh', kernelInitializer: gu(12) }), apply(tf.layers.reshape({ targetShape: [16, 3] }), x))],
    ['BatchNormalization (center and scale)', [6, 6, 3], (x) => apply(tf.layers.batchNormalization({}), apply(conv({}, 13), x))],
    ['BatchNormalization without scale (alp layer)', [6, 6, 3], (x) => apply(batchNormalization({ scale: false }), apply(conv({}, 14), x))],
    ['BatchNormalization without center or scale (alp layer)', [6, 6, 3], (x) => apply(batchNormalization({ scale: false, center: false }), x)],
    ['Add (a residual: conv + identity)', [6, 6, 4], (x) => apply(tf.layers.add(), [apply(conv({ activation: 'relu' }, 15), x), x])],
    ['Multiply (conv · sigmoid gate · input)', [6, 6, 4], (x) => apply(tf.layers.multiply(), [apply(conv({}, 16), x), apply(conv({ activation: 'sigmoid' }, 17), x), x])],
    ['Concatenate (channels)', [6, 6, 2], (x) => apply(tf.layers.concatenate(), [x, apply(conv({}, 18), x)])],
    ['Concatenate (axis 1)', [5, 6, 2], (x) => apply(tf.layers.concatenate({ axis: 1 }), [x, apply(conv({ filters: 2 }, 19), x)])],
    ['MaxPooling2D 3 stride 2 same', [9, 9, 2], (x) => apply(tf.layers.maxPooling2d({ poolSize: 3, strides: 2, padding: 'same' }), apply(conv({}, 20), x))],
    ['AveragePooling2D 3 stride 2 same', [9, 9, 2], (x) => apply(tf.layers.averagePooling2d({ poolSize: 3, strides: 2, padding: 'same' }), apply(conv({}, 21), x))],
    ['AveragePooling2D 2 valid', [7, 7, 2], (x) => apply(tf.layers.averagePooling2d({ poolSize: 2, padding: 'valid' }), x)],
    ['GlobalAveragePooling2D', [5, 5, 3], (x) => apply(tf.layers.globalAveragePooling2d({}), apply(conv({ filters: 6 }, 22), x))],
    ['GlobalMaxPooling2D', [5, 5, 3], (x) => apply(tf.layers.globalMaxPooling2d({}), apply(conv({ filters: 6 }, 23), x))],
    ['ZeroPadding2D [[1,2],[0,1]]', [5, 5, 2], (x) => apply(conv({ padding: 'valid' }, 24), apply(tf.layers.zeroPadding2d({ padding: [[1, 2], [0, 1]] }), x))],
    ['a shared layer called twice (one weight, two steps)', [6, 6, 2], (x) => {
      const shared = conv({ filters: 2, activation: 'tanh' }, 25);
      return apply(shared, apply(shared, x));
    }],
    ['Rescaling 2x − 1 (the audio models\' first layer)', [1, 12, 1], (x) => apply(conv({ kernelSize: [1, 3], filters: 3 }, 26), apply(tf.layers.rescaling({ scale: 2, offset: -1 }), x))],
    ['Rescaling 1/255', [4, 4, 3], (x) => apply(conv({}, 27), apply(tf.layers.rescaling({ scale: 1 / 255 }), x))],
    ['Dropout, Flatten', [5, 5, 2], (x) => apply(tf.layers.dropout({ rate: 0.5 }), apply(tf.layers.flatten(), x))],
    ['relu', [6, 6, 2], act('relu')],
    ['relu6', [6, 6, 2], (x) => apply(tf.layers.activation({ activation: 'relu6' }), apply(conv({ kernelInitializer: tf.initializers.randomNormal({ seed: 41, stddev: 4 }) }, 0), x))],
    ['ReLU layer with maxValue 0.5', [6, 6, 2], (x) => apply(tf.layers.reLU({ maxValue: 0.5 }), apply(conv({}, 42), x))],
    ['LeakyReLU alpha 0.2', [6, 6, 2], (x) => apply(tf.layers.leakyReLU({ alpha: 0.2 }), apply(conv({}, 43), x))],
    ['ELU layer', [6, 6, 2], (x) => apply(tf.layers.elu({}), apply(conv({}, 44), x))],
    ['elu', [6, 6, 2], act('elu')],
    ['sigmoid', [6, 6, 2], act('sigmoid')],
    ['tanh', [6, 6, 2], act('tanh')],
    ['swish', [6, 6, 2], act('swish')],
    ['gelu', [6, 6, 2], act('gelu')],
  ];
}

