/**
 * The steps of the native network (./native-network.ts): one per layer call (a layer's activation may be
 * a step of its own), each a forward and a backward pass on plain Float32Arrays over alp's native
 * kernels, with the float32 operations and gradient masks of TF.js' own ops for that layer.
 */
import * as tf from '@tensorflow/tfjs';
import type { NativeApi } from './native-kernels.js';
import { avgPoolBackward, type PoolGeometry } from './avg-pool-grad.js';
import { activationBackward, activationForward, type Activation } from './native-activations.js';

const f32 = Math.fround;

/** `to` holding `from`'s values: `to` itself when it has the length, else a copy. */
function refill(to: Float32Array | null, from: Float32Array): Float32Array {
  if (to === null || to.length !== from.length) return Float32Array.from(from);
  to.set(from);
  return to;
}

/** Scratch buffers by key, reused across calls (fresh large arrays cost a page fault per 4 KiB). */
export class Buffers {
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
export interface Step {
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

export type Shape = number[];
export const sizeOf = (s: Shape): number => s.reduce((a, d) => a * d, 1);

/** The kernel's values, refreshed from the model at load(). */
export class Weight {
  value: Float32Array = new Float32Array(0);
  constructor(readonly v: tf.LayerVariable) {}
  load(): Float32Array {
    this.value = refill(this.value.length === 0 ? null : this.value, this.v.read().dataSync() as Float32Array);
    return this.value;
  }
}

export interface BnLayer {
  center: boolean;
  scale: boolean;
  axis: number | number[];
  epsilon: number;
  gamma?: tf.LayerVariable;
  beta?: tf.LayerVariable;
  movingMean: tf.LayerVariable;
  movingVariance: tf.LayerVariable;
}


// ---------------------------------------------------------------------------------------------------
// Steps

/** Conv2D (any stride, 'same'/'valid', dilation by a zero-dilated kernel) with bias and fused ReLU. */
export function convStep(native: NativeApi, layer: string, inputs: number[], out: number, info: tf.backend_util.Conv2DInfo, kernel: Weight, bias: Weight | null, relu: boolean): Step {
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
export function denseStep(native: NativeApi, layer: string, inputs: number[], out: number, K: number, N: number, rowsPerExample: number, kernel: Weight, bias: Weight | null, relu: boolean): Step {
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
export function depthwiseStep(native: NativeApi, layer: string, inputs: number[], out: number, info: tf.backend_util.Conv2DInfo, kernel: Weight, bias: Weight | null, relu: boolean): Step {
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
export function batchNormStep(native: NativeApi, layer: string, inputs: number[], out: number, size: number, C: number, bn: BnLayer): Step {
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

export function activationStep(native: NativeApi, layer: string, inputs: number[], out: number, size: number, act: Activation): Step {
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

export function identityStep(layer: string, inputs: number[], out: number, size: number): Step {
  return {
    layer, inputs, out, outSize: size, identity: true,
    forward() {},
    backward(dy) {
      return [dy];
    },
  };
}

export function addStep(layer: string, inputs: number[], out: number, size: number): Step {
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

export function multiplyStep(layer: string, inputs: number[], out: number, size: number): Step {
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
export function concatStep(layer: string, inputs: number[], out: number, size: number, outer: number, chunks: number[]): Step {
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

export function maxPoolStep(native: NativeApi, layer: string, inputs: number[], out: number, info: tf.backend_util.Conv2DInfo): Step {
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
export function avgPoolStep(layer: string, inputs: number[], out: number, info: tf.backend_util.Conv2DInfo): Step {
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
export function globalAvgStep(layer: string, inputs: number[], out: number, HW: number, C: number): Step {
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
export function globalMaxStep(layer: string, inputs: number[], out: number, HW: number, C: number): Step {
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

export function zeroPadStep(layer: string, inputs: number[], out: number, inShape: Shape, pads: [number, number, number, number]): Step {
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
