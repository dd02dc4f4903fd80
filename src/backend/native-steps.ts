/**
 * The steps of the native network (./native-network.ts): one per layer call (a layer's activation may be
 * a step of its own), each a forward and a backward pass on plain Float32Arrays over alp's native
 * kernels, with the float32 operations and gradient masks of TF.js' own ops for that layer.
 */
import * as tf from '@tensorflow/tfjs';
import type { NativeApi } from './native-kernels.js';
import { avgPoolBackward, type PoolGeometry } from './avg-pool-grad.js';
import { activationBackward, activationForward, NATIVE_ACTIVATION_KINDS, type Activation } from './native-activations.js';

const f32 = Math.fround;

/** `to` holding `from`'s values: `to` itself when it has the length, else a copy. */
function refill(to: Float32Array | null, from: Float32Array): Float32Array {
  if (to === null || to.length !== from.length) return Float32Array.from(from);
  to.set(from);
  return to;
}

/**
 * Scratch buffers by key, reused across calls: a buffer of `size` values, a view of the largest one the
 * key has had. Fresh large arrays cost a page fault per 4 KiB on first touch, and training alternates
 * sizes every step (PGD on the batch, the weight step on [x; x'] twice its size): reallocating on each
 * change made ResNet-20's ALP step take 27% longer (bench/native-profile.mjs). Contents are whatever the last call left.
 */
export class Buffers {
  private readonly map = new Map<string, { store: Float32Array; view: Float32Array }>();
  get(key: string, size: number): Float32Array {
    let b = this.map.get(key);
    if (b === undefined || b.store.length < size) {
      const store = new Float32Array(size);
      b = { store, view: store };
      this.map.set(key, b);
    }
    if (b.view.length !== size) b.view = b.store.subarray(0, size);
    return b.view;
  }
}

/**
 * The weight gradients of one backward pass in training, by the model's variable: a layer called twice
 * (shared weights) adds both calls' gradients.
 */
export class WeightGrads {
  readonly map = new Map<tf.LayerVariable, Float32Array>();
  add(w: Weight, g: Float32Array): void {
    const prev = this.map.get(w.v);
    if (prev === undefined) this.map.set(w.v, Float32Array.from(g));
    else for (let i = 0; i < prev.length; i++) prev[i] = (prev[i] as number) + (g[i] as number);
  }
}

/**
 * One layer call: reads its input nodes' values, writes its output node's. `backward` returns, per
 * input, the gradient with respect to it (a step's own buffer, or `dy` itself for identities); it
 * never writes into `dy` or its inputs. In training (`training` true in the forward pass, `wg` given
 * to the backward pass), batch normalization runs on the batch's statistics and the steps with
 * weights add their weights' gradients to `wg`.
 */
export interface Step {
  readonly layer: string;
  readonly inputs: number[];
  readonly out: number;
  /** Values per example of the output. */
  readonly outSize: number;
  /** The output aliases the (single) input: nothing is computed. */
  readonly identity?: boolean;
  /** Why this step cannot run a training forward pass as TF.js does (a random noise layer), if it cannot. */
  readonly trainingRefusal?: string;
  load?(): void;
  forward(ins: Float32Array[], out: Float32Array, n: number, training?: boolean): void;
  backward(dy: Float32Array, ins: Float32Array[], out: Float32Array, n: number, buf: Buffers, wg?: WeightGrads | null): Float32Array[];
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
  momentum?: number;
  gamma?: tf.LayerVariable;
  beta?: tf.LayerVariable;
  movingMean: tf.LayerVariable;
  movingVariance: tf.LayerVariable;
}




export function activationStep(native: NativeApi, layer: string, inputs: number[], out: number, size: number, act: Activation): Step {
  const relu = act.name === 'relu';
  // relu6 and the ReLU layer's clip on the native kernels, with the masks activationBackward documents.
  const clip = act.name === 'relu6' ? 6 : act.name === 'relu-clip' ? act.cap : null;
  const kind = NATIVE_ACTIVATION_KINDS[act.name];
  return {
    layer, inputs, out, outSize: size,
    forward([x], o, n) {
      const xs = (x as Float32Array).subarray(0, n * size), os = o.subarray(0, n * size);
      if (clip !== null) return native.clamp(xs, n * size, 0, clip, os);
      if (kind !== undefined) return native.activation(kind, xs, n * size, os);
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
      else if (kind !== undefined) native.activationGrad(kind, dys, (x as Float32Array).subarray(0, n * size), o.subarray(0, n * size), n * size, dx.subarray(0, n * size));
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

/**
 * A Rescaling layer, y = x·scale + offset with scalar scale and offset, rounded as TF.js' add(mul(x, scale),
 * offset) rounds it; its gradient is dy·scale. (Audio models map the [0,1] box onto the waveform's [−1,1] with one.)
 */
export function rescaleStep(layer: string, inputs: number[], out: number, size: number, scale: number, offset: number): Step {
  const sc = Math.fround(scale), off = Math.fround(offset);
  return {
    layer, inputs, out, outSize: size,
    forward([x], o, n) {
      const xs = x as Float32Array;
      for (let i = 0; i < n * size; i++) o[i] = Math.fround((xs[i] as number) * sc) + off;
    },
    backward(dy, _ins, _o, n, buf) {
      const dx = buf.get(`${layer}:dx`, n * size);
      for (let i = 0; i < n * size; i++) dx[i] = (dy[i] as number) * sc;
      return [dx];
    },
  };
}

export function addStep(native: NativeApi, layer: string, inputs: number[], out: number, size: number): Step {
  return {
    layer, inputs, out, outSize: size,
    forward(ins, o, n) {
      // Pairwise in input order, as TF.js' Add, on the native kernel (a JS loop was 9% of ResNet-20's PGD step).
      const total = n * size, os = o.subarray(0, total);
      if (ins.length === 1) os.set((ins[0] as Float32Array).subarray(0, total));
      for (let k = 1; k < ins.length; k++) native.add(k === 1 ? (ins[0] as Float32Array).subarray(0, total) : os, (ins[k] as Float32Array).subarray(0, total), total, os);
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
      // Pairwise in input order, as TF.js' Multiply.
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
