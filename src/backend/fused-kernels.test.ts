/**
 * alp's fused wasm kernels against the TF.js kernels they replace: the same bits, not just close values
 * (training runs and --resume must stay bit-identical).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { useBackend } from '../testing/setup.js';
import { Rng } from '../util/rng.js';
import { nativeApi } from './native-kernels.js';
import { RELU_GRAD_KERNEL } from './fused-kernels.js';
import { adamUpdateJs, fusedAdam, type AdamConstants } from './fused-adam.js';

function sameBits(a: Float32Array | number[], b: Float32Array | number[], what: string): void {
  assert.equal(a.length, b.length, `${what}: length`);
  for (let i = 0; i < a.length; i++) {
    if (!Object.is(a[i], b[i])) assert.fail(`${what}: element ${i} is ${a[i]}, expected ${b[i]}`);
  }
}

function values(n: number, seed: number, scale = 1): Float32Array {
  const rng = new Rng(seed);
  return Float32Array.from({ length: n }, () => (rng.next() * 2 - 1) * scale);
}

test('fused Adam: 6 steps give bit-identical weights, moments and β powers to tf.train.adam', async () => {
  await useBackend();
  const shapes = [[5, 5, 1, 4], [4], [37, 3]];
  const mk = (tag: string) => tf.tidy(() => shapes.map((s, i) => tf.variable(tf.tensor(values(s.reduce((p, q) => p * q, 1), 100 + i), s), true, `fusedAdam_${tag}_${i}`)));
  const ours = mk('ours');
  const ref = mk('ref');
  const a = fusedAdam(0.01);
  const b = tf.train.adam(0.01);
  for (let step = 0; step < 6; step++) {
    // Gradients spanning many magnitudes (tiny ones exercise the bias correction early on); one
    // variable gets a null gradient on odd steps, which both leave untouched.
    const grads = shapes.map((s, i) => tf.tensor(values(s.reduce((p, q) => p * q, 1), 1000 * step + i, 10 ** (i - 2)), s));
    const pick = (vs: tf.Variable[]) => Object.fromEntries(vs.map((v, i) => [v.name, i === 1 && step % 2 === 1 ? null : grads[i]])) as unknown as Parameters<typeof a.applyGradients>[0];
    a.applyGradients(pick(ours));
    b.applyGradients(pick(ref));
    tf.dispose(grads);
  }
  for (let i = 0; i < shapes.length; i++) sameBits(ours[i]!.dataSync() as Float32Array, ref[i]!.dataSync() as Float32Array, `variable ${i}`);
  const wa = await a.getWeights();
  const wb = await b.getWeights();
  assert.equal(wa.length, wb.length);
  for (let i = 0; i < wa.length; i++) sameBits(wa[i]!.tensor.dataSync() as Float32Array, wb[i]!.tensor.dataSync() as Float32Array, `optimizer weight ${i}`);
  assert.equal(a.getClassName(), 'Adam');
  tf.dispose([...ours, ...ref]);
  a.dispose();
  b.dispose();
});

test('fused Adam: the typed-array fallback computes the same bits as the native kernel', () => {
  const native = nativeApi();
  const n = 1000;
  const value = values(n, 1), m = values(n, 2, 0.1), v = values(n, 3, 0.01).map(Math.abs), g = values(n, 4, 3);
  const f = Math.fround;
  const k: AdamConstants = { beta1: f(0.9), oneMinusBeta1: f(0.1), beta2: f(0.999), oneMinusBeta2: f(1 - 0.999), oneMinusAccBeta1: f(1 - f(0.9 * 0.9)),
    oneMinusAccBeta2: f(1 - f(f(0.999) * f(0.999))), epsilon: f(1e-7), negLr: f(-0.001) };
  const js = [new Float32Array(n), new Float32Array(n), new Float32Array(n)] as const;
  adamUpdateJs(value, m, v, g, js[0], js[1], js[2], k);
  assert.ok(js[0].some((x, i) => x !== value[i]), 'the update moved the weights');
  if (native === null) return;
  const nat = [new Float32Array(n), new Float32Array(n), new Float32Array(n)] as const;
  native.adamUpdate(value, m, v, g, nat[0], nat[1], nat[2], n, k.beta1, k.oneMinusBeta1, k.beta2, k.oneMinusBeta2, k.oneMinusAccBeta1, k.oneMinusAccBeta2, k.epsilon, k.negLr);
  for (let j = 0; j < 3; j++) sameBits(nat[j] as Float32Array, js[j] as Float32Array, `output ${j}`);
});

test('Relu gradient on wasm: one fused kernel, the same bits as dy·float(step(x)) (NaN, ±0, ±Inf)', async (t) => {
  if ((await useBackend()) !== 'wasm' || tf.getKernel(RELU_GRAD_KERNEL, 'wasm') === undefined) {
    t.skip('wasm backend with the native addon not available');
    return;
  }
  const xs = Float32Array.from([-2, -0, 0, 1e-40, 3, NaN, -Infinity, Infinity, 0.5, -1e-30, 7, -3]);
  const dys = Float32Array.from([1, -1, 2, -3, Infinity, 4, -Infinity, NaN, -0, 5, -Infinity, NaN]);
  const x = tf.tensor(xs, [3, 4]);
  const dy = tf.tensor(dys, [3, 4]);
  const ours = tf.tidy(() => tf.grad((a: tf.Tensor) => tf.relu(a))(x, dy));
  const ref = tf.tidy(() => tf.mul(dy, tf.cast(tf.step(x), 'float32')));
  sameBits(ours.dataSync() as Float32Array, ref.dataSync() as Float32Array, 'relu gradient');
  // It really is the fused kernel: the tape's backward pass ran AlpReluGrad and no Step.
  const seen = new Set<string>();
  const prof = await tf.profile(() => tf.grad((a: tf.Tensor) => tf.relu(a))(x, dy));
  for (const k of prof.kernels) seen.add(k.name);
  assert.ok(seen.has(RELU_GRAD_KERNEL) && !seen.has('Step'), `kernels run: ${[...seen].join(', ')}`);
  // A second derivative exists (linear in dy).
  const hv = tf.tidy(() => tf.grad((d: tf.Tensor) => tf.sum(tf.mul(tf.grad((a: tf.Tensor) => tf.relu(a))(x, d), tf.onesLike(d))))(dy));
  sameBits(hv.dataSync() as Float32Array, Float32Array.from(xs, (v) => (v > 0 ? 1 : Number.isNaN(v) ? NaN : 0)), 'd/d(dy) of the relu gradient');
  tf.dispose([x, dy, ours, ref, hv, ...prof.result instanceof tf.Tensor ? [prof.result] : []]);
});

test('Sum over the leading axes (bias gradients) on wasm: the same bits as the reference order, keepDims too', async () => {
  await useBackend();
  const x = tf.tensor(values(6 * 5 * 7 * 33, 9, 100), [6, 5, 7, 33]);
  const ours = tf.sum(x, [0, 1, 2]);
  // The wasm kernel's own path for this reduction: reduced axes moved last, summed in order.
  const ref = tf.sum(tf.reshape(tf.transpose(x, [3, 0, 1, 2]), [33, 210]), 1);
  sameBits(ours.dataSync() as Float32Array, ref.dataSync() as Float32Array, 'sum over [0,1,2]');
  const kept = tf.sum(x, [-4, -3, -2], true);
  assert.deepEqual(kept.shape, [1, 1, 1, 33]);
  sameBits(kept.dataSync() as Float32Array, ref.dataSync() as Float32Array, 'keepDims');
  // Other reductions are untouched: axis 1 only.
  const mid = tf.sum(x, 1);
  assert.deepEqual(mid.shape, [6, 7, 33]);
  const xs = x.dataSync();
  let s = 0;
  for (let j = 0; j < 5; j++) s = Math.fround(s + (xs[((2 * 5 + j) * 7 + 3) * 33 + 4] as number));
  assert.ok(Math.abs((mid.dataSync()[(2 * 7 + 3) * 33 + 4] as number) - s) < 1e-3);
  tf.dispose([x, ours, ref, kept, mid]);
});

test('Add of a bias vector on wasm: the same bits as the broadcasting Add, either operand order', async () => {
  await useBackend();
  const x = tf.tensor(values(4 * 3 * 5 * 6, 21, 50), [4, 3, 5, 6]);
  const b = tf.tensor(values(6, 22, 50), [6]);
  const ours = [tf.add(x, b), tf.add(b, x)];
  // Reference: the same sums with the bias tiled to full size first (no broadcasting).
  const ref = tf.add(x, tf.tile(tf.reshape(b, [1, 1, 1, 6]), [4, 3, 5, 1]));
  for (const o of ours) {
    assert.deepEqual(o.shape, [4, 3, 5, 6]);
    sameBits(o.dataSync() as Float32Array, ref.dataSync() as Float32Array, 'bias add');
  }
  tf.dispose([x, b, ref, ...ours]);
});

test('Identity (tensors saved for backprop, tf.clone) shares the buffer safely and leaks nothing', async () => {
  await useBackend();
  const before = tf.memory().numTensors;
  const bytes = tf.memory().numBytes;
  const x = tf.tensor([1, 2, 3, 4]);
  const c = tf.clone(x);
  x.dispose();
  assert.deepEqual(Array.from(c.dataSync()), [1, 2, 3, 4], 'the clone outlives its source');
  c.dispose();
  const w = tf.tidy(() => tf.variable(tf.tensor([0.5, -1])));
  const input = tf.tensor([2, 3]);
  const g = tf.grad((a: tf.Tensor) => tf.sum(tf.relu(tf.mul(a, w))))(input);
  assert.deepEqual(Array.from(g.dataSync(), (v) => v + 0), [0.5, 0]);
  tf.dispose([g, w, input]);
  assert.equal(tf.memory().numTensors, before, 'no tensor leaked');
  assert.equal(tf.memory().numBytes, bytes, 'no bytes leaked');
});
