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
import { Buffers, sizeOf, WeightGrads, type Shape, type Step } from './native-steps.js';
import { stepsOf, Unsupported, type Sym } from './native-layers.js';

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
  /** Why the weight step of training cannot run on this network (then TF.js takes it), or null. */
  readonly trainingRefusal: string | null;
  /**
   * Training-mode logits [n, classes]: batch normalization on the batch's statistics, whose moving
   * averages are written into the model's variables as tfjs-layers' training call does. Call `load()` first.
   */
  trainLogits(x: Float32Array, n: number): Float32Array;
  /**
   * After `trainLogits(x, n)`: the gradient of Σ_{i,j} dz[i,j]·zᵢⱼ with respect to every weight it
   * reached, by the model's variable (fresh arrays).
   */
  weightGradients(dz: Float32Array, n: number): Map<tf.LayerVariable, Float32Array>;
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

  readonly trainingRefusal: string | null;

  constructor(private readonly native: NativeApi, private readonly steps: Step[], private readonly nodes: number, readonly inputSize: number, readonly classes: number) {
    this.trainingRefusal = steps.find((s) => s.trainingRefusal !== undefined)?.trainingRefusal ?? null;
  }

  load(): void {
    for (const s of this.steps) s.load?.();
  }

  private forward(x: Float32Array, n: number, training = false): Float32Array[] {
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
      s.forward(ins, out, n, training);
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

  trainLogits(x: Float32Array, n: number): Float32Array {
    if (this.trainingRefusal !== null) throw new Error(`native network: ${this.trainingRefusal}`);
    return this.forward(x, n, true)[this.nodes - 1] as Float32Array;
  }

  weightGradients(dz: Float32Array, n: number): Map<tf.LayerVariable, Float32Array> {
    const wg = new WeightGrads();
    this.backward(dz, n, wg);
    return wg.map;
  }

  backward(dz: Float32Array, n: number, wg: WeightGrads | null = null): Float32Array {
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
      const parts = s.backward(dy, ins, acts[s.out] as Float32Array, n, this.buf, wg);
      s.inputs.forEach((node, j) => {
        const g = parts[j] as Float32Array;
        const prev = grads[node];
        if (prev === undefined) {
          grads[node] = g;
          return;
        }
        // A node used by several layers (a residual block's input): its gradient is the sum of theirs,
        // in the order they come, on the native kernel (a JS loop here was 10% of ResNet-20's PGD step).
        let acc = prev;
        if (!owned[node]) {
          acc = this.buf.get(`g${node}`, prev.length);
          owned[node] = 1;
          grads[node] = acc;
        }
        this.native.add(prev, g.subarray(0, prev.length), prev.length, acc);
      });
    }
    const gx = grads[0];
    if (gx === undefined) return this.buf.get('g0zero', n * this.inputSize).fill(0);
    return gx;
  }
}

// ---------------------------------------------------------------------------------------------------
// Building the plan from a model

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
export interface NetworkPath {
  path: 'native' | 'tfjs';
  reason: string | null;
  /** Training only: which path the weight step (forward and backward for the weights) takes, and why. */
  weightStep?: { path: 'native' | 'tfjs'; reason: string | null };
}

export function networkPathOf(model: tf.LayersModel): NetworkPath {
  const plan = nativeNetworkPlan(model);
  return plan.net !== null ? { path: 'native', reason: null } : { path: 'tfjs', reason: plan.reason };
}

/** For headers: the same, in one line (two with the weight step). */
export function networkPathLine(p: NetworkPath): string {
  const line = p.path === 'native'
    ? 'gradients: alp native network (ALP_NO_NATIVE_NETWORK=1 turns it off)'
    : `gradients: TF.js, not alp's native network: ${p.reason ?? ''}`;
  const w = p.weightStep;
  if (w === undefined) return line;
  return `${line}\n` + (w.path === 'native'
    ? 'weight step: alp native network (ALP_NO_NATIVE_WEIGHT_STEP=1 turns it off)'
    : `weight step: TF.js, not alp's native network: ${w.reason ?? ''}`);
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
  return renumber(native, steps, sizeOf(inShape as number[]), outShape[0] as number);
}

/** Node ids in step order (input 0, the output last), so that the arrays are dense. */
function renumber(native: NativeApi, steps: Step[], inputSize: number, classes: number): Network {
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
  return new Network(native, remapped, map.size, inputSize, classes);
}

