/**
 * Inputs, labels and TF.js' own input gradient for the native network's equivalence tests (one copy for
 * native-network.test.ts and native-graph.test.ts).
 */
import * as tf from '@tensorflow/tfjs';
import { logitsOf } from '../model/classifier.js';
import { Rng } from '../util/rng.js';

/** n rows of `size` values like images: many exact zeros and ones, the rest in between. */
export function inputs(n: number, size: number, seed: number): Float32Array {
  const rng = new Rng(seed);
  return Float32Array.from({ length: n * size }, () => Math.min(1, Math.max(0, rng.next() * 1.6 - 0.3)));
}

export function labelsOf(n: number, k: number, seed: number): Int32Array {
  const rng = new Rng(seed);
  return Int32Array.from({ length: n }, () => rng.int(k));
}

/** Σ CE gradient with respect to the input, the way gradientAscent takes it, through TF.js (inference mode). */
export function tfGradient(model: tf.LayersModel, x: Float32Array, y: Int32Array, shape: number[]): Float32Array {
  return tf.tidy(() => {
    const f = logitsOf(model, false);
    const labels = tf.tensor1d(y, 'int32');
    const g = tf.grad((xa: tf.Tensor) => {
      const z = f(xa);
      return tf.sum(tf.neg(tf.sum(tf.mul(tf.logSoftmax(z), tf.oneHot(labels, z.shape[1])), -1)));
    })(tf.tensor(x, shape));
    return Float32Array.from(g.dataSync() as Float32Array);
  });
}

/** Σ CE of float32 logits, in float64 (the finite-difference checks' objective). */
export function crossEntropySum(z: Float32Array, y: Int32Array, K: number): number {
  let s = 0;
  for (let r = 0; r < y.length; r++) {
    let m = -Infinity;
    for (let j = 0; j < K; j++) m = Math.max(m, z[r * K + j] as number);
    let e = 0;
    for (let j = 0; j < K; j++) e += Math.exp((z[r * K + j] as number) - m);
    s += m + Math.log(e) - (z[r * K + (y[r] as number)] as number);
  }
  return s;
}
