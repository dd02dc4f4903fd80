/**
 * BatchNormalization on the native network (./native-steps.ts): inference on the moving statistics,
 * and training on the batch's, with the moving averages updated as tfjs-layers does.
 */
import * as tf from '@tensorflow/tfjs';
import type { NativeApi } from './native-kernels.js';
import { Weight, type BnLayer, type Step, type WeightGrads } from './native-steps.js';

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
      batchMoments(xs, R, C, bMean, bVar);
      bInv = rsqrtPlus(bVar, bn.epsilon);
      const g = gamma?.load() ?? null, b = beta?.load() ?? null;
      const bScale = Float32Array.from(bInv, (r, c) => (g === null ? r : f32(r * (g[c] as number))));
      native.channelAffine(xs, R, C, bMean, bScale, b ?? new Float32Array(C), o.subarray(0, n * size));
      movingAverage(mean, bMean, momentum);
      movingAverage(variance, bVar, momentum);
    },
    backward(dy, [x], _o, n, buf, wg) {
      if (trained) return [trainingBackward(dy, x as Float32Array, n * size, C, bMean, bInv, gamma, beta, buf.get(`${layer}:dx`, n * size), wg ?? null)];
      const dx = buf.get(`${layer}:dx`, n * size);
      // TF.js' FusedBatchNorm gradient: (dy · rsqrt(var + ε)) · γ, each product rounded.
      native.channelScaleGrad(dy.subarray(0, n * size), (n * size) / C, C, inv, gamma?.value ?? null, dx);
      return [dx];
    },
  };
}

/** Per channel of x [R, C]: the mean, then the mean of the rounded squared deviations (tf.moments), sums in float64. */
function batchMoments(x: Float32Array, R: number, C: number, mean: Float32Array, variance: Float32Array): void {
  const acc = new Float64Array(C);
  for (let r = 0; r < R; r++) for (let c = 0; c < C; c++) acc[c] = (acc[c] as number) + (x[r * C + c] as number);
  for (let c = 0; c < C; c++) mean[c] = (acc[c] as number) / R;
  acc.fill(0);
  for (let r = 0; r < R; r++) {
    for (let c = 0; c < C; c++) {
      const d = f32((x[r * C + c] as number) - (mean[c] as number));
      acc[c] = (acc[c] as number) + f32(d * d);
    }
  }
  for (let c = 0; c < C; c++) variance[c] = (acc[c] as number) / R;
}

/**
 * The gradient through batch statistics: with x̂ = (x − μ)·inv, dβ = Σ dy, dγ = Σ dy·x̂ and
 * dx = γ·inv·(dy − dβ/R − x̂·dγ/R), in float64 and rounded once (TF.js differentiates moments and
 * batchNorm op by op: the results agree within float32 rounding).
 */
function trainingBackward(dy: Float32Array, x: Float32Array, total: number, C: number, mu: Float32Array, inv: Float32Array,
  gamma: Weight | null, beta: Weight | null, dx: Float32Array, wg: WeightGrads | null): Float32Array {
  const R = total / C;
  const sumDy = new Float64Array(C), sumDyXh = new Float64Array(C);
  for (let r = 0; r < R; r++) {
    for (let c = 0; c < C; c++) {
      const i = r * C + c;
      const g = dy[i] as number;
      sumDy[c] = (sumDy[c] as number) + g;
      sumDyXh[c] = (sumDyXh[c] as number) + g * ((x[i] as number) - (mu[c] as number)) * (inv[c] as number);
    }
  }
  const k = Float64Array.from(inv, (v, c) => v * (gamma === null ? 1 : (gamma.value[c] as number)));
  for (let r = 0; r < R; r++) {
    for (let c = 0; c < C; c++) {
      const i = r * C + c;
      const xh = ((x[i] as number) - (mu[c] as number)) * (inv[c] as number);
      dx[i] = (k[c] as number) * ((dy[i] as number) - (sumDy[c] as number) / R - xh * (sumDyXh[c] as number) / R);
    }
  }
  if (wg !== null) {
    if (gamma !== null) wg.add(gamma, Float32Array.from(sumDyXh));
    if (beta !== null) wg.add(beta, Float32Array.from(sumDy));
  }
  return dx;
}
