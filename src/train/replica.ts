/**
 * One replica of the model in data-parallel training: what each worker holds (its own copy of the
 * model and of the optimizer) and the three things it does per step:
 *
 *  - `gradient`: craft the adversarial examples for its share of the batch, against its current weights,
 *    and compute the share's gradient of the *whole batch's* loss (methods.ts divides every term by the
 *    whole batch's counts), so the shares' gradients sum to the whole batch's gradient;
 *  - `apply`: take one optimizer step with the summed gradient, which every replica receives bit for bit,
 *    so every replica computes the same update and they stay identical;
 *  - `state`: its weights and optimizer state, for the main thread's checkpoints and evaluation.
 *
 * With weight averaging on (config.emaDecay), every replica keeps the same moving average of its
 * weights and updates it after each step with the decay the update carries, so it lives where the
 * weights do and any replica's state holds it.
 *
 * Batch statistics are the exception to "shares sum to the batch": a BatchNormalization layer in
 * training mode normalises each share by its own mean and variance (per-worker statistics, like
 * PyTorch DDP without SyncBatchNorm), so with N > 1 such a model trains on a slightly different
 * objective. Its moving averages are averaged across replicas after every step (`apply`), which keeps
 * the replicas identical.
 *
 * The same class runs in worker threads (train/train-worker.ts) and, for tests, several in one thread.
 */
import * as tf from '@tensorflow/tfjs';
import { fusedAdam } from '../backend/fused-adam.js';
import { nativeNetworkOf, type NativeNetwork } from '../backend/native-network.js';
import { logitsOf, type LogitsFn } from '../model/classifier.js';
import { loadReplica, type ModelPayload } from '../parallel/replica.js';
import { applyConstraints } from '../model/constraints.js';
import { isTextModel, splitAtEmbedding, type EmbeddingSplit } from '../model/text.js';
import { exampleSeed } from '../util/rng.js';
import type { TrainConfig } from './config.js';
import { makeAdversarial, methodLoss, swapTwins, type StepInputs, type WholeBatch } from './methods.js';
import { setOptimizerState, getOptimizerState } from './optimizer-state.js';
import { nativeWeightStep, weightStepNetwork } from './native-step.js';
import { WeightAverage } from './weight-average.js';
import { weightName } from './weight-name.js';

/** A tensor as plain data, to cross a thread boundary. */
export interface ArrayRecord {
  name: string;
  shape: number[];
  values: Float32Array;
}

/** What a replica is built from: the model (topology + every weight), the config, optimizer state. */
export interface ReplicaInit {
  /** modelPayload(model): the one way alp sends a model to a worker (training and evaluation alike). */
  model: ModelPayload;
  config: TrainConfig;
  /** getOptimizerState() of a resumed run; empty for a fresh optimizer. */
  optimizer: ArrayRecord[];
  /** A resumed run's weight average (model.weights order); absent or empty: start it at the weights. */
  average?: ArrayRecord[];
}

/** One worker's share of one step. */
export interface ShareTask {
  /** The share's rows, input values and labels. */
  x: Float32Array;
  y: Int32Array;
  /** Each row's index in the training set: the key of its random draws. */
  ids: Int32Array;
  shape: [number, number, number];
  step: number;
  eps: number;
  whole: WholeBatch;
  /** The previous step's update, applied first: one message per worker and step instead of two. */
  apply?: ReplicaUpdate;
}

export interface ShareResult {
  /** This share's part of the batch loss and of each named term (they sum over shares). */
  loss: number;
  parts: Record<string, number>;
  /** Gradient of the batch loss restricted to this share, per trainable weight. */
  grads: Float32Array[];
  /** The non-trainable weights after this share's forward pass (batch-norm moving statistics). */
  buffers: Float32Array[];
}

export interface ReplicaUpdate {
  /** Learning rate of this step. */
  lr: number;
  /** The summed gradient, per trainable weight. */
  grads: Float32Array[];
  /** The non-trainable weights every replica takes (averaged across shares); empty if none. */
  buffers: Float32Array[];
  /** With weight averaging: the decay of this step's average update (train/weight-average.ts). */
  averageDecay?: number;
}

export interface ReplicaState {
  weights: ArrayRecord[];
  optimizer: ArrayRecord[];
  /** The weight average (model.weights order); empty when the run keeps none. */
  average: ArrayRecord[];
}

/** The seed of one example's random draws at one training step (random start, noise). */
export function trainExampleSeed(seed: number, step: number, example: number): number {
  return exampleSeed(seed, step, example);
}

export function toRecord(name: string, t: tf.Tensor): ArrayRecord {
  return { name, shape: t.shape.slice(), values: Float32Array.from(t.dataSync() as Float32Array) };
}

export function makeOptimizer(c: TrainConfig): tf.Optimizer {
  // Fused Adam: the same values as tf.train.adam, in one kernel per variable on wasm.
  return c.optimizer === 'adam' ? fusedAdam(c.lr) : tf.train.momentum(c.lr, c.momentum);
}

export function setLearningRate(opt: tf.Optimizer, lr: number): void {
  const o = opt as unknown as { setLearningRate?: (v: number) => void; learningRate: number };
  if (typeof o.setLearningRate === 'function') o.setLearningRate(lr);
  else o.learningRate = lr;
}

/**
 * The inputs of a step on rows of a batch: tensors, the rows' own seeds, text embedding. Shared by the
 * in-thread trainer (whole batch) and the replicas (one share each).
 */
export function stepInputs(
  x: Float32Array, y: Int32Array, ids: Int32Array, shape: readonly [number, number, number],
  c: TrainConfig, step: number, eps: number, text: EmbeddingSplit | null, whole?: WholeBatch,
): { input: tf.Tensor4D; s: StepInputs } {
  const n = y.length;
  const input = tf.tensor4d(x, [n, shape[0], shape[1], shape[2]]);
  const xs = text !== null ? (tf.tidy(() => text.embed(input, false)) as tf.Tensor4D) : input;
  const rowSeeds = Int32Array.from(ids, (id) => trainExampleSeed(c.seed, step, id));
  const s: StepInputs = {
    x: xs, y: tf.tensor1d(y, 'int32'), eps, seed: c.seed, rowSeeds,
    ...(text !== null ? { bounds: null } : {}), ...(whole !== undefined ? { whole } : {}),
  };
  return { input, s };
}

/**
 * The loss of a step as a function for minimize/variableGrads. Text models train the embedding too:
 * the same perturbation δ = x' − x is added to embeddings recomputed on the tape.
 */
export function stepLoss(c: TrainConfig, trainF: LogitsFn, text: EmbeddingSplit | null, input: tf.Tensor4D, s: StepInputs, xAdv: tf.Tensor4D | null, kept: Record<string, tf.Scalar>, advIds: tf.Tensor4D | null = null): () => tf.Scalar {
  return () => {
    let r;
    if (text !== null) {
      const xe = text.embed(input, true) as tf.Tensor4D;
      // A word-swap twin (advIds) is embedded on the tape too; an embedding-space one adds its δ.
      const adv = advIds !== null ? (text.embed(advIds, true) as tf.Tensor4D) : xAdv !== null ? (tf.add(xe, tf.sub(xAdv, s.x)) as tf.Tensor4D) : null;
      r = methodLoss(c.method, trainF, { ...s, x: xe }, adv, c);
    } else r = methodLoss(c.method, trainF, s, xAdv, c);
    for (const [k, v] of Object.entries(r.parts)) kept[k] = tf.keep(v.clone());
    return r.total;
  };
}

/** getOptimizerState hands out the optimizer's variables and a few fresh tensors (the step count): frees the latter. */
export function disposeCopies(list: Array<{ tensor: tf.Tensor }>): void {
  for (const n of list) if (!(n.tensor instanceof tf.Variable)) n.tensor.dispose();
}

export class Replica {
  private readonly vars: tf.Variable[];
  private readonly infer: LogitsFn;
  private readonly trainF: LogitsFn;
  private readonly text: EmbeddingSplit | null;
  private readonly opt: tf.Optimizer;
  /** The model on the native path for its attack, when it runs there (backend/native-network.ts). */
  private readonly net: NativeNetwork | null;
  private average: WeightAverage | null = null;

  private constructor(readonly model: tf.LayersModel, readonly config: TrainConfig) {
    this.text = isTextModel(model) ? splitAtEmbedding(model) : null;
    this.vars = model.trainableWeights.map((w) => w.read() as tf.Variable);
    this.infer = logitsOf(this.text !== null ? this.text.head : model, false);
    this.trainF = logitsOf(this.text !== null ? this.text.head : model, true);
    this.opt = makeOptimizer(config);
    this.net = this.text === null ? nativeNetworkOf(model) : null;
  }

  static async create(init: ReplicaInit): Promise<Replica> {
    const model = await loadReplica(init.model);
    const replica = new Replica(model, init.config);
    if (init.optimizer.length > 0) {
      const list = init.optimizer.map((r) => ({ name: r.name, tensor: tf.tensor(r.values, r.shape) }));
      await setOptimizerState(replica.opt, list);
      tf.dispose(list.map((t) => t.tensor));
    }
    if ((init.config.emaDecay ?? 0) > 0) {
      const from = init.average !== undefined && init.average.length > 0 ? init.average.map((r) => tf.tensor(r.values, r.shape)) : null;
      replica.average = new WeightAverage(model, from);
      tf.dispose(from ?? []);
    }
    return replica;
  }

  /** The share's adversarial examples and its part of the batch loss's gradient; nothing is updated but batch-norm statistics. */
  gradient(t: ShareTask): ShareResult {
    if (t.apply !== undefined) this.apply(t.apply);
    const c = this.config;
    if (t.y.length === 0) {
      return { loss: 0, parts: {}, grads: this.vars.map((v) => new Float32Array(v.size)), buffers: this.buffers() };
    }
    const { input, s } = stepInputs(t.x, t.y, t.ids, t.shape, c, t.step, t.eps, this.text, t.whole);
    const advIds = this.text !== null && c.textAdversary === 'swap' ? swapTwins(this.text, input, s.y, c, s.eps) : null;
    const xAdv = advIds === null ? makeAdversarial(c.method, this.infer, s, c, this.net) : null;
    if (advIds === null && weightStepNetwork(this.net) !== null) {
      // The weight step on the native network (train/native-step.ts).
      const r = nativeWeightStep(this.net as NativeNetwork, this.model, s, xAdv, c);
      tf.dispose([input, s.x, s.y, ...(xAdv ? [xAdv] : [])]);
      return { ...r, buffers: this.buffers() };
    }
    const kept: Record<string, tf.Scalar> = {};
    const { value, grads } = tf.variableGrads(stepLoss(c, this.trainF, this.text, input, s, xAdv, kept, advIds), this.vars);
    const out: ShareResult = {
      loss: value.dataSync()[0] as number,
      parts: Object.fromEntries(Object.entries(kept).map(([k, v]) => [k, v.dataSync()[0] as number])),
      grads: this.vars.map((v) => Float32Array.from((grads[v.name] as tf.Tensor).dataSync() as Float32Array)),
      buffers: this.buffers(),
    };
    tf.dispose([input, s.x, s.y, value, ...Object.values(grads), ...(xAdv ? [xAdv] : []), ...(advIds ? [advIds] : []), ...Object.values(kept)]);
    return out;
  }

  /** One optimizer step with the summed gradient (identical on every replica). */
  apply(u: ReplicaUpdate): void {
    setLearningRate(this.opt, u.lr);
    const named = this.vars.map((v, i) => ({ name: v.name, tensor: tf.tensor(u.grads[i] as Float32Array, v.shape) }));
    this.opt.applyGradients(named);
    tf.dispose(named.map((n) => n.tensor));
    applyConstraints(this.model);
    if (u.buffers.length > 0) {
      this.model.nonTrainableWeights.forEach((w, i) => {
        const t = tf.tensor(u.buffers[i] as Float32Array, w.read().shape);
        w.write(t);
        t.dispose();
      });
    }
    if (u.averageDecay !== undefined) this.average?.update(u.averageDecay);
  }

  private buffers(): Float32Array[] {
    return this.model.nonTrainableWeights.map((w) => Float32Array.from(w.read().dataSync() as Float32Array));
  }

  async state(): Promise<ReplicaState> {
    const weights = this.model.getWeights().map((t, i) => toRecord(weightName(this.model, i), t));
    const list = await getOptimizerState(this.opt);
    const optimizer = list.map((n) => toRecord(n.name, n.tensor));
    disposeCopies(list);
    const average = (this.average?.values() ?? []).map((t, i) => toRecord(weightName(this.model, i), t));
    return { weights, optimizer, average };
  }

  dispose(): void {
    this.average?.dispose();
    this.opt.dispose();
    this.model.dispose();
  }
}
