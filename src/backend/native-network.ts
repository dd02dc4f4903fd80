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
 * native-graph.test.ts; the steps are in native-steps.ts. `nativeNetworkPlan` says, for any other model, which layer keeps it on TF.js.
 * BatchNormalization uses its moving (inference) statistics, as the attacks' `logitsOf(model, false)`.
 */
import * as tf from '@tensorflow/tfjs';
import type { NativeApi } from './native-kernels.js';
import { ACTIVATIONS, type Activation } from './native-activations.js';
import {
  activationStep, addStep, avgPoolStep, batchNormStep, Buffers, concatStep, convStep, denseStep, depthwiseStep, globalAvgStep, globalMaxStep,
  identityStep, maxPoolStep, multiplyStep, sizeOf, Weight, zeroPadStep, type BnLayer, type Shape, type Step,
} from './native-steps.js';

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
