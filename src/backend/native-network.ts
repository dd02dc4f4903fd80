/**
 * A classifier run directly on alp's native kernels, outside TF.js' engine: its forward pass and the
 * gradient of the summed cross-entropy with respect to its input, on plain Float32Arrays.
 *
 * It exists for the gradient attacks (training's PGD, and the attacks of eval/audit/detect through
 * attack/gradient-attack.ts): on small batches TF.js' bookkeeping per operation (the tape, a clone of
 * every tensor it saves for the backward pass, one kernel call per bias and activation) cost about as
 * much as the arithmetic (bench/README.md, "Profile"), and PGD pays it at every step.
 *
 * The model may be Sequential or functional (any DAG over its layers, one input, one output of logits);
 * the layers covered and how exact each is are listed in docs/native-network.md and checked in
 * native-network.test.ts. `nativeNetworkPlan` says, for any other model, which layer keeps it on TF.js.
 * BatchNormalization uses its moving (inference) statistics, as the attacks' `logitsOf(model, false)`.
 */
import * as tf from '@tensorflow/tfjs';
import type { NativeApi } from './native-kernels.js';
import { avgPoolBackward, type PoolGeometry } from './avg-pool-grad.js';
import { ACTIVATIONS, activationBackward, activationForward, type Activation } from './native-activations.js';

let api: NativeApi | null = null;
let off: string | null = 'the native addon is not loaded';

/** Called by backend/select.ts once the native addon is loaded; without it there is no native network. */
export function installNativeNetwork(native: NativeApi | null): void {
  if (process.env['ALP_NO_NATIVE_NETWORK'] === '1') {
    api = null;
    off = 'turned off by ALP_NO_NATIVE_NETWORK=1';
    return;
  }
  api = native;
  off = native === null ? 'the native addon is not loaded (kernels: see the header)' : null;
}

export interface NativeNetwork {
  /** Values per input example (H·W·C) and logits per example. */
  readonly inputSize: number;
  readonly classes: number;
  /** Reads the model's current weights; call before attacking a model that has been updated. */
  load(): void;
  /** Logits [n, classes] of n inputs (a buffer reused by the next call). */
  logits(x: Float32Array, n: number): Float32Array;
  /** ∇ₓ Σᵢ CE(f(xᵢ), yᵢ) for n inputs (a buffer reused by the next call). */
  inputGradient(x: Float32Array, labels: Int32Array, n: number): Float32Array;
  /**
   * ∇ₓ Σ_{i,j} dz[i,j]·f(xᵢ)ⱼ for n inputs: the input gradient of any objective of the logits, given
   * that objective's gradient `dz` [n, classes] with respect to them (a buffer reused by the next call).
   * The logits passed to it must be the latest `logits(x, n)` of the same x.
   */
  backward(dz: Float32Array, n: number): Float32Array;
}

/** Which path a model's gradients take, and why when it is TF.js. */
export type NativePlan = { net: NativeNetwork; reason: null } | { net: null; reason: string };

const f32 = Math.fround;

/** `to` holding `from`'s values: `to` itself when it has the length, else a copy. */
function refill(to: Float32Array | null, from: Float32Array): Float32Array {
  if (to === null || to.length !== from.length) return Float32Array.from(from);
  to.set(from);
  return to;
}

/** The backend's own exp or log of a few values: its float32 results can differ from Math's by an ulp. */
function backendUnary(op: 'exp' | 'log', v: Float32Array): Float32Array {
  // Not through tf.tidy: it would walk the returned array element by element.
  const t = tf.tensor1d(v);
  const r = op === 'exp' ? tf.exp(t) : tf.log(t);
  const out = Float32Array.from(r.dataSync() as Float32Array);
  t.dispose();
  r.dispose();
  return out;
}

/**
 * Σ CE gradient with respect to the logits, in the float32 operations TF.js' logSoftmax and its gradient
 * run: shifted = z − max z; value = shifted − log Σ exp(shifted) (summed in order); ∂ = exp(value) − onehot.
 * Exp and log are the backend's, so the values are TF.js' to the bit (these are n × classes values:
 * three small kernel calls, against dozens of ops on the tape).
 */
export function crossEntropyGradient(z: Float32Array, labels: Int32Array, n: number, K: number, out: Float32Array): void {
  const shifted = new Float32Array(n * K);
  for (let r = 0; r < n; r++) {
    const o = r * K;
    let mx = -Infinity;
    for (let j = 0; j < K; j++) mx = Math.max(mx, z[o + j] as number);
    for (let j = 0; j < K; j++) shifted[o + j] = (z[o + j] as number) - mx;
  }
  const e = backendUnary('exp', shifted);
  const sums = new Float32Array(n);
  for (let r = 0; r < n; r++) {
    let s = 0;
    for (let j = 0; j < K; j++) s = f32(s + (e[r * K + j] as number));
    sums[r] = s;
  }
  const logs = backendUnary('log', sums);
  const value = new Float32Array(n * K);
  for (let i = 0; i < n * K; i++) value[i] = (shifted[i] as number) - (logs[Math.floor(i / K)] as number);
  const soft = backendUnary('exp', value);
  for (let r = 0; r < n; r++) {
    const y = labels[r] as number;
    for (let j = 0; j < K; j++) out[r * K + j] = f32((soft[r * K + j] as number) - (j === y ? 1 : 0));
  }
}

/** Scratch buffers by key, reused across calls (fresh large arrays cost a page fault per 4 KiB). */
class Buffers {
  private readonly map = new Map<string, Float32Array>();
  get(key: string, size: number): Float32Array {
    let b = this.map.get(key);
    if (b === undefined || b.length !== size) {
      b = new Float32Array(size);
      this.map.set(key, b);
    }
    return b;
  }
}

/**
 * One layer call: reads its input nodes' values, writes its output node's. `backward` returns, per
 * input, the gradient with respect to it (a step's own buffer, or `dy` itself for identities); it
 * never writes into `dy` or its inputs.
 */
interface Step {
  readonly layer: string;
  readonly inputs: number[];
  readonly out: number;
  /** Values per example of the output. */
  readonly outSize: number;
  /** The output aliases the (single) input: nothing is computed. */
  readonly identity?: boolean;
  load?(): void;
  forward(ins: Float32Array[], out: Float32Array, n: number): void;
  backward(dy: Float32Array, ins: Float32Array[], out: Float32Array, n: number, buf: Buffers): Float32Array[];
}

type Shape = number[];
const sizeOf = (s: Shape): number => s.reduce((a, d) => a * d, 1);

/** The kernel's values, refreshed from the model at load(). */
class Weight {
  value: Float32Array = new Float32Array(0);
  constructor(readonly v: tf.LayerVariable) {}
  load(): Float32Array {
    this.value = refill(this.value.length === 0 ? null : this.value, this.v.read().dataSync() as Float32Array);
    return this.value;
  }
}

// ---------------------------------------------------------------------------------------------------
// Steps

/** Conv2D (any stride, 'same'/'valid', dilation by a zero-dilated kernel) with bias and fused ReLU. */
function convStep(native: NativeApi, layer: string, inputs: number[], out: number, info: tf.backend_util.Conv2DInfo, kernel: Weight, bias: Weight | null, relu: boolean): Step {
  const KH = info.effectiveFilterHeight, KW = info.effectiveFilterWidth;
  const dH = info.dilationHeight, dW = info.dilationWidth;
  const dilated = dH !== 1 || dW !== 1;
  let w: Float32Array = new Float32Array(0);
  const outSize = info.outHeight * info.outWidth * info.outChannels;
  const inSize = info.inHeight * info.inWidth * info.inChannels;
  return {
    layer, inputs, out, outSize,
    load() {
      const k = kernel.load();
      bias?.load();
      if (!dilated) {
        w = k;
        return;
      }
      // The kernel spread over its dilated extent with zeros between taps: the same sums (plus exact zeros).
      const Ci = info.inChannels, Co = info.outChannels;
      if (w.length !== KH * KW * Ci * Co) w = new Float32Array(KH * KW * Ci * Co);
      else w.fill(0);
      for (let ky = 0; ky < info.filterHeight; ky++) {
        for (let kx = 0; kx < info.filterWidth; kx++) {
          w.set(k.subarray((ky * info.filterWidth + kx) * Ci * Co, (ky * info.filterWidth + kx + 1) * Ci * Co), ((ky * dH) * KW + kx * dW) * Ci * Co);
        }
      }
    },
    forward([x], o, n) {
      native.conv2d(x as Float32Array, n, info.inHeight, info.inWidth, info.inChannels, w, KH, KW, info.outChannels, o,
        info.outHeight, info.outWidth, info.strideHeight, info.strideWidth, info.padInfo.top, info.padInfo.left, bias?.value ?? null, relu);
    },
    backward(dy, _ins, o, n, buf) {
      let g = dy;
      if (relu) {
        g = buf.get(`${layer}:relu`, n * outSize);
        // TF.js' ReLU gradient: dy · step(x), here on the output, which is positive exactly where x is.
        native.reluGrad(dy, o, g, n * outSize);
      }
      const dx = buf.get(`${layer}:dx`, n * inSize);
      native.conv2dBackpropInput(g, n, info.outHeight, info.outWidth, info.outChannels, w, KH, KW, info.inChannels, dx,
        info.inHeight, info.inWidth, info.strideHeight, info.strideWidth, info.padInfo.top, info.padInfo.left);
      return [dx];
    },
  };
}

/** Dense on the last axis (rows = everything before it), bias and fused ReLU. */
function denseStep(native: NativeApi, layer: string, inputs: number[], out: number, K: number, N: number, rowsPerExample: number, kernel: Weight, bias: Weight | null, relu: boolean): Step {
  const outSize = rowsPerExample * N;
  return {
    layer, inputs, out, outSize,
    load() {
      kernel.load();
      bias?.load();
    },
    forward([x], o, n) {
      const M = n * rowsPerExample;
      native.sgemm(false, false, M, N, K, x as Float32Array, kernel.value, o, false);
      if (bias !== null || relu) native.biasAct(o, M, N, bias?.value ?? null, relu);
    },
    backward(dy, _ins, o, n, buf) {
      const M = n * rowsPerExample;
      let g = dy;
      if (relu) {
        g = buf.get(`${layer}:relu`, M * N);
        native.reluGrad(dy, o, g, M * N);
      }
      const dx = buf.get(`${layer}:dx`, M * K);
      native.sgemm(false, true, M, K, N, g, kernel.value, dx, false);
      return [dx];
    },
  };
}

/** DepthwiseConv2D: output channel c·M + m is input channel c convolved with its own filter m (native loops, float32 sums). */
function depthwiseStep(native: NativeApi, layer: string, inputs: number[], out: number, info: tf.backend_util.Conv2DInfo, kernel: Weight, bias: Weight | null, relu: boolean): Step {
  const { inHeight: H, inWidth: W, inChannels: C, outHeight: OH, outWidth: OW, filterHeight: FH, filterWidth: FW } = info;
  const M = info.outChannels / C;
  const { strideHeight: sH, strideWidth: sW, dilationHeight: dH, dilationWidth: dW } = info;
  const top = info.padInfo.top, left = info.padInfo.left;
  const CM = C * M;
  const outSize = OH * OW * CM;
  const inSize = H * W * C;
  return {
    layer, inputs, out, outSize,
    load() {
      kernel.load();
      bias?.load();
    },
    forward([x], o, n) {
      native.depthwiseConv2d((x as Float32Array).subarray(0, n * inSize), n, H, W, C, kernel.value, FH, FW, M, o.subarray(0, n * outSize), OH, OW, sH, sW, dH, dW, top, left);
      if (bias !== null || relu) native.biasAct(o.subarray(0, n * outSize), n * OH * OW, CM, bias?.value ?? null, relu);
    },
    backward(dy, _ins, o, n, buf) {
      let g = dy;
      if (relu) {
        g = buf.get(`${layer}:relu`, n * outSize);
        native.reluGrad(dy, o, g, n * outSize);
      }
      const dx = buf.get(`${layer}:dx`, n * inSize);
      native.depthwiseConv2dBackpropInput(g, n, H, W, C, kernel.value, FH, FW, M, dx, OH, OW, sH, sW, dH, dW, top, left);
      return [dx];
    },
  };
}

/** BatchNormalization over the last axis with its moving statistics: y = (x − mean)·s + β, s = γ·rsqrt(var + ε). */
function batchNormStep(native: NativeApi, layer: string, inputs: number[], out: number, size: number, C: number, bn: BnLayer): Step {
  const mean = new Weight(bn.movingMean), variance = new Weight(bn.movingVariance);
  const gamma = bn.scale && bn.gamma !== undefined ? new Weight(bn.gamma) : null;
  const beta = bn.center && bn.beta !== undefined ? new Weight(bn.beta) : null;
  let inv: Float32Array = new Float32Array(C), scale: Float32Array = new Float32Array(C), shift: Float32Array = new Float32Array(C);
  return {
    layer, inputs, out, outSize: size,
    load() {
      const m = mean.load(), v = variance.load();
      // rsqrt(var + ε) by the backend, as TF.js' batchNorm and its gradient take it.
      inv = tf.tidy(() => Float32Array.from(tf.rsqrt(tf.add(tf.tensor1d(v), bn.epsilon)).dataSync() as Float32Array));
      const g = gamma?.load() ?? null, b = beta?.load() ?? null;
      scale = Float32Array.from(inv, (r, c) => (g === null ? r : f32(r * (g[c] as number))));
      shift = Float32Array.from(m, (_, c) => (b === null ? 0 : (b[c] as number)));
      if (m.length !== C) throw new RangeError(`${layer}: ${m.length} statistics for ${C} channels`);
    },
    forward([x], o, n) {
      const R = (n * size) / C;
      native.channelAffine((x as Float32Array).subarray(0, n * size), R, C, mean.value, scale, shift, o.subarray(0, n * size));
    },
    backward(dy, _ins, _o, n, buf) {
      const dx = buf.get(`${layer}:dx`, n * size);
      // TF.js' FusedBatchNorm gradient: (dy · rsqrt(var + ε)) · γ, each product rounded.
      native.channelScaleGrad(dy.subarray(0, n * size), (n * size) / C, C, inv, gamma?.value ?? null, dx);
      return [dx];
    },
  };
}

function activationStep(native: NativeApi, layer: string, inputs: number[], out: number, size: number, act: Activation): Step {
  const relu = act.name === 'relu';
  // relu6 and the ReLU layer's clip on the native kernels, with the masks activationBackward documents.
  const clip = act.name === 'relu6' ? 6 : act.name === 'relu-clip' ? act.cap : null;
  return {
    layer, inputs, out, outSize: size,
    forward([x], o, n) {
      const xs = (x as Float32Array).subarray(0, n * size), os = o.subarray(0, n * size);
      if (clip !== null) return native.clamp(xs, n * size, 0, clip, os);
      if (!relu) return activationForward(act, x as Float32Array, o, n * size);
      os.set(xs);
      native.biasAct(os, n, size, null, true);
    },
    backward(dy, [x], o, n, buf) {
      const dx = buf.get(`${layer}:dx`, n * size);
      const dys = dy.subarray(0, n * size);
      // ReLU: dy · step(x), TF.js' gradient (the output is positive exactly where x is).
      if (relu) native.reluGrad(dys, o.subarray(0, n * size), dx, n * size);
      else if (clip !== null) native.clampGrad(dys, (x as Float32Array).subarray(0, n * size), n * size, 0, clip, act.name === 'relu-clip', dx);
      else activationBackward(act, dy, x as Float32Array, o, dx, n * size);
      return [dx];
    },
  };
}

function identityStep(layer: string, inputs: number[], out: number, size: number): Step {
  return {
    layer, inputs, out, outSize: size, identity: true,
    forward() {},
    backward(dy) {
      return [dy];
    },
  };
}

function addStep(layer: string, inputs: number[], out: number, size: number): Step {
  return {
    layer, inputs, out, outSize: size,
    forward(ins, o, n) {
      const total = n * size;
      o.set((ins[0] as Float32Array).subarray(0, total));
      for (let k = 1; k < ins.length; k++) {
        const a = ins[k] as Float32Array;
        for (let i = 0; i < total; i++) o[i] = (o[i] as number) + (a[i] as number);
      }
    },
    backward(dy, ins) {
      return ins.map(() => dy);
    },
  };
}

function multiplyStep(layer: string, inputs: number[], out: number, size: number): Step {
  return {
    layer, inputs, out, outSize: size,
    forward(ins, o, n) {
      const total = n * size;
      o.set((ins[0] as Float32Array).subarray(0, total));
      for (let k = 1; k < ins.length; k++) {
        const a = ins[k] as Float32Array;
        for (let i = 0; i < total; i++) o[i] = (o[i] as number) * (a[i] as number);
      }
    },
    backward(dy, ins, _o, n, buf) {
      const total = n * size;
      // ∂/∂a_k = dy · Π_{j≠k} a_j, the product taken in input order (TF.js multiplies pairwise in that order).
      return ins.map((_, k) => {
        const d = buf.get(`${layer}:d${k}`, total);
        for (let i = 0; i < total; i++) {
          let p = 1;
          let first = true;
          for (let j = 0; j < ins.length; j++) {
            if (j === k) continue;
            const v = (ins[j] as Float32Array)[i] as number;
            p = first ? v : f32(p * v);
            first = false;
          }
          d[i] = (dy[i] as number) * p;
        }
        return d;
      });
    },
  };
}

/** Concatenate along an axis: `outer` blocks per example, input k contributing `chunks[k]` values per block. */
function concatStep(layer: string, inputs: number[], out: number, size: number, outer: number, chunks: number[]): Step {
  const block = chunks.reduce((a, b) => a + b, 0);
  return {
    layer, inputs, out, outSize: size,
    forward(ins, o, n) {
      const blocks = n * outer;
      let off = 0;
      ins.forEach((a, k) => {
        const ch = chunks[k] as number;
        for (let b = 0; b < blocks; b++) o.set((a as Float32Array).subarray(b * ch, (b + 1) * ch), b * block + off);
        off += ch;
      });
    },
    backward(dy, ins, _o, n, buf) {
      const blocks = n * outer;
      let off = 0;
      return ins.map((_, k) => {
        const ch = chunks[k] as number;
        const d = buf.get(`${layer}:d${k}`, blocks * ch);
        for (let b = 0; b < blocks; b++) d.set(dy.subarray(b * block + off, b * block + off + ch), b * ch);
        off += ch;
        return d;
      });
    },
  };
}

function maxPoolStep(native: NativeApi, layer: string, inputs: number[], out: number, info: tf.backend_util.Conv2DInfo): Step {
  const outSize = info.outHeight * info.outWidth * info.outChannels;
  const inSize = info.inHeight * info.inWidth * info.inChannels;
  return {
    layer, inputs, out, outSize,
    forward([x], o, n) {
      native.maxPool(x as Float32Array, n, info.inHeight, info.inWidth, info.inChannels, info.outHeight, info.outWidth, info.filterHeight, info.filterWidth,
        info.strideHeight, info.strideWidth, info.padInfo.top, info.padInfo.left, o);
    },
    backward(dy, [x], _o, n, buf) {
      const dx = buf.get(`${layer}:dx`, n * inSize);
      native.maxPoolGrad(dy, x as Float32Array, n, info.inHeight, info.inWidth, info.inChannels, info.outHeight, info.outWidth, info.filterHeight, info.filterWidth,
        info.strideHeight, info.strideWidth, info.padInfo.top, info.padInfo.left, dx);
      return [dx];
    },
  };
}

/** AveragePooling2D: each window's in-bounds cells summed in order and divided by their count, as TF.js; the gradient shares dy the same way. */
function avgPoolStep(layer: string, inputs: number[], out: number, info: tf.backend_util.Conv2DInfo): Step {
  const outSize = info.outHeight * info.outWidth * info.outChannels;
  const inSize = info.inHeight * info.inWidth * info.inChannels;
  const geom = (n: number): PoolGeometry => ({
    batch: n, inH: info.inHeight, inW: info.inWidth, channels: info.inChannels, outH: info.outHeight, outW: info.outWidth,
    filterH: info.filterHeight, filterW: info.filterWidth, strideH: info.strideHeight, strideW: info.strideWidth,
    padTop: info.padInfo.top, padLeft: info.padInfo.left,
  });
  return {
    layer, inputs, out, outSize,
    forward([x], o, n) {
      const xv = x as Float32Array;
      const { inHeight: H, inWidth: W, inChannels: C, outHeight: OH, outWidth: OW, filterHeight: FH, filterWidth: FW } = info;
      const acc = new Float32Array(C);
      for (let b = 0; b < n; b++) {
        for (let oy = 0; oy < OH; oy++) {
          const y0 = Math.max(oy * info.strideHeight - info.padInfo.top, 0), y1 = Math.min(oy * info.strideHeight - info.padInfo.top + FH, H);
          for (let ox = 0; ox < OW; ox++) {
            const x0 = Math.max(ox * info.strideWidth - info.padInfo.left, 0), x1 = Math.min(ox * info.strideWidth - info.padInfo.left + FW, W);
            acc.fill(0);
            for (let iy = y0; iy < y1; iy++) {
              for (let ix = x0; ix < x1; ix++) {
                const base = ((b * H + iy) * W + ix) * C;
                for (let c = 0; c < C; c++) acc[c] = (acc[c] as number) + (xv[base + c] as number);
              }
            }
            const count = Math.max((y1 - y0) * (x1 - x0), 1);
            const ob = ((b * OH + oy) * OW + ox) * C;
            for (let c = 0; c < C; c++) o[ob + c] = (acc[c] as number) / count;
          }
        }
      }
    },
    backward(dy, _ins, _o, n, buf) {
      const dx = buf.get(`${layer}:dx`, n * inSize);
      avgPoolBackward(dy, geom(n), dx);
      return [dx];
    },
  };
}

/** GlobalAveragePooling2D: the mean over H·W per channel (TF.js' mean: the sum, then divided by the count). */
function globalAvgStep(layer: string, inputs: number[], out: number, HW: number, C: number): Step {
  return {
    layer, inputs, out, outSize: C,
    forward([x], o, n) {
      const xv = x as Float32Array;
      const acc = new Float32Array(C);
      for (let b = 0; b < n; b++) {
        acc.fill(0);
        const base = b * HW * C;
        for (let p = 0; p < HW; p++) for (let c = 0; c < C; c++) acc[c] = (acc[c] as number) + (xv[base + p * C + c] as number);
        for (let c = 0; c < C; c++) o[b * C + c] = (acc[c] as number) / HW;
      }
    },
    backward(dy, _ins, _o, n, buf) {
      const dx = buf.get(`${layer}:dx`, n * HW * C);
      for (let b = 0; b < n; b++) {
        for (let c = 0; c < C; c++) {
          const g = f32((dy[b * C + c] as number) / HW);
          for (let p = 0; p < HW; p++) dx[(b * HW + p) * C + c] = g;
        }
      }
      return [dx];
    },
  };
}

/** GlobalMaxPooling2D: TF.js' max and its gradient, which every position equal to the max receives in full. */
function globalMaxStep(layer: string, inputs: number[], out: number, HW: number, C: number): Step {
  return {
    layer, inputs, out, outSize: C,
    forward([x], o, n) {
      const xv = x as Float32Array;
      for (let b = 0; b < n; b++) {
        for (let c = 0; c < C; c++) {
          let m = -Infinity;
          for (let p = 0; p < HW; p++) {
            const v = xv[(b * HW + p) * C + c] as number;
            if (v > m || Number.isNaN(v)) m = v;
          }
          o[b * C + c] = m;
        }
      }
    },
    backward(dy, [x], o, n, buf) {
      const xv = x as Float32Array;
      const dx = buf.get(`${layer}:dx`, n * HW * C);
      for (let b = 0; b < n; b++) {
        for (let p = 0; p < HW; p++) {
          for (let c = 0; c < C; c++) {
            const i = (b * HW + p) * C + c;
            dx[i] = xv[i] === o[b * C + c] ? (dy[b * C + c] as number) : 0;
          }
        }
      }
      return [dx];
    },
  };
}

function zeroPadStep(layer: string, inputs: number[], out: number, inShape: Shape, pads: [number, number, number, number]): Step {
  const [H, W, C] = inShape as [number, number, number];
  const [t, b, l, r] = pads;
  const OH = H + t + b, OW = W + l + r;
  return {
    layer, inputs, out, outSize: OH * OW * C,
    forward([x], o, n) {
      o.fill(0, 0, n * OH * OW * C);
      const xv = x as Float32Array;
      for (let e = 0; e < n; e++) {
        for (let y = 0; y < H; y++) o.set(xv.subarray(((e * H + y) * W) * C, ((e * H + y) * W + W) * C), ((e * OH + y + t) * OW + l) * C);
      }
    },
    backward(dy, _ins, _o, n, buf) {
      const dx = buf.get(`${layer}:dx`, n * H * W * C);
      for (let e = 0; e < n; e++) {
        for (let y = 0; y < H; y++) dx.set(dy.subarray(((e * OH + y + t) * OW + l) * C, ((e * OH + y + t) * OW + l + W) * C), ((e * H + y) * W) * C);
      }
      return [dx];
    },
  };
}

// ---------------------------------------------------------------------------------------------------
// The network

class Network implements NativeNetwork {
  private readonly buf = new Buffers();
  private acts: Float32Array[] = [];

  constructor(private readonly steps: Step[], private readonly nodes: number, readonly inputSize: number, readonly classes: number) {}

  load(): void {
    for (const s of this.steps) s.load?.();
  }

  private forward(x: Float32Array, n: number): Float32Array[] {
    if (x.length < n * this.inputSize) throw new RangeError(`native network: ${x.length} input values for ${n} examples of ${this.inputSize}`);
    const acts: Float32Array[] = new Array<Float32Array>(this.nodes);
    acts[0] = x;
    for (const s of this.steps) {
      const ins = s.inputs.map((i) => acts[i] as Float32Array);
      if (s.identity === true) {
        acts[s.out] = ins[0] as Float32Array;
        continue;
      }
      const out = this.buf.get(`a${s.out}`, n * s.outSize);
      s.forward(ins, out, n);
      acts[s.out] = out;
    }
    this.acts = acts;
    return acts;
  }

  logits(x: Float32Array, n: number): Float32Array {
    return this.forward(x, n)[this.nodes - 1] as Float32Array;
  }

  inputGradient(x: Float32Array, labels: Int32Array, n: number): Float32Array {
    const z = this.logits(x, n);
    const dz = this.buf.get('dz', n * this.classes);
    crossEntropyGradient(z, labels, n, this.classes, dz);
    return this.backward(dz, n);
  }

  backward(dz: Float32Array, n: number): Float32Array {
    const acts = this.acts;
    if ((acts[this.nodes - 1]?.length ?? 0) < n * this.classes) throw new Error('native network: backward() before logits() of the same batch');
    const grads: (Float32Array | undefined)[] = new Array<Float32Array | undefined>(this.nodes);
    // Whether grads[i] is node i's own accumulator (then it may be added into in place).
    const owned = new Uint8Array(this.nodes);
    grads[this.nodes - 1] = dz;
    for (let k = this.steps.length - 1; k >= 0; k--) {
      const s = this.steps[k] as Step;
      const dy = grads[s.out];
      if (dy === undefined) continue;
      const ins = s.inputs.map((i) => acts[i] as Float32Array);
      const parts = s.backward(dy, ins, acts[s.out] as Float32Array, n, this.buf);
      s.inputs.forEach((node, j) => {
        const g = parts[j] as Float32Array;
        const prev = grads[node];
        if (prev === undefined) {
          grads[node] = g;
          return;
        }
        // A node used by several layers: its gradient is the sum of theirs.
        let acc = prev;
        if (!owned[node]) {
          acc = this.buf.get(`g${node}`, prev.length);
          acc.set(prev);
          owned[node] = 1;
          grads[node] = acc;
        }
        for (let i = 0; i < acc.length; i++) acc[i] = (acc[i] as number) + (g[i] as number);
      });
    }
    const gx = grads[0];
    if (gx === undefined) return this.buf.get('g0zero', n * this.inputSize).fill(0);
    return gx;
  }
}

// ---------------------------------------------------------------------------------------------------
// Building the plan from a model

interface BnLayer {
  center: boolean;
  scale: boolean;
  axis: number | number[];
  epsilon: number;
  gamma?: tf.LayerVariable;
  beta?: tf.LayerVariable;
  movingMean: tf.LayerVariable;
  movingVariance: tf.LayerVariable;
}

type Sym = tf.SymbolicTensor & { sourceLayer: tf.layers.Layer; inputs: tf.SymbolicTensor[] };

class Unsupported extends Error {}

function refuse(layer: tf.layers.Layer, why: string): never {
  throw new Unsupported(`${layer.getClassName()} layer '${layer.name}': ${why}`);
}

function pair(v: unknown, fallback: number): [number, number] {
  if (v === undefined || v === null) return [fallback, fallback];
  if (typeof v === 'number') return [v, v];
  const a = v as number[];
  return [a[0] as number, (a[1] ?? a[0]) as number];
}

function weightOf(layer: tf.layers.Layer, suffix: string): tf.LayerVariable | null {
  const w = layer.weights.find((v) => v.originalName.endsWith(`/${suffix}`) || v.originalName === suffix);
  return w ?? null;
}

function activationOfConfig(layer: tf.layers.Layer, cfg: tf.serialization.ConfigDict): Activation {
  const a = cfg['activation'];
  const name = a === undefined || a === null ? 'linear' : String(a);
  const act = ACTIVATIONS[name];
  if (act === undefined) refuse(layer, `activation '${name}'`);
  return act;
}

function channelsLast(layer: tf.layers.Layer, cfg: tf.serialization.ConfigDict): void {
  const f = cfg['dataFormat'];
  if (f !== undefined && f !== null && f !== 'channelsLast') refuse(layer, `dataFormat '${String(f)}' (channelsLast only)`);
}

function padding(layer: tf.layers.Layer, cfg: tf.serialization.ConfigDict): 'same' | 'valid' {
  const p = cfg['padding'];
  if (p !== 'same' && p !== 'valid') refuse(layer, `padding '${String(p)}'`);
  return p;
}

function spatial(layer: tf.layers.Layer, s: Shape): [number, number, number] {
  if (s.length !== 3) refuse(layer, `input of rank ${s.length + 1} (expects [batch, H, W, C])`);
  return s as [number, number, number];
}

/**
 * The native network of a model, or why there is none: no native addon, several inputs or outputs, or
 * the first layer (in the order the model runs them) it does not cover, by class and name.
 */
export function nativeNetworkPlan(model: tf.LayersModel): NativePlan {
  const cached = plans.get(model);
  if (cached !== undefined && cached.api === api && cached.layers === model.layers.length) return cached.plan;
  const plan = planOf(model);
  plans.set(model, { api, layers: model.layers.length, plan });
  return plan;
}

/** One plan per model (and addon state): every attack on a model reuses its network and buffers. */
const plans = new WeakMap<tf.LayersModel, { api: NativeApi | null; layers: number; plan: NativePlan }>();

function planOf(model: tf.LayersModel): NativePlan {
  const native = api;
  if (native === null) return { net: null, reason: off ?? 'the native addon is not loaded' };
  if (model.inputs.length !== 1 || model.outputs.length !== 1) return { net: null, reason: `the model has ${model.inputs.length} inputs and ${model.outputs.length} outputs (one of each is covered)` };
  try {
    return { net: build(native, model), reason: null };
  } catch (e) {
    // Whatever goes wrong reading the model, TF.js still runs it.
    return { net: null, reason: e instanceof Unsupported ? e.message : `could not read the model (${e instanceof Error ? e.message : String(e)})` };
  }
}

/** The native network of a model, or null (then TF.js runs it, as always); `nativeNetworkPlan` says why. */
export function nativeNetworkOf(model: tf.LayersModel): NativeNetwork | null {
  return nativeNetworkPlan(model).net;
}

/** For result files: which path the model's attack gradients take, and why when it is TF.js. */
export interface NetworkPath { path: 'native' | 'tfjs'; reason: string | null }

export function networkPathOf(model: tf.LayersModel): NetworkPath {
  const plan = nativeNetworkPlan(model);
  return plan.net !== null ? { path: 'native', reason: null } : { path: 'tfjs', reason: plan.reason };
}

/** For headers: the same, in one line. */
export function networkPathLine(p: NetworkPath): string {
  return p.path === 'native'
    ? 'gradients: alp native network (ALP_NO_NATIVE_NETWORK=1 turns it off)'
    : `gradients: TF.js, not alp's native network: ${p.reason ?? ''}`;
}

function build(native: NativeApi, model: tf.LayersModel): Network {
  const input = model.inputs[0] as Sym;
  const output = model.outputs[0] as Sym;
  const inShape = input.shape.slice(1);
  if (inShape.some((d) => d === null)) throw new Unsupported(`the input shape [${input.shape.join(', ')}] is not fixed`);

  // Topological order of the symbolic tensors the output depends on (depth first, inputs before users).
  const order: Sym[] = [];
  const index = new Map<number, number>();
  const visiting = new Set<number>();
  const visit = (t: Sym): void => {
    if (index.has(t.id)) return;
    if (visiting.has(t.id)) throw new Unsupported('the model graph has a cycle');
    visiting.add(t.id);
    const layer = t.sourceLayer;
    const isInput = layer.getClassName() === 'InputLayer';
    if (isInput && t.id !== input.id) throw new Unsupported(`input layer '${layer.name}' is not the model's input`);
    if (!isInput) {
      if (t.inputs.length === 0) throw new Unsupported(`${layer.getClassName()} layer '${layer.name}' has no recorded inputs`);
      for (const i of t.inputs) visit(i as Sym);
    }
    visiting.delete(t.id);
    index.set(t.id, order.length);
    order.push(t);
  };
  if (input.sourceLayer.getClassName() !== 'InputLayer') throw new Unsupported('the model input is not an InputLayer');
  visit(input);
  visit(output);
  if (index.get(input.id) !== 0) throw new Unsupported('the model input is not the first node');

  const steps: Step[] = [];
  // Node ids for the values inside one layer (a pre-activation, a separable conv's depthwise output).
  let next = order.length;
  const shapeOf = (t: tf.SymbolicTensor): Shape => {
    const s = t.shape.slice(1);
    if (s.some((d) => d === null)) throw new Unsupported(`tensor '${t.name}' has an unknown shape`);
    return s as number[];
  };
  for (let k = 1; k < order.length; k++) {
    const t = order[k] as Sym;
    const layer = t.sourceLayer;
    const ins = t.inputs.map((i) => index.get(i.id) as number);
    const inShapes = t.inputs.map(shapeOf);
    const outShape = shapeOf(t);
    const outSize = sizeOf(outShape);
    steps.push(...stepsOf(native, layer, ins, k, inShapes, outShape, outSize, () => next++));
  }
  const outShape = shapeOf(output);
  if (outShape.length !== 1) throw new Unsupported(`the output has shape [${output.shape.join(', ')}] (logits [batch, classes] expected)`);
  return renumber(steps, sizeOf(inShape as number[]), outShape[0] as number);
}

/** Node ids in step order (input 0, the output last), so that the arrays are dense. */
function renumber(steps: Step[], inputSize: number, classes: number): Network {
  const map = new Map<number, number>([[0, 0]]);
  const last = steps[steps.length - 1];
  if (last === undefined) throw new Unsupported('the model has no layers');
  const finalNode = last.out;
  const remapped = steps.map((s) => {
    const inputs = s.inputs.map((i) => {
      const m = map.get(i);
      if (m === undefined) throw new Unsupported('internal: a layer reads a node computed after it');
      return m;
    });
    map.set(s.out, map.size);
    return { ...s, inputs, out: map.get(s.out) as number, load: s.load, forward: s.forward, backward: s.backward } as Step;
  });
  if (map.get(finalNode) !== map.size - 1) throw new Unsupported('internal: the output is not the last node');
  return new Network(remapped, map.size, inputSize, classes);
}

/** The steps one layer call becomes: its main operation, then its activation when that is not fused. */
function stepsOf(native: NativeApi, layer: tf.layers.Layer, ins: number[], out: number, inShapes: Shape[], outShape: Shape, outSize: number, fresh: () => number): Step[] {
  const cls = layer.getClassName();
  const cfg = layer.getConfig();
  // Unique per call: a layer called twice (shared weights) is two steps with their own buffers.
  const name = `${layer.name}@${out}`;
  if (layer.weights.some((w) => w.dtype !== 'float32')) refuse(layer, 'non-float32 weights');
  const one = (): Shape => {
    if (inShapes.length !== 1) refuse(layer, `${inShapes.length} inputs`);
    return inShapes[0] as Shape;
  };
  /** The main step into a fresh node, then the activation into `out` (relu is fused by the caller). */
  const withActivation = (act: Activation, main: (to: number) => Step): Step[] => {
    if (act.name === 'linear') return [main(out)];
    const mid = fresh();
    return [main(mid), activationStep(native, `${name}:${act.name}`, [mid], out, outSize, act)];
  };
  switch (cls) {
    case 'Dropout':
    case 'SpatialDropout1D':
    case 'GaussianNoise':
    case 'GaussianDropout':
    case 'AlphaDropout':
    case 'Flatten':
    case 'Reshape': {
      // Inference: the noise layers are identities; reshapes keep NHWC's row-major order.
      const s = one();
      if (cls === 'Flatten' && cfg['dataFormat'] === 'channelsFirst') refuse(layer, "dataFormat 'channelsFirst'");
      if (sizeOf(s) !== outSize) refuse(layer, 'changes the number of values');
      return [identityStep(name, ins, out, outSize)];
    }
    case 'Activation': {
      const act = activationOfConfig(layer, cfg);
      return [act.name === 'linear' ? identityStep(name, ins, out, outSize) : activationStep(native, name, ins, out, outSize, act)];
    }
    case 'ReLU': {
      const max = cfg['maxValue'];
      const act = max === undefined || max === null ? (ACTIVATIONS['relu'] as Activation) : { ...(ACTIVATIONS['relu-clip'] as Activation), cap: Number(max) };
      return [activationStep(native, name, ins, out, outSize, act)];
    }
    case 'LeakyReLU': {
      const alpha = Number(cfg['alpha'] ?? 0.3);
      return [activationStep(native, name, ins, out, outSize, { ...(ACTIVATIONS['leaky'] as Activation), alpha })];
    }
    case 'ELU': {
      if (Number(cfg['alpha'] ?? 1) !== 1) refuse(layer, 'alpha other than 1');
      return [activationStep(native, name, ins, out, outSize, ACTIVATIONS['elu'] as Activation)];
    }
    case 'Conv2D':
    case 'DepthwiseConv2D':
    case 'SeparableConv2D': {
      const s = spatial(layer, one());
      channelsLast(layer, cfg);
      const pad = padding(layer, cfg);
      const act = activationOfConfig(layer, cfg);
      const relu = act.name === 'relu';
      const fused = relu ? (ACTIVATIONS['linear'] as Activation) : act;
      const strides = pair(cfg['strides'], 1), dil = pair(cfg['dilationRate'], 1);
      if (cfg['groups'] !== undefined && cfg['groups'] !== null && cfg['groups'] !== 1) refuse(layer, `groups ${String(cfg['groups'])}`);
      const bias = cfg['useBias'] === false ? null : weightOf(layer, 'bias');
      if (cfg['useBias'] !== false && bias === null) refuse(layer, 'no bias weight found');
      const b = bias === null ? null : new Weight(bias);
      if (cls === 'Conv2D') {
        const kernel = weightOf(layer, 'kernel');
        if (kernel === null || layer.weights.length !== (b === null ? 1 : 2)) refuse(layer, 'unexpected weights');
        const info = tf.backend_util.computeConv2DInfo([1, ...s], kernel.shape as [number, number, number, number], strides, dil, pad, undefined, false, 'channelsLast');
        return withActivation(fused, (to) => convStep(native, name, ins, to, info, new Weight(kernel), b, relu));
      }
      const dk = weightOf(layer, 'depthwise_kernel');
      if (dk === null) refuse(layer, 'no depthwise_kernel weight found');
      const dInfo = tf.backend_util.computeConv2DInfo([1, ...s], dk.shape as [number, number, number, number], strides, dil, pad, undefined, true, 'channelsLast');
      if (cls === 'DepthwiseConv2D') {
        // tfjs-layers 4.22 computes this layer without its dilation (its call passes none): not a model to reproduce.
        if (dil[0] !== 1 || dil[1] !== 1) refuse(layer, 'dilationRate (tfjs-layers ignores it in DepthwiseConv2D)');
        if (layer.weights.length !== (b === null ? 1 : 2)) refuse(layer, 'unexpected weights');
        return withActivation(fused, (to) => depthwiseStep(native, name, ins, to, dInfo, new Weight(dk), b, relu));
      }
      const pk = weightOf(layer, 'pointwise_kernel');
      if (pk === null || layer.weights.length !== (b === null ? 2 : 3)) refuse(layer, 'unexpected weights');
      const mid = fresh();
      const pInfo = tf.backend_util.computeConv2DInfo([1, dInfo.outHeight, dInfo.outWidth, dInfo.outChannels], pk.shape as [number, number, number, number], 1, 1, 'valid', undefined, false, 'channelsLast');
      return [
        depthwiseStep(native, `${name}:depthwise`, ins, mid, dInfo, new Weight(dk), null, false),
        ...withActivation(fused, (to) => convStep(native, `${name}:pointwise`, [mid], to, pInfo, new Weight(pk), b, relu)),
      ];
    }
    case 'Dense': {
      const s = one();
      const act = activationOfConfig(layer, cfg);
      const relu = act.name === 'relu';
      const kernel = weightOf(layer, 'kernel');
      const bias = cfg['useBias'] === false ? null : weightOf(layer, 'bias');
      if (kernel === null || layer.weights.length !== (bias === null ? 1 : 2)) refuse(layer, 'unexpected weights');
      const [K, N] = kernel.shape as [number, number];
      if (s[s.length - 1] !== K) refuse(layer, `input's last axis ${s[s.length - 1]} for a kernel of ${K} rows`);
      const rows = sizeOf(s) / K;
      return withActivation(relu ? (ACTIVATIONS['linear'] as Activation) : act, (to) => denseStep(native, name, ins, to, K, N, rows, new Weight(kernel), bias === null ? null : new Weight(bias), relu));
    }
    case 'BatchNormalization': {
      const s = one();
      const bn = layer as unknown as BnLayer;
      const axis = Array.isArray(bn.axis) ? bn.axis : [bn.axis];
      if (axis.length !== 1 || !(axis[0] === -1 || axis[0] === s.length)) refuse(layer, `axis ${JSON.stringify(bn.axis)} (the last axis only)`);
      return [batchNormStep(native, name, ins, out, outSize, s[s.length - 1] as number, bn)];
    }
    case 'Add':
    case 'Multiply': {
      if (inShapes.some((sh) => sizeOf(sh) !== outSize)) refuse(layer, 'inputs of different shapes (broadcasting)');
      return [cls === 'Add' ? addStep(name, ins, out, outSize) : multiplyStep(name, ins, out, outSize)];
    }
    case 'Concatenate': {
      const rank = outShape.length;
      let axis = Number(cfg['axis'] ?? -1);
      axis = axis < 0 ? axis + rank + 1 : axis; // with the batch axis
      if (axis < 1 || axis > rank) refuse(layer, `axis ${String(cfg['axis'])}`);
      const outer = sizeOf(outShape.slice(0, axis - 1));
      const chunks = inShapes.map((sh) => sizeOf(sh.slice(axis - 1)));
      return [concatStep(name, ins, out, outSize, outer, chunks)];
    }
    case 'MaxPooling2D':
    case 'AveragePooling2D': {
      const s = spatial(layer, one());
      channelsLast(layer, cfg);
      const pad = padding(layer, cfg);
      const pool = pair(cfg['poolSize'], 2);
      const strides = cfg['strides'] === undefined || cfg['strides'] === null ? pool : pair(cfg['strides'], 1);
      const info = tf.backend_util.computePool2DInfo([1, ...s], pool, strides, 1, pad);
      return [cls === 'MaxPooling2D' ? maxPoolStep(native, name, ins, out, info) : avgPoolStep(name, ins, out, info)];
    }
    case 'GlobalAveragePooling2D':
    case 'GlobalMaxPooling2D': {
      const [H, W, C] = spatial(layer, one());
      channelsLast(layer, cfg);
      return [cls === 'GlobalAveragePooling2D' ? globalAvgStep(name, ins, out, H * W, C) : globalMaxStep(name, ins, out, H * W, C)];
    }
    case 'ZeroPadding2D': {
      const s = spatial(layer, one());
      channelsLast(layer, cfg);
      const p = cfg['padding'];
      let pads: [number, number, number, number];
      if (typeof p === 'number') pads = [p, p, p, p];
      else if (Array.isArray(p) && typeof p[0] === 'number') pads = [p[0], p[0], p[1] as number, p[1] as number];
      else if (Array.isArray(p)) {
        const [[t, b], [l, r]] = p as [[number, number], [number, number]];
        pads = [t, b, l, r];
      } else refuse(layer, `padding ${JSON.stringify(p)}`);
      return [zeroPadStep(name, ins, out, s, pads)];
    }
    default:
      refuse(layer, 'not covered by the native network');
  }
}
