import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { installWasmKernels } from './wasm-kernels.js';
import { installNativeKernels } from './native-kernels.js';
import { Rng } from '../util/rng.js';

interface Case { x: number[]; w: number[]; stride: number; pad: 'same' | 'valid' }

const cases: Case[] = [
  { x: [2, 7, 7, 3], w: [3, 3, 3, 4], stride: 1, pad: 'same' },
  { x: [2, 8, 8, 3], w: [4, 4, 3, 5], stride: 2, pad: 'same' },
  { x: [2, 9, 9, 2], w: [3, 3, 2, 3], stride: 2, pad: 'valid' },
  { x: [3, 28, 28, 1], w: [5, 5, 1, 6], stride: 1, pad: 'same' },
  { x: [1, 10, 10, 2], w: [5, 5, 2, 2], stride: 3, pad: 'same' },
];

function randoms(n: number, seed: number): Float32Array {
  const r = new Rng(seed);
  return Float32Array.from({ length: n }, () => r.next() * 2 - 1);
}

function maxRelErr(a: Float32Array, b: Float32Array): number {
  let m = 0, scale = 1e-6;
  for (let i = 0; i < a.length; i++) scale = Math.max(scale, Math.abs(a[i] as number));
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs((a[i] as number) - (b[i] as number)));
  return m / scale;
}

async function on(backend: string, f: () => Float32Array[]): Promise<Float32Array[]> {
  await tf.setBackend(backend);
  let out: Float32Array[] = [];
  tf.tidy(() => {
    out = f();
  });
  return out;
}

test('wasm kernels (composite, and native when built) match the reference cpu backend', async () => {
  installWasmKernels();
  installNativeKernels();
  await tf.setBackend('wasm');
  for (const [k, c] of cases.entries()) {
    const xs = randoms(c.x.reduce((a, b) => a * b), 10 + k);
    const ws = randoms(c.w.reduce((a, b) => a * b), 20 + k);
    const grads = (): Float32Array[] => {
      const x = tf.tensor4d(xs, c.x as [number, number, number, number]);
      const w = tf.tensor4d(ws, c.w as [number, number, number, number]);
      const f = (a: tf.Tensor4D, b: tf.Tensor4D): tf.Scalar => tf.sum(tf.square(tf.conv2d(a, b, c.stride, c.pad)));
      const [gx, gw] = tf.grads(f as (...a: tf.Tensor[]) => tf.Scalar)([x, w]);
      const flat = tf.reshape(x, [c.x[0] as number, -1]);
      const mmA = tf.matMul(flat, flat, true, false);
      const mmB = tf.matMul(flat, flat, false, true);
      return [gx, gw, mmA, mmB].map((t) => t!.dataSync() as Float32Array);
    };
    const ref = await on('cpu', grads);
    const got = await on('wasm', grads);
    ['dx', 'dW', 'matMul Aᵀ', 'matMul Bᵀ'].forEach((name, i) => {
      const e = maxRelErr(ref[i] as Float32Array, got[i] as Float32Array);
      assert.ok(e < 1e-4, `case ${k} ${name}: relative error ${e}`);
    });
  }
  await tf.setBackend('wasm');
});

test('max-pool gradients match cpu, including windows of negative values and ties', async () => {
  installWasmKernels();
  installNativeKernels();
  const vals = randoms(2 * 6 * 6 * 3, 99).map((v, i) => (i % 7 === 0 ? -0.5 : v - 1)); // mostly negative, with ties
  const grad = (): Float32Array[] => {
    const x = tf.tensor4d(vals, [2, 6, 6, 3]);
    const g = tf.grad((t: tf.Tensor) => tf.sum(tf.mul(tf.maxPool(t as tf.Tensor4D, 2, 2, 'valid'), tf.range(1, 2 * 3 * 3 * 3 + 1).reshape([2, 3, 3, 3]))))(x);
    const g2 = tf.grad((t: tf.Tensor) => tf.sum(tf.maxPool(t as tf.Tensor4D, 3, 2, 'same')))(x);
    return [g.dataSync() as Float32Array, g2.dataSync() as Float32Array];
  };
  const ref = await on('cpu', grad);
  const got = await on('wasm', grad);
  assert.deepEqual(Array.from(got[0] as Float32Array), Array.from(ref[0] as Float32Array));
  assert.deepEqual(Array.from(got[1] as Float32Array), Array.from(ref[1] as Float32Array));
  await tf.setBackend('wasm');
});

test('embedding (gather) gradients: UnsortedSegmentSum matches cpu, repeated and out-of-range ids included', async () => {
  installWasmKernels();
  const table = randoms(7 * 3, 5);
  const grad = (): Float32Array[] => {
    const ids = tf.tensor2d([[0, 3, 3, 6], [3, 1, 0, 0]], [2, 4], 'int32');
    const w = tf.range(1, 2 * 4 * 3 + 1).reshape([2, 4, 3]);
    const g = tf.grad((t: tf.Tensor) => tf.sum(tf.mul(tf.gather(t, ids), w)))(tf.tensor2d(table, [7, 3]));
    const s = tf.unsortedSegmentSum(tf.tensor2d([1, 2, 3, 4, 5, 6], [3, 2]), tf.tensor1d([2, -1, 2], 'int32'), 3);
    return [g.dataSync() as Float32Array, s.dataSync() as Float32Array];
  };
  const ref = await on('cpu', grad);
  const got = await on('wasm', grad);
  assert.deepEqual(Array.from(got[0] as Float32Array), Array.from(ref[0] as Float32Array));
  assert.deepEqual(Array.from(got[1] as Float32Array), [0, 0, 0, 0, 6, 8]);
  await tf.setBackend('wasm');
});

test('the composite kernels alone (native addon disabled) also match the cpu backend', async (t) => {
  if (process.env['ALP_NO_NATIVE'] === '1') {
    t.skip('already running without the native addon');
    return;
  }
  const { spawnSync } = await import('node:child_process');
  const { fileURLToPath } = await import('node:url');
  const self = fileURLToPath(import.meta.url);
  const env: Record<string, string | undefined> = { ...process.env, ALP_NO_NATIVE: '1' };
  delete env['NODE_TEST_CONTEXT']; // else the child reports to the parent runner instead of stdout
  const r = spawnSync(process.execPath, ['--test', self], { encoding: 'utf8', env });
  assert.equal(r.status, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /# pass [1-9]/);
});

test('sign is exact on wasm, as on cpu: tiny gradients still give a full PGD/FGSM step', async () => {
  installWasmKernels();
  // tfjs-backend-wasm 4.22's own Sign returns 0 below 2^-23: a sign-gradient attack then skips those inputs.
  const values = [1e-8, -1e-8, 1.1e-7, -3e-30, 1e-45, 0, -0, 2, -5, NaN];
  const s = (): Float32Array[] => [tf.sign(tf.tensor1d(values)).dataSync() as Float32Array];
  const ref = await on('cpu', s);
  const got = await on('wasm', s);
  assert.deepEqual(Array.from(got[0] as Float32Array), Array.from(ref[0] as Float32Array));
  assert.deepEqual(Array.from(got[0] as Float32Array), [1, -1, 1, -1, 1, 0, 0, 1, -1, 0]);
  // An FGSM step through a model with tiny weights: every input has a gradient ~1e-9, every one moves.
  const { gradientAscent } = await import('../attack/gradient-attack.js');
  const step = tf.tidy(() => {
    const w = tf.fill([6, 2], 1e-9).mul(tf.tensor2d([1, -1], [1, 2]));
    const f = (x: tf.Tensor): tf.Tensor2D => tf.matMul(tf.reshape(x, [-1, 6]), w);
    const x = tf.fill([1, 2, 3, 1], 0.5);
    const adv = gradientAscent(f, x, tf.tensor1d([0], 'int32'), { threat: { norm: 'linf', eps: 0.1 }, steps: 1, stepSize: 0.1, randomStart: false, loss: 'ce', targeted: false, seed: 1 });
    return Array.from(tf.sub(adv, x).dataSync() as Float32Array);
  });
  for (const d of step) assert.ok(Math.abs(Math.abs(d) - 0.1) < 1e-6, `every input moves by the step size, got ${step.join(', ')}`);
  await tf.setBackend('wasm');
});
