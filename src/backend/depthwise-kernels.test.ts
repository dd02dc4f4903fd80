import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { useBackend } from '../testing/setup.js';
import { Rng } from '../util/rng.js';

interface Case { x: [number, number, number, number]; w: [number, number, number, number]; stride: number; pad: 'same' | 'valid'; dilation: number }

// No dilated case: TF.js has no gradient for dilated depthwise convolutions on any backend (it throws).
const cases: Case[] = [
  { x: [2, 5, 5, 3], w: [3, 3, 3, 1], stride: 1, pad: 'same', dilation: 1 },
  { x: [1, 6, 6, 2], w: [3, 3, 2, 2], stride: 2, pad: 'same', dilation: 1 },
  { x: [2, 7, 6, 2], w: [2, 3, 2, 3], stride: 2, pad: 'valid', dilation: 1 },
];

function randoms(n: number, seed: number): Float32Array {
  const r = new Rng(seed);
  return Float32Array.from({ length: n }, () => r.next() * 2 - 1);
}

test("wasm depthwise-convolution gradients (alp's kernels) match the cpu backend: input and filter", async (t) => {
  if ((await useBackend()) !== 'wasm') {
    t.skip('wasm backend not available');
    return;
  }
  for (const [k, c] of cases.entries()) {
    const xs = randoms(c.x.reduce((a, b) => a * b), 40 + k);
    const ws = randoms(c.w.reduce((a, b) => a * b), 50 + k);
    const grads = async (backend: string): Promise<Float32Array[]> => {
      await tf.setBackend(backend);
      return tf.tidy(() => {
        const x = tf.tensor4d(xs, c.x), w = tf.tensor4d(ws, c.w);
        const f = (a: tf.Tensor, b: tf.Tensor): tf.Scalar => tf.sum(tf.square(tf.depthwiseConv2d(a as tf.Tensor4D, b as tf.Tensor4D, c.stride, c.pad, 'NHWC', c.dilation)));
        return tf.grads(f)([x, w]).map((g) => g.dataSync() as Float32Array);
      });
    };
    const ref = await grads('cpu');
    const got = await grads('wasm');
    ['dx', 'dW'].forEach((name, i) => {
      const a = ref[i] as Float32Array, b = got[i] as Float32Array;
      let err = 0, scale = 1e-6;
      for (let j = 0; j < a.length; j++) {
        err = Math.max(err, Math.abs((a[j] as number) - (b[j] as number)));
        scale = Math.max(scale, Math.abs(a[j] as number));
      }
      assert.ok(err / scale < 1e-5, `case ${k} ${name}: relative error ${err / scale}`);
    });
  }
  await tf.setBackend('wasm');
});
