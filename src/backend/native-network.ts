/**
 * A Sequential classifier run directly on alp's native kernels, outside TF.js' engine: its forward
 * pass and the gradient of the summed cross-entropy with respect to its input, on plain Float32Arrays.
 *
 * It exists for the attack inside adversarial training. On the shares that data-parallel training
 * gives each worker (32 examples of the demo's fast-cnn), TF.js' bookkeeping per operation (the tape,
 * a clone of every tensor it saves for the backward pass, one kernel call per bias and activation)
 * cost about as much as the arithmetic (bench/README.md, "Profile"), and PGD pays it at every one of
 * its steps. Here the same native kernels run the same float32 operations in the same order, so the
 * gradient is the one TF.js computes, bit for bit on the models tested (native-network.test.ts).
 *
 * Only what it can run exactly is covered: Conv2D (NHWC, no dilation) and Dense layers with a linear or
 * ReLU activation, MaxPooling2D, Flatten, Dropout (inference: identity) and Activation('relu' | 'linear'),
 * ending in a Dense layer that outputs logits.
 * `nativeNetworkOf` returns null for anything else, and the caller stays on TF.js.
 */
import * as tf from '@tensorflow/tfjs';
import type { NativeApi } from './native-kernels.js';
import { convInfo } from './wasm-kernels.js';

type Conv = {
  kind: 'conv'; relu: boolean; kernel: tf.LayerVariable; bias: tf.LayerVariable | null;
  info: tf.backend_util.Conv2DInfo; w: Float32Array; b: Float32Array | null; outSize: number;
};
type Dense = { kind: 'dense'; relu: boolean; kernel: tf.LayerVariable; bias: tf.LayerVariable | null; K: number; N: number; w: Float32Array; b: Float32Array | null; outSize: number };
type Act = { kind: 'relu'; outSize: number };
type Pool = { kind: 'pool'; info: tf.backend_util.Conv2DInfo; outSize: number };
type Step = Conv | Dense | Act | Pool;

let api: NativeApi | null = null;

/** Called by backend/select.ts once the native addon is loaded; without it there is no native network. */
export function installNativeNetwork(native: NativeApi | null): void {
  api = process.env['ALP_NO_NATIVE_NETWORK'] === '1' ? null : native;
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
}

function activationOf(cfg: tf.serialization.ConfigDict): 'relu' | 'linear' | null {
  const a = cfg['activation'];
  if (a === 'relu') return 'relu';
  return a === 'linear' || a === undefined || a === null ? 'linear' : null;
}

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
function crossEntropyGradient(z: Float32Array, labels: Int32Array, n: number, K: number, out: Float32Array): void {
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

class Network implements NativeNetwork {
  private readonly buffers = new Map<string, Float32Array>();

  constructor(private readonly native: NativeApi, private readonly steps: Step[], readonly inputSize: number, readonly classes: number) {}

  load(): void {
    for (const s of this.steps) {
      if (s.kind === 'relu' || s.kind === 'pool') continue;
      // Into the same arrays every time: fresh large arrays cost a page fault per 4 KiB on first touch.
      s.w = refill(s.w, s.kernel.read().dataSync() as Float32Array);
      s.b = s.bias === null ? null : refill(s.b, s.bias.read().dataSync() as Float32Array);
    }
  }

  private buffer(key: string, size: number): Float32Array {
    let b = this.buffers.get(key);
    if (b === undefined || b.length !== size) {
      b = new Float32Array(size);
      this.buffers.set(key, b);
    }
    return b;
  }

  /** Every step's output, the input first. */
  private forward(x: Float32Array, n: number): Float32Array[] {
    if (x.length < n * this.inputSize) throw new RangeError(`native network: ${x.length} input values for ${n} examples of ${this.inputSize}`);
    const acts = [x];
    let h = x;
    this.steps.forEach((s, i) => {
      const out = this.buffer(`a${i}`, n * s.outSize);
      if (s.kind === 'conv') {
        const f = s.info;
        this.native.conv2d(h, n, f.inHeight, f.inWidth, f.inChannels, s.w, f.filterHeight, f.filterWidth, f.outChannels, out,
          f.outHeight, f.outWidth, f.strideHeight, f.strideWidth, f.padInfo.top, f.padInfo.left, s.b, s.relu);
      } else if (s.kind === 'dense') {
        this.native.sgemm(false, false, n, s.N, s.K, h, s.w, out, false);
        if (s.b !== null || s.relu) this.native.biasAct(out, n, s.N, s.b, s.relu);
      } else if (s.kind === 'pool') {
        const f = s.info;
        this.native.maxPool(h, n, f.inHeight, f.inWidth, f.inChannels, f.outHeight, f.outWidth, f.filterHeight, f.filterWidth,
          f.strideHeight, f.strideWidth, f.padInfo.top, f.padInfo.left, out);
      } else {
        out.set(h.subarray(0, n * s.outSize));
        this.native.biasAct(out, n, s.outSize, null, true);
      }
      acts.push(out);
      h = out;
    });
    return acts;
  }

  logits(x: Float32Array, n: number): Float32Array {
    return this.forward(x, n)[this.steps.length] as Float32Array;
  }

  inputGradient(x: Float32Array, labels: Int32Array, n: number): Float32Array {
    const acts = this.forward(x, n);
    let dy = this.buffer('g', n * this.classes);
    crossEntropyGradient(acts[this.steps.length] as Float32Array, labels, n, this.classes, dy);
    for (let i = this.steps.length - 1; i >= 0; i--) {
      const s = this.steps[i] as Step;
      const out = acts[i + 1] as Float32Array;
      // TF.js' ReLU gradient: dy · step(x), here on the output, which is positive exactly where x is.
      if (s.kind === 'relu' || (s.kind !== 'pool' && s.relu)) this.native.reluGrad(dy, out, dy, n * s.outSize);
      if (s.kind === 'relu') continue;
      const inSize = i === 0 ? this.inputSize : (this.steps[i - 1] as Step).outSize;
      const dx = this.buffer(`d${i}`, n * inSize);
      if (s.kind === 'dense') this.native.sgemm(false, true, n, s.K, s.N, dy, s.w, dx, false);
      else if (s.kind === 'pool') {
        const f = s.info;
        this.native.maxPoolGrad(dy, acts[i] as Float32Array, n, f.inHeight, f.inWidth, f.inChannels, f.outHeight, f.outWidth, f.filterHeight, f.filterWidth,
          f.strideHeight, f.strideWidth, f.padInfo.top, f.padInfo.left, dx);
      } else {
        const f = s.info;
        this.native.conv2dBackpropInput(dy, n, f.outHeight, f.outWidth, f.outChannels, s.w, f.filterHeight, f.filterWidth, f.inChannels, dx,
          f.inHeight, f.inWidth, f.strideHeight, f.strideWidth, f.padInfo.top, f.padInfo.left);
      }
      dy = dx;
    }
    return dy;
  }
}

/**
 * The native network of a model, or null: no native addon, not a Sequential model, or a layer or
 * setting it does not run exactly (then TF.js runs the model, as always).
 */
export function nativeNetworkOf(model: tf.LayersModel): NativeNetwork | null {
  if (api === null || model.getClassName() !== 'Sequential' || model.inputs.length !== 1 || model.outputs.length !== 1) return null;
  let shape = (model.inputs[0] as tf.SymbolicTensor).shape.slice(1);
  if (shape.some((d) => d === null)) return null;
  const size = (s: (number | null)[]): number => s.reduce<number>((a, d) => a * (d as number), 1);
  const inputSize = size(shape);
  const steps: Step[] = [];
  const empty = new Float32Array(0);
  for (const layer of model.layers) {
    const cls = layer.getClassName();
    const cfg = layer.getConfig();
    if (layer.weights.some((w) => w.dtype !== 'float32')) return null;
    if (cls === 'InputLayer' || cls === 'Dropout') continue;
    if (cls === 'MaxPooling2D') {
      if (shape.length !== 3 || (cfg['dataFormat'] ?? 'channelsLast') !== 'channelsLast') return null;
      const pool = cfg['poolSize'] as number | number[];
      const strides = (cfg['strides'] ?? pool) as number | number[];
      const pad = cfg['padding'];
      if (pad !== 'same' && pad !== 'valid') return null;
      const info = tf.backend_util.computePool2DInfo([1, ...(shape as number[])] as [number, number, number, number], pool as [number, number], strides as [number, number], 1, pad);
      steps.push({ kind: 'pool', info, outSize: info.outHeight * info.outWidth * info.outChannels });
      shape = [info.outHeight, info.outWidth, info.outChannels];
      continue;
    }
    if (cls === 'Flatten') {
      if (cfg['dataFormat'] === 'channelsFirst') return null;
      shape = [size(shape)];
      continue;
    }
    const act = activationOf(cfg);
    if (act === null) return null;
    if (cls === 'Activation') {
      if (act === 'relu') steps.push({ kind: 'relu', outSize: size(shape) });
      continue;
    }
    const [kernel, bias] = layer.weights as tf.LayerVariable[];
    if (kernel === undefined) return null;
    if (cls === 'Conv2D') {
      const dil = cfg['dilationRate'];
      if (shape.length !== 3 || (cfg['dataFormat'] ?? 'channelsLast') !== 'channelsLast' || (Array.isArray(dil) ? dil.some((d) => d !== 1) : dil !== undefined && dil !== 1)) return null;
      const pad = cfg['padding'];
      if (pad !== 'same' && pad !== 'valid') return null;
      const info = convInfo([1, ...(shape as number[])], kernel.shape as number[], { strides: cfg['strides'], pad });
      steps.push({ kind: 'conv', relu: act === 'relu', kernel, bias: bias ?? null, info, w: empty, b: null, outSize: info.outHeight * info.outWidth * info.outChannels });
      shape = [info.outHeight, info.outWidth, info.outChannels];
    } else if (cls === 'Dense') {
      if (shape.length !== 1) return null;
      const [K, N] = kernel.shape as [number, number];
      steps.push({ kind: 'dense', relu: act === 'relu', kernel, bias: bias ?? null, K, N, w: empty, b: null, outSize: N });
      shape = [N];
    } else return null;
    if (layer.weights.length > (cls === 'Conv2D' || cls === 'Dense' ? 2 : 0)) return null;
  }
  const last = steps[steps.length - 1];
  if (last === undefined || last.kind !== 'dense' || last.relu || shape.length !== 1) return null;
  return new Network(api, steps, inputSize, shape[0] as number);
}

/**
 * One L∞ PGD step in place, in TF.js' float32 order (attack/gradient-attack.ts):
 * xadv ← clip(x + clip(xadv + sign(g)·alpha − x, −eps, eps), box). With g = 0 it is the projection.
 */
export function nativeLinfStep(xadv: Float32Array, g: Float32Array, x: Float32Array, n: number, alpha: number, eps: number, box: readonly [number, number] | null): void {
  if (api === null) throw new Error('nativeLinfStep: the native addon is not loaded');
  api.linfPgdStep(xadv, g, x, n, alpha, eps, box?.[0] ?? 0, box?.[1] ?? 0, box !== null);
}
