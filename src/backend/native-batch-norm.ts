/**
 * BatchNormalization on the native network (./native-steps.ts): inference on the moving statistics,
 * and training on the batch's, with the moving averages updated as tfjs-layers does.
 */
import * as tf from '@tensorflow/tfjs';
import type { NativeApi } from './native-kernels.js';
import { Weight, type BnLayer, type Step } from './native-steps.js';

const f32 = Math.fround;

/** rsqrt(v + ε) by the backend, as TF.js' batchNorm and its gradient take it. */
function rsqrtPlus(v: Float32Array, eps: number): Float32Array {
  return tf.tidy(() => Float32Array.from(tf.rsqrt(tf.add(tf.tensor1d(v), eps)).dataSync() as Float32Array));
}

/**
 * tfjs-layers' moving average: v ← v − (v − batch)·(1 − momentum), each operation rounded to float32,
 * written into the model's variable (as its training call does, during the forward pass).
 */
export function movingAverage(w: Weight, batch: Float32Array, momentum: number): void {
  const old = w.v.read().dataSync() as Float32Array;
  const decay = f32(1 - momentum);
  const next = Float32Array.from(old, (v, c) => f32(v - f32(f32(v - (batch[c] as number)) * decay)));
  const t = tf.tensor(next, w.v.shape as number[]);
  w.v.write(t);
  t.dispose();
}

/**
 * BatchNormalization over the last axis: y = (x − mean)·s + β, s = γ·rsqrt(var + ε). At inference on
 * the moving statistics; in training on the batch's (mean and biased variance over every axis but the
 * last, as tf.moments), with the moving statistics updated from them and the gradient taken through them.
 */
export function batchNormStep(native: NativeApi, layer: string, inputs: number[], out: number, size: number, C: number, bn: BnLayer): Step {
  const mean = new Weight(bn.movingMean), variance = new Weight(bn.movingVariance);
  const gamma = bn.scale && bn.gamma !== undefined ? new Weight(bn.gamma) : null;
  const beta = bn.center && bn.beta !== undefined ? new Weight(bn.beta) : null;
  let inv: Float32Array = new Float32Array(C), scale: Float32Array = new Float32Array(C), shift: Float32Array = new Float32Array(C);
  // The last training forward pass's batch statistics, for its backward pass.
  let trained = false;
  const bMean = new Float32Array(C), bVar = new Float32Array(C);
  let bInv: Float32Array = new Float32Array(C);
  const momentum = bn.momentum ?? 0.99;
  return {
    layer, inputs, out, outSize: size,
    load() {
      const m = mean.load(), v = variance.load();
      // rsqrt(var + ε) by the backend, as TF.js' batchNorm and its gradient take it.
      inv = rsqrtPlus(v, bn.epsilon);
      const g = gamma?.load() ?? null, b = beta?.load() ?? null;
      scale = Float32Array.from(inv, (r, c) => (g === null ? r : f32(r * (g[c] as number))));
      shift = Float32Array.from(m, (_, c) => (b === null ? 0 : (b[c] as number)));
      if (m.length !== C) throw new RangeError(`${layer}: ${m.length} statistics for ${C} channels`);
    },
    forward([x], o, n, training) {
      const R = (n * size) / C;
      const xs = (x as Float32Array).subarray(0, n * size);
      trained = training === true;
      if (!trained) {
        native.channelAffine(xs, R, C, mean.value, scale, shift, o.subarray(0, n * size));
        return;
      }
      native.batchMoments(xs, R, C, bMean, bVar);
      bInv = rsqrtPlus(bVar, bn.epsilon);
      const g = gamma?.load() ?? null, b = beta?.load() ?? null;
      const bScale = Float32Array.from(bInv, (r, c) => (g === null ? r : f32(r * (g[c] as number))));
      native.channelAffine(xs, R, C, bMean, bScale, b ?? new Float32Array(C), o.subarray(0, n * size));
      movingAverage(mean, bMean, momentum);
      movingAverage(variance, bVar, momentum);
    },
    backward(dy, [x], _o, n, buf, wg) {
      if (trained) {
        const total = n * size, dx = buf.get(`${layer}:dx`, total);
        const sumDy = buf.get(`${layer}:dbeta`, C), sumDyXh = buf.get(`${layer}:dgamma`, C);
        native.batchNormTrainGrad(dy.subarray(0, total), (x as Float32Array).subarray(0, total), total / C, C, bMean, bInv, gamma?.value ?? null, dx, sumDy, sumDyXh);
        if (wg !== undefined && wg !== null) {
          if (gamma !== null) wg.add(gamma, sumDyXh);
          if (beta !== null) wg.add(beta, sumDy);
        }
        return [dx];
      }
      const dx = buf.get(`${layer}:dx`, n * size);
      // TF.js' FusedBatchNorm gradient: (dy · rsqrt(var + ε)) · γ, each product rounded.
      native.channelScaleGrad(dy.subarray(0, n * size), (n * size) / C, C, inv, gamma?.value ?? null, dx);
      return [dx];
    },
  };
}
