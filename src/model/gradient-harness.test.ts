/**
 * The gradient-check harness: for every layer class alp lists as verified (gradient-support.ts), tiny
 * seeded random models — several shapes, strides, paddings and options — whose input gradient, as alp
 * computes it on cpu and on wasm with alp's kernels, must match float64-combined finite differences
 * (gradient-check.ts explains the 1e-3 tolerance). Composed models too: residual, nested, alp's input
 * adapter, and a text model split at its Embedding layer.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { useBackend } from '../testing/setup.js';
import { Rng } from '../util/rng.js';
import { checkInputGradient } from './gradient-check.js';
import { VERIFIED_LAYERS, VERIFIED_ACTIVATIONS, gradientSupport } from './gradient-support.js';
import { adaptModel } from './adapt.js';
import { splitAtEmbedding } from './text.js';
import { batchNormalization } from '../backend/batch-normalization.js';
import { layerNormalization } from '../backend/layer-normalization.js';

const L = tf.layers;
type Shape = [number, ...number[]];

interface Case {
  name: string;
  /** Input shape of one example. */
  input: Shape;
  build: () => tf.LayersModel;
  /** Smooth inputs differ in scale: embeddings are centred, images lie in [0,1]. */
  centred?: boolean;
}

/** Replaces every weight by seeded random values, variances positive, so no layer is an identity. */
function randomizeWeights(model: tf.LayersModel, seed: number): void {
  const rng = new Rng(seed);
  for (const w of model.weights) {
    const v = w.read();
    const n = v.size;
    const positive = /variance/.test(w.name);
    const vals = Float32Array.from({ length: n }, () => (positive ? 0.5 + rng.next() : (rng.next() * 2 - 1) * 0.8));
    (w as unknown as { write(t: tf.Tensor): void }).write(tf.tensor(vals, v.shape));
  }
}

function seq(input: Shape, layers: tf.layers.Layer[], classes = 3): tf.LayersModel {
  const inp = tf.input({ shape: input });
  let h: tf.SymbolicTensor = inp;
  for (const l of layers) h = l.apply(h) as tf.SymbolicTensor;
  if (h.shape.length > 2) h = L.flatten().apply(h) as tf.SymbolicTensor;
  h = L.dense({ units: classes }).apply(h) as tf.SymbolicTensor;
  return tf.model({ inputs: inp, outputs: h });
}

const img: Shape = [5, 5, 2];
const img6: Shape = [6, 6, 2];
const seqIn: Shape = [5, 3];

const cases: Case[] = [
  { name: 'dense relu / tanh', input: [4, 3], build: () => seq([4, 3], [L.flatten(), L.dense({ units: 6, activation: 'relu' }), L.dense({ units: 5, activation: 'tanh' })]) },
  { name: 'dense on 3-D input, reshape, permute', input: [4, 3], build: () => seq([4, 3], [L.dense({ units: 4, activation: 'sigmoid' }), L.permute({ dims: [2, 1] }), L.reshape({ targetShape: [16] })]) },
  ...VERIFIED_ACTIVATIONS.map((a): Case => ({ name: `activation ${a}`, input: [6], centred: true, build: () => seq([6], [L.dense({ units: 5 }), L.activation({ activation: a as 'relu' }), L.dense({ units: 4, activation: a as 'relu' })]) })),
  { name: 'ReLU, LeakyReLU, ELU, ThresholdedReLU, Softmax layers', input: [6], centred: true, build: () => seq([6], [L.dense({ units: 5 }), L.leakyReLU({ alpha: 0.2 }), L.dense({ units: 5 }), L.elu({}), L.dense({ units: 5 }), L.reLU({ maxValue: 0.9 }), L.dense({ units: 5 }), L.thresholdedReLU({ theta: 0.3 }), L.dense({ units: 5 }), L.softmax()]) },
  { name: 'PReLU', input: img, build: () => seq(img, [L.conv2d({ filters: 3, kernelSize: 2 }), L.prelu({ sharedAxes: [1, 2] }), L.flatten(), L.dense({ units: 4 }), L.prelu({})]) },
  { name: 'rescaling, dropout and noise layers (inference)', input: [6], build: () => seq([6], [L.rescaling({ scale: 2, offset: -1 }), L.dense({ units: 5, activation: 'elu' }), L.dropout({ rate: 0.5 }), L.gaussianNoise({ stddev: 1 }), L.gaussianDropout({ rate: 0.3 }), L.alphaDropout({ rate: 0.3 })]) },
  { name: 'conv2d same stride 1', input: img, build: () => seq(img, [L.conv2d({ filters: 3, kernelSize: 3, padding: 'same', activation: 'relu' })]) },
  { name: 'conv2d same stride 2, even input', input: img6, build: () => seq(img6, [L.conv2d({ filters: 3, kernelSize: 4, strides: 2, padding: 'same', activation: 'relu' })]) },
  { name: 'conv2d valid stride 2, then same', input: [7, 7, 1], build: () => seq([7, 7, 1], [L.conv2d({ filters: 2, kernelSize: 3, strides: 2, padding: 'valid' }), L.conv2d({ filters: 2, kernelSize: 2, dilationRate: 1, padding: 'same', activation: 'selu' })]) },
  { name: 'conv2dTranspose same / valid', input: [3, 3, 2], build: () => seq([3, 3, 2], [L.conv2dTranspose({ filters: 2, kernelSize: 3, strides: 2, padding: 'same', activation: 'relu' }), L.conv2dTranspose({ filters: 2, kernelSize: 2, padding: 'valid' })]) },
  { name: 'depthwise conv2d same stride 1, multiplier 2', input: img, build: () => seq(img, [L.depthwiseConv2d({ kernelSize: 3, depthMultiplier: 2, padding: 'same', activation: 'relu' })]) },
  { name: 'depthwise conv2d valid stride 2', input: img6, build: () => seq(img6, [L.depthwiseConv2d({ kernelSize: 2, strides: 2, padding: 'valid' })]) },
  { name: 'separable conv2d same / valid stride 2', input: img6, build: () => seq(img6, [L.separableConv2d({ filters: 3, kernelSize: 3, padding: 'same', activation: 'relu' }), L.separableConv2d({ filters: 2, kernelSize: 2, strides: 2, depthMultiplier: 2, padding: 'valid' })]) },
  { name: 'max pool 2 / 2 valid', input: img6, build: () => seq(img6, [L.maxPooling2d({ poolSize: 2, strides: 2 })]) },
  { name: 'max pool 3 / 2 same', input: img, build: () => seq(img, [L.conv2d({ filters: 2, kernelSize: 1 }), L.maxPooling2d({ poolSize: 3, strides: 2, padding: 'same' })]) },
  { name: 'average pool 3 / 1 same', input: img, build: () => seq(img, [L.averagePooling2d({ poolSize: 3, strides: 1, padding: 'same' })]) },
  { name: 'average pool 2 / 2 same, odd input', input: img, build: () => seq(img, [L.averagePooling2d({ poolSize: 2, strides: 2, padding: 'same' })]) },
  { name: 'average pool 3 / 2 same, even input', input: img6, build: () => seq(img6, [L.averagePooling2d({ poolSize: 3, strides: 2, padding: 'same' })]) },
  { name: 'average pool [2,3] / [1,2] valid', input: img6, build: () => seq(img6, [L.averagePooling2d({ poolSize: [2, 3], strides: [1, 2], padding: 'valid' })]) },
  { name: 'global average / max pool 2d', input: img, build: () => {
    const inp = tf.input({ shape: img });
    const c = L.conv2d({ filters: 3, kernelSize: 2, activation: 'relu' }).apply(inp) as tf.SymbolicTensor;
    const a = L.globalAveragePooling2d({}).apply(c) as tf.SymbolicTensor;
    const m = L.globalMaxPooling2d({}).apply(c) as tf.SymbolicTensor;
    return tf.model({ inputs: inp, outputs: L.dense({ units: 3 }).apply(L.concatenate().apply([a, m])) as tf.SymbolicTensor });
  } },
  { name: 'upsampling, zero padding, cropping', input: [3, 3, 2], build: () => seq([3, 3, 2], [L.upSampling2d({ size: [2, 2] }), L.zeroPadding2d({ padding: 1 }), L.conv2d({ filters: 2, kernelSize: 3 }), L.cropping2D({ cropping: [[1, 0], [0, 1]] })]) },
  { name: 'conv1d same / valid stride 2, pools 1d', input: [8, 2], build: () => seq([8, 2], [L.conv1d({ filters: 3, kernelSize: 3, padding: 'same', activation: 'relu' }), L.spatialDropout1d({ rate: 0.5 }), L.maxPooling1d({ poolSize: 2, strides: 1, padding: 'same' }), L.conv1d({ filters: 2, kernelSize: 2, strides: 2 })]) },
  { name: 'average pool 1d 3 / 2 same, global pools 1d', input: [7, 2], build: () => {
    const inp = tf.input({ shape: [7, 2] });
    const p = L.averagePooling1d({ poolSize: 3, strides: 2, padding: 'same' }).apply(inp) as tf.SymbolicTensor;
    const a = L.globalAveragePooling1d({}).apply(p) as tf.SymbolicTensor;
    const m = L.globalMaxPooling1d({}).apply(L.conv1d({ filters: 2, kernelSize: 2 }).apply(inp)) as tf.SymbolicTensor;
    return tf.model({ inputs: inp, outputs: L.dense({ units: 3 }).apply(L.concatenate().apply([a, m, L.flatten().apply(p) as tf.SymbolicTensor])) as tf.SymbolicTensor });
  } },
  { name: 'batch norm (center+scale) after conv, layer norm', input: img, build: () => seq(img, [L.conv2d({ filters: 3, kernelSize: 2 }), L.batchNormalization({}), L.flatten(), L.dense({ units: 4 }), L.layerNormalization({})]) },
  { name: 'batch norm without center', input: img, build: () => seq(img, [L.conv2d({ filters: 3, kernelSize: 2 }), batchNormalization({ center: false }), L.activation({ activation: 'relu' })]) },
  { name: 'batch norm without scale, axis 1', input: [4, 3], build: () => seq([4, 3], [batchNormalization({ scale: false, axis: 1 })]) },
  { name: 'batch norm without center and scale, on dense', input: [6], build: () => seq([6], [L.dense({ units: 4 }), batchNormalization({ center: false, scale: false })]) },
  { name: 'layer norm over two axes', input: [3, 4], build: () => seq([3, 4], [L.layerNormalization({ axis: [-2, -1] as unknown as number })]) },
  { name: 'layer norm without center / without scale', input: [6], centred: true, build: () => seq([6], [L.dense({ units: 4 }), layerNormalization({ center: false }), L.dense({ units: 4 }), layerNormalization({ scale: false, center: false })]) },
  { name: 'upsampling bilinear, repeat vector', input: [3, 3, 2], build: () => seq([3, 3, 2], [L.upSampling2d({ size: [2, 2], interpolation: 'bilinear' }), L.flatten(), L.dense({ units: 3 }), L.repeatVector({ n: 2 })]) },
  { name: 'average pool 3d 3 / 1 same, max pool 3d 3 / 2 same', input: [4, 4, 3, 1], build: () => {
    const inp = tf.input({ shape: [4, 4, 3, 1] });
    const a = L.averagePooling3d({ poolSize: 3, strides: 1, padding: 'same' }).apply(inp) as tf.SymbolicTensor;
    const m = L.maxPooling3d({ poolSize: 3, strides: 2, padding: 'same' }).apply(inp) as tf.SymbolicTensor;
    return tf.model({ inputs: inp, outputs: L.dense({ units: 3 }).apply(L.concatenate().apply([L.flatten().apply(a), L.flatten().apply(m)] as tf.SymbolicTensor[])) as tf.SymbolicTensor });
  } },
  { name: 'average pool 3d 2 / 2 valid', input: [4, 4, 2, 1], build: () => seq([4, 4, 2, 1], [L.averagePooling3d({ poolSize: 2, strides: 2, padding: 'valid' })]) },
  { name: 'conv3d same stride 1 / stride 2', input: [4, 3, 3, 2], build: () => seq([4, 3, 3, 2], [L.conv3d({ filters: 2, kernelSize: 2, padding: 'same', activation: 'relu' }), L.conv3d({ filters: 2, kernelSize: 3, strides: 2, padding: 'same' })]) },
  { name: 'conv3d valid stride 2', input: [4, 4, 3, 1], build: () => seq([4, 4, 3, 1], [L.conv3d({ filters: 2, kernelSize: 2, strides: 2, padding: 'valid' })]) },
  { name: 'dot (plain and normalised)', input: [4], centred: true, build: () => {
    const inp = tf.input({ shape: [4] });
    const a = L.dense({ units: 3 }).apply(inp) as tf.SymbolicTensor, b = L.dense({ units: 3 }).apply(inp) as tf.SymbolicTensor;
    const d = L.concatenate().apply([L.dot({ axes: 1 }).apply([a, b]), L.dot({ axes: 1, normalize: true }).apply([a, b]), a] as tf.SymbolicTensor[]) as tf.SymbolicTensor;
    return tf.model({ inputs: inp, outputs: L.dense({ units: 3 }).apply(d) as tf.SymbolicTensor });
  } },
  { name: 'masking, bidirectional LSTM, time-distributed dense', input: seqIn, centred: true, build: () => seq(seqIn, [L.masking({ maskValue: 0 }), L.timeDistributed({ layer: L.dense({ units: 3, activation: 'relu' }) }), L.bidirectional({ layer: L.lstm({ units: 2, returnSequences: true }) as tf.RNN })]) },
  { name: 'ConvLSTM2D', input: [2, 3, 3, 1], centred: true, build: () => seq([2, 3, 3, 1], [L.convLstm2d({ filters: 2, kernelSize: 2 })]) },
  { name: 'residual: add, multiply, average, maximum, minimum', input: img, build: () => {
    const inp = tf.input({ shape: img });
    const a = L.conv2d({ filters: 2, kernelSize: 3, padding: 'same', activation: 'relu' }).apply(inp) as tf.SymbolicTensor;
    const r = L.add().apply([inp, a]) as tf.SymbolicTensor;
    const b = L.conv2d({ filters: 2, kernelSize: 1, activation: 'sigmoid' }).apply(r) as tf.SymbolicTensor;
    const m = L.multiply().apply([r, b]) as tf.SymbolicTensor;
    const v = L.average().apply([m, inp]) as tf.SymbolicTensor;
    const mx = L.maximum().apply([v, a]) as tf.SymbolicTensor;
    const mn = L.minimum().apply([mx, r]) as tf.SymbolicTensor;
    return tf.model({ inputs: inp, outputs: L.dense({ units: 3 }).apply(L.flatten().apply(mn)) as tf.SymbolicTensor });
  } },
  { name: 'nested: a sequential inside a functional model', input: img, build: () => {
    const inner = tf.sequential({ layers: [L.conv2d({ inputShape: [5, 5, 2], filters: 3, kernelSize: 3, padding: 'same', activation: 'relu' }), L.averagePooling2d({ poolSize: 2, padding: 'same' })] });
    const inp = tf.input({ shape: img });
    const h = inner.apply(inp) as tf.SymbolicTensor;
    return tf.model({ inputs: inp, outputs: L.dense({ units: 3 }).apply(L.flatten().apply(h)) as tf.SymbolicTensor });
  } },
  { name: 'recurrent: SimpleRNN, LSTM, GRU', input: seqIn, centred: true, build: () => {
    const inp = tf.input({ shape: seqIn });
    const s = L.simpleRNN({ units: 3, returnSequences: true }).apply(inp) as tf.SymbolicTensor;
    const l = L.lstm({ units: 3 }).apply(s) as tf.SymbolicTensor;
    const g = L.gru({ units: 3 }).apply(inp) as tf.SymbolicTensor;
    return tf.model({ inputs: inp, outputs: L.dense({ units: 3 }).apply(L.concatenate().apply([l, g])) as tf.SymbolicTensor });
  } },
];

/** Inputs: images in the box, embeddings/features centred. Seeded per case. */
function inputFor(c: Case, seed: number): tf.Tensor {
  const rng = new Rng(seed);
  const n = c.input.reduce((a, b) => a * b, 1);
  const v = Float32Array.from({ length: n }, () => (c.centred ? rng.next() * 2 - 1 : 0.1 + 0.8 * rng.next()));
  return tf.tensor(v, [1, ...c.input]);
}

function check(model: tf.LayersModel, x: tf.Tensor, label: string): void {
  const r = checkInputGradient((t) => model.apply(t, { training: false }) as tf.Tensor, x);
  assert.ok(r.skipped <= Math.max(2, 0.25 * (r.compared + r.skipped)), `${label}: ${r.skipped} of ${r.compared + r.skipped} coordinates not smooth; no reference`);
  assert.ok(r.ok, `${label}: input gradient off by ${r.maxError.toExponential(2)} (scale ${r.scale.toFixed(3)}) at coordinate ${r.worst.index}: alp ${r.worst.alp.toFixed(5)}, finite differences ${r.worst.reference.toFixed(5)}`);
}

async function onEachBackend(f: (backend: string) => void): Promise<void> {
  const first = await useBackend();
  for (const b of ['cpu', 'wasm']) {
    if (b === 'wasm' && first !== 'wasm') continue; // wasm could not initialise here
    await tf.setBackend(b);
    f(b);
  }
  await tf.setBackend(first);
}

test('every verified layer class has a harness case, and every case is verified', async () => {
  await useBackend();
  const covered = new Set<string>();
  for (const c of cases) {
    const m = c.build();
    for (const l of gradientSupport(m)) {
      covered.add(l.className);
      assert.notEqual(l.status, 'unverified', `case '${c.name}' uses ${l.path} (${l.className}), which the table calls unverified: ${l.note ?? ''}`);
    }
    m.dispose();
  }
  const missing = Object.keys(VERIFIED_LAYERS).filter((k) => !covered.has(k) && k !== 'Embedding');
  assert.deepEqual(missing, [], `listed as verified but not checked by the harness: ${missing.join(', ')}`);
});

test('input gradients of every verified layer match finite differences (cpu and wasm, alp kernels)', async () => {
  // Every case runs; the failures are listed together.
  const failures: string[] = [];
  await onEachBackend((backend) => {
    cases.forEach((c, k) => {
      const model = c.build();
      randomizeWeights(model, 100 + k);
      for (const seed of [1, 2]) {
        const x = inputFor(c, 1000 * seed + k);
        try {
          check(model, x, `${backend}: ${c.name} (input seed ${seed})`);
        } catch (e) {
          failures.push(e instanceof assert.AssertionError ? e.message : `${backend}: ${c.name}: ${(e as Error).message}`);
        }
        x.dispose();
      }
      model.dispose();
    });
  });
  assert.deepEqual(failures, []);
});

test("alp's input adapter (reshape + range) keeps gradients exact", async () => {
  await onEachBackend((backend) => {
    const flat = seq([18], [L.dense({ units: 5, activation: 'relu' })]);
    randomizeWeights(flat, 5);
    const { model, changes } = adaptModel(flat, [3, 3, 2], { inputRange: [-1, 1] });
    assert.equal(changes.length, 2);
    check(model, inputFor({ name: '', input: [3, 3, 2], build: () => model }, 9), `${backend}: adapted model`);
  });
});

test('text models: the head after the Embedding layer has exact gradients (conv1d / recurrent heads)', async () => {
  await onEachBackend((backend) => {
    for (const head of ['conv', 'lstm'] as const) {
      const layers: tf.layers.Layer[] = [L.embedding({ inputDim: 20, outputDim: 4, inputLength: 6 })];
      if (head === 'conv') layers.push(L.conv1d({ filters: 3, kernelSize: 3, padding: 'same', activation: 'relu' }), L.globalMaxPooling1d({}));
      else layers.push(L.lstm({ units: 3 }));
      layers.push(L.dense({ units: 2 }));
      const model = tf.sequential({ layers: [L.inputLayer({ inputShape: [6] }), ...layers] });
      randomizeWeights(model, 3);
      const split = splitAtEmbedding(model);
      const ids = tf.tensor4d([1, 5, 7, 7, 19, 0], [1, 6, 1, 1]);
      const e = split.embed(ids);
      check(split.head, e, `${backend}: text model, ${head} head`);
      // The split model and the original agree: the head is the model after its embedding.
      const d = tf.tidy(() => tf.max(tf.abs(tf.sub(split.head.apply(e) as tf.Tensor, model.apply(ids.reshape([1, 6])) as tf.Tensor))).dataSync()[0] as number);
      assert.ok(d < 1e-5, `${backend}: split head differs from the model by ${d}`);
      tf.dispose([ids, e]);
    }
  });
});
