/**
 * The training loop shared by every method: batches under a seed, adversarial examples against the
 * current weights at every step, optimizer with schedule, periodic validation (clean and PGD robust
 * accuracy on a held-out slice), atomic checkpoints, and exact resume.
 *
 * Exact resume: data order is a function of (seed, epoch), each step's attack seed a function of
 * (seed, step), the learning rate a function of the step; with weights and optimizer state restored,
 * a resumed run computes what the uninterrupted one would have.
 *
 * Weight averaging (config.emaDecay): the average is updated after every step where the weights live
 * (this thread, or every replica), saved in the checkpoint beside them, used for validation, and is
 * the model the call leaves behind.
 */
import { checkBatchSize, checkThreats } from '../eval/check-call.js';
import { existsSync } from 'node:fs';
import { makeDir } from '../util/atomic.js';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { Pgd } from '../attack/pgd.js';
import { runAttack } from '../attack/runner.js';
import { Batcher, type Dataset } from '../data/dataset.js';
import { augmentBatch, checkAugmentFits } from '../data/augment.js';
import { logitsOf } from '../model/classifier.js';
import { applyConstraints } from '../model/constraints.js';
import { isTextModel, splitAtEmbedding, type EmbeddingSplit } from '../model/text.js';
import { DivergedError, OptionError, UserError, WorkerCrashedError } from '../util/errors.js';
import { yieldToEventLoop } from '../util/interrupt.js';
import { assertValidInputs } from '../util/validate.js';
import type { TrainConfig } from './config.js';
import { loadCheckpoint, saveCheckpoint } from './checkpoint.js';
import { setOptimizerState, getOptimizerState } from './optimizer-state.js';
import { makeAdversarial, swapTwins } from './methods.js';
import { learningRate, trainingEps } from './schedule.js';
import { modelPayload } from '../parallel/replica.js';
import { disposeCopies, makeOptimizer, setLearningRate, stepInputs, stepLoss, toRecord, type ReplicaInit, type ReplicaState } from './replica.js';
import { nativeNetworkOf } from '../backend/native-network.js';
import { DataParallelTrainer, type ReplicaGroup, type ReplicaStarter } from './data-parallel.js';
import { namedGradients, nativeWeightStep, weightStepNetwork } from './native-step.js';
import { averageDecay, WeightAverage, withWeights } from './weight-average.js';
import { weightName } from './weight-name.js';

export interface EvalPoint {
  step: number;
  epoch: number;
  cleanAcc: number;
  robustAcc: number;
  examples: number;
}

export interface StepLog {
  step: number;
  epoch: number;
  loss: number;
  parts: Record<string, number>;
  lr: number;
  eps: number;
}

export interface TrainState {
  config: TrainConfig;
  /** Next epoch and batch to run. */
  epoch: number;
  batch: number;
  step: number;
  elapsedMs: number;
  /** Mean loss per epoch so far, and validation points. */
  epochs: Array<{ epoch: number; loss: number; parts: Record<string, number>; seconds: number }>;
  evals: EvalPoint[];
  done: boolean;
}

export interface TrainProgress {
  step: number;
  totalSteps: number;
  epoch: number;
  loss: number;
  lr: number;
  eps: number;
  examplesPerSec: number;
  /** Data-parallel workers (1: this thread). */
  workers: number;
  lastEval?: EvalPoint;
}

export interface TrainOptions {
  /** Folder for checkpoint.alp; without it nothing is written. */
  checkpointDir?: string;
  /** Continue from checkpointDir's checkpoint instead of starting over. */
  resume?: boolean;
  /** Save a checkpoint every N steps as well as at every epoch end (0 = epoch ends only). */
  checkpointEvery?: number;
  /** Called after every step (loss, step of totalSteps, throughput, the last validation), so a caller can show progress. */
  onProgress?: (p: TrainProgress) => void;
  /** Stop (after checkpointing) once this many steps have run in this call: for tests of resume. */
  stopAfterSteps?: number;
  /** Polled after every step; true stops the run cleanly (checkpoint written, resumable). */
  shouldStop?: () => boolean;
  /**
   * Aborting it stops the run after the current step, like shouldStop. The loop yields to the event
   * loop after every step, so a signal handler (Ctrl-C) gets to run and abort it.
   */
  signal?: AbortSignal;
  /**
   * Data-parallel training on this many replicas (default 1: this thread, no workers). Each replica
   * crafts the adversarial examples of its share of every batch and computes the share's gradient; the
   * gradients are summed in a fixed order and every replica takes the same optimizer step
   * (train/data-parallel.ts). Random draws are per example, so N only changes float summation order.
   */
  workers?: number;
  /**
   * Where the replicas run when workers > 1: worker threads (train/train-replicas.ts) unless given;
   * tests pass one that runs them in this thread.
   */
  startReplicas?: ReplicaStarter;
}


export const CHECKPOINT_FILE = 'checkpoint.alp';

/**
 * Clean and robust (PGD) accuracy on a dataset slice, in batches. Text models are attacked in
 * embedding space, with no box (model/text.ts).
 */
export function quickEval(model: tf.LayersModel, ds: Dataset, c: TrainConfig, steps: number, seed: number, text: EmbeddingSplit | null = null): { clean: number; robust: number } {
  const f = logitsOf(text !== null ? text.head : model);
  const pgd = new Pgd({ threat: { norm: c.norm, eps: c.eps, ...(text !== null ? { bounds: null } : {}) }, steps, restarts: 1, loss: 'ce', seed });
  const b = new Batcher(ds, { batchSize: 250, shuffle: false, seed: 0 });
  let clean = 0, robust = 0;
  for (const batch of b.batches(0)) {
    const input = tf.tensor4d(batch.x, [batch.size, ds.shape[0], ds.shape[1], ds.shape[2]]);
    const x = text !== null ? tf.tidy(() => text.embed(input)) : input;
    if (text !== null) input.dispose();
    const y = tf.tensor1d(batch.y, 'int32');
    const pred = tf.tidy(() => f(x).argMax(-1).dataSync() as Int32Array);
    for (let i = 0; i < batch.size; i++) if (pred[i] === batch.y[i]) clean++;
    const r = runAttack(pgd, f, x, y);
    for (let i = 0; i < batch.size; i++) if (!r.success[i]) robust++;
    tf.dispose([x, y, r.adversarial]);
  }
  return { clean: clean / Math.max(ds.count, 1), robust: robust / Math.max(ds.count, 1) };
}

/**
 * Trains `model` in place on `train`, validating on `val`. Returns the final state (also in the
 * checkpoint when a folder is given).
 */
export async function trainModel(model: tf.LayersModel, train: Dataset, val: Dataset | null, c: TrainConfig, o: TrainOptions = {}): Promise<TrainState> {
  // A text model (one with an Embedding layer) is trained on adversarial embeddings: the attack runs
  // on its head, and the clean embeddings are recomputed on the tape so the embedding table trains too.
  const text = isTextModel(model) ? splitAtEmbedding(model) : null;
  if (text !== null && train.vocabulary === undefined) throw new UserError(`${model.name} embeds token ids, but ${train.name} is not a text dataset`);
  if (text === null && c.textAdversary === 'swap') throw new OptionError(`{textAdversary} swap: ${model.name} is not a text model (it has no Embedding layer)`);
  // The library checks what the CLI checks: a training radius outside the [0,1] box (images, audio) is refused.
  if (text === null) checkThreats(train, [{ norm: c.norm, eps: c.eps }]);
  checkBatchSize(c.batchSize);
  if (text === null && train.vocabulary !== undefined) throw new UserError(`${train.name} holds token ids; train a text model on it (e.g. the architecture text-cnn)`);
  // Byte-backed images are v/255 of uint8 values, in [0,1] by construction; reading `images` would build them all.
  if (train.bytes === undefined) assertValidInputs(train.images, `${train.name} training ${text !== null ? 'token ids' : 'images'}`, text !== null ? null : [0, 1]);
  if (c.augment !== undefined) checkAugmentFits(c.augment, train);
  const opt = makeOptimizer(c);
  const batcher = new Batcher(train, { batchSize: c.batchSize, shuffle: true, seed: c.seed, dropLast: true });
  const stepsPerEpoch = Math.floor(train.count / c.batchSize);
  if (stepsPerEpoch < 1) throw new UserError(`batch size ${c.batchSize} is larger than the ${train.count} training examples`);
  const totalSteps = stepsPerEpoch * c.epochs;
  const ckptPath = o.checkpointDir !== undefined ? join(o.checkpointDir, CHECKPOINT_FILE) : undefined;
  const vars = model.trainableWeights.map((w) => w.read() as tf.Variable);

  let state: TrainState = { config: c, epoch: 0, batch: 0, step: 0, elapsedMs: 0, epochs: [], evals: [], done: false };
  const decay = c.emaDecay ?? 0;
  let resumedAverage: tf.Tensor[] = [];
  if (o.resume === true) {
    if (ckptPath === undefined) throw new UserError('resume needs a run folder (checkpointDir) holding a checkpoint');
    if (existsSync(ckptPath)) {
      const ck = loadCheckpoint<TrainState>(ckptPath);
      if (ck.model.length !== model.weights.length) {
        throw new UserError(`${ckptPath}: checkpoint has ${ck.model.length} weight tensors, the model has ${model.weights.length}`);
      }
      model.setWeights(ck.model);
      if (ck.optimizer.length > 0) await setOptimizerState(opt, ck.optimizer);
      tf.dispose(ck.model);
      tf.dispose(ck.optimizer.map((t) => t.tensor));
      resumedAverage = ck.average;
      state = ck.state;
      // Everything that shapes the weights must match, or the resumed run is some other run. Only how
      // often and how hard validation runs may change.
      const free = new Set<keyof TrainConfig>(['evalEvery', 'evalAttackSteps']);
      // Both configs' keys: an optional field (augment) set in one and absent in the other is a difference too.
      const keys = [...new Set([...Object.keys(c), ...Object.keys(state.config)])] as Array<keyof TrainConfig>;
      const mismatch = keys.filter((k) => !free.has(k) && JSON.stringify(state.config[k]) !== JSON.stringify(c[k]));
      if (mismatch.length > 0) {
        tf.dispose(resumedAverage);
        throw new UserError(`${ckptPath}: cannot resume with a different configuration (${mismatch.map((k) => `${k}: checkpoint ${JSON.stringify(state.config[k])}, now ${JSON.stringify(c[k])}`).join('; ')})`);
      }
      if (decay > 0 && resumedAverage.length !== model.weights.length) {
        tf.dispose(resumedAverage);
        throw new UserError(`${ckptPath}: the run averages its weights, but the checkpoint holds ${resumedAverage.length} averaged tensors for ${model.weights.length} weights`);
      }
    }
  }
  if (o.checkpointDir !== undefined) makeDir(o.checkpointDir);

  const workers = o.workers ?? 1;
  if (!Number.isInteger(workers) || workers < 1) throw new UserError(`workers: expected an integer ≥ 1, found ${workers}`);
  // Data-parallel: the replicas hold the weights and optimizer from here; `model` is brought up to
  // date from replica 0 whenever it is read (validation, checkpoints, the end of the call).
  let group: ReplicaGroup | null = null;
  if (workers > 1) {
    const { startWorkerReplicas } = await import('./train-replicas.js');
    const init: ReplicaInit = {
      model: await modelPayload(model), config: c, optimizer: [],
      average: resumedAverage.map((t, i) => toRecord(weightName(model, i), t)),
    };
    if (state.step > 0) {
      const list = await getOptimizerState(opt);
      init.optimizer = list.map((n) => toRecord(n.name, n.tensor));
      disposeCopies(list);
    }
    group = await (o.startReplicas ?? startWorkerReplicas)(workers, init);
  }
  const parallel = group !== null ? new DataParallelTrainer(group, c, train.shape) : null;
  // In this thread the average lives here; with replicas, in every replica.
  const average = decay > 0 && group === null ? new WeightAverage(model, resumedAverage.length > 0 ? resumedAverage : null) : null;
  tf.dispose(resumedAverage);
  const pull = async (withOptimizer: boolean): Promise<ReplicaState | null> => {
    if (group === null || parallel === null) return null;
    await parallel.flush();
    const st = await group.state(0, !withOptimizer);
    const ws = st.weights.map((r) => tf.tensor(r.values, r.shape));
    model.setWeights(ws);
    tf.dispose(ws);
    return st;
  };
  const finish = async (): Promise<void> => {
    average?.dispose();
    opt.dispose();
    const g = group;
    group = null;
    await g?.close();
  };
  let savedStep: number | null = o.resume === true && state.step > 0 ? state.step : null;
  try {
    return await trainLoop();
  } catch (e) {
    await finish();
    if (e instanceof WorkerCrashedError) {
      // Say what survives: nothing after the last checkpoint was written, and --resume continues from it.
      e.message += `; training stopped at step ${state.step + 1}` + (ckptPath === undefined ? '' : savedStep === null
        ? ' before any checkpoint was written'
        : `; the checkpoint ${ckptPath} (step ${savedStep}) is intact: resume from it`);
    }
    throw e;
  }

  async function trainLoop(): Promise<TrainState> {
  const infer = logitsOf(text !== null ? text.head : model, false);
  const trainF = logitsOf(text !== null ? text.head : model, true);
  const net = text === null && parallel === null ? nativeNetworkOf(model) : null;
  const weightNet = weightStepNetwork(net);
  const save = async (): Promise<void> => {
    const st = await pull(true);
    // A step can leave the weights infinite while its own loss was still finite: never save those.
    const bad = model.weights.find((w) => !(w.read().dataSync() as Float32Array).every(Number.isFinite));
    if (bad !== undefined) {
      throw new DivergedError(`training diverged by step ${state.step}: weight ${bad.originalName} became NaN or infinite (learning rate ${learningRate(c, Math.max(state.step - 1, 0), totalSteps)}); try a lower learning rate`);
    }
    if (ckptPath === undefined) return;
    if (st === null) await saveCheckpoint(ckptPath, state, model, opt, average?.values() ?? []);
    else {
      const list = st.optimizer.map((r) => ({ name: r.name, tensor: tf.tensor(r.values, r.shape) }));
      const avg = st.average.map((r) => tf.tensor(r.values, r.shape));
      await saveCheckpoint(ckptPath, state, model, list, avg);
      tf.dispose([...list.map((n) => n.tensor), ...avg]);
    }
    savedStep = state.step;
  };
  // The weights training leaves behind: the average when there is one.
  const useAverage = async (): Promise<void> => {
    if (decay <= 0) return;
    if (average !== null) {
      model.setWeights(average.values());
      return;
    }
    const st = await pull(false);
    const avg = (st?.average ?? []).map((r) => tf.tensor(r.values, r.shape));
    if (avg.length > 0) model.setWeights(avg);
    tf.dispose(avg);
  };
  const validate = async (): Promise<{ clean: number; robust: number }> => {
    const run = (): { clean: number; robust: number } => quickEval(model, val as Dataset, c, c.evalAttackSteps, c.seed, text);
    if (average !== null) return withWeights(model, average.values(), run);
    // Data-parallel: `model` is only a copy of replica 0 here, refreshed on every read (once: the
    // average comes with the weights).
    if (decay > 0) await useAverage();
    else await pull(false);
    return run();
  };
  let stepsThisCall = 0;
  const started = Date.now() - state.elapsedMs;
  let windowStart = Date.now();
  let windowExamples = 0;

  for (let epoch = state.epoch; epoch < c.epochs && !state.done; epoch++) {
    const epochStart = Date.now();
    let lossSum = 0;
    const partSums: Record<string, number> = {};
    let count = 0;
    for (const drawn of batcher.batches(epoch, state.batch)) {
      // Augmented here, before the batch is split into shares: every worker count trains on the same images.
      const batch = c.augment !== undefined ? { ...drawn, x: augmentBatch(drawn.x, drawn.ids, train.shape, c.augment, c.seed, epoch) } : drawn;
      const step = state.step;
      const lr = learningRate(c, step, totalSteps);
      const eps = trainingEps(c, step, stepsPerEpoch);
      let loss: number, parts: Record<string, number>;
      const stepDecay = decay > 0 ? averageDecay(decay, step) : undefined;
      if (parallel !== null) ({ loss, parts } = await parallel.step(batch, step, lr, eps, stepDecay));
      else {
        setLearningRate(opt, lr);
        const { input, s } = stepInputs(batch.x, batch.y, batch.ids, train.shape, c, step, eps, text);
        // Word-swap training: the twin is the message with real words swapped (ramped with ε).
        const advIds = text !== null && c.textAdversary === 'swap' ? swapTwins(text, input, s.y, c, eps) : null;
        const xAdv = advIds === null ? makeAdversarial(c.method, infer, s, c, net) : null;
        if (weightNet !== null) {
          // The weight step on the native network (train/native-step.ts); the optimizer is the same.
          const r = nativeWeightStep(weightNet, model, s, xAdv, c);
          const named = namedGradients(vars, r.grads);
          opt.applyGradients(named);
          tf.dispose(named.map((g) => g.tensor));
          ({ loss, parts } = r);
        } else {
          const kept: Record<string, tf.Scalar> = {};
          const cost = opt.minimize(stepLoss(c, trainF, text, input, s, xAdv, kept, advIds), true, vars);
          loss = cost === null ? NaN : (cost.dataSync()[0] as number);
          parts = Object.fromEntries(Object.entries(kept).map(([k, v]) => [k, v.dataSync()[0] as number]));
          tf.dispose([cost ?? [], ...Object.values(kept)]);
        }
        applyConstraints(model);
        if (stepDecay !== undefined) average?.update(stepDecay);
        tf.dispose([input, s.x, s.y, ...(xAdv ? [xAdv] : []), ...(advIds ? [advIds] : [])]);
      }
      if (!Number.isFinite(loss)) {
        // Nothing is saved from here: the last checkpoint (before the divergence) stays as it was.
        throw new DivergedError(`training diverged at step ${step + 1}: the loss became ${loss} (learning rate ${lr}); try a lower learning rate`);
      }
      lossSum += loss;
      for (const [k, v] of Object.entries(parts)) partSums[k] = (partSums[k] ?? 0) + v;
      count++;
      state.step++;
      state.batch = batch.index + 1;
      stepsThisCall++;
      windowExamples += batch.size;

      if (val !== null && c.evalEvery > 0 && state.step % c.evalEvery === 0) {
        const r = await validate();
        state.evals.push({ step: state.step, epoch: epoch + state.batch / stepsPerEpoch, cleanAcc: r.clean, robustAcc: r.robust, examples: val.count });
      }
      if (o.onProgress !== undefined) {
        const secs = (Date.now() - windowStart) / 1000;
        o.onProgress({
          step: state.step, totalSteps, epoch, loss, lr, eps,
          examplesPerSec: secs > 0 ? windowExamples / secs : 0,
          workers,
          ...(state.evals.length > 0 ? { lastEval: state.evals[state.evals.length - 1] as EvalPoint } : {}),
        });
        if (secs > 10) {
          windowStart = Date.now();
          windowExamples = 0;
        }
      }
      await yieldToEventLoop();
      const stopNow = (o.stopAfterSteps !== undefined && stepsThisCall >= o.stopAfterSteps) || (o.shouldStop?.() ?? false) || (o.signal?.aborted ?? false);
      if (stopNow || (o.checkpointEvery !== undefined && o.checkpointEvery > 0 && state.step % o.checkpointEvery === 0)) {
        state.elapsedMs = Date.now() - started;
        await save();
      }
      if (stopNow) {
        await useAverage();
        await finish();
        return state;
      }
    }
    state.epochs.push({
      epoch,
      loss: lossSum / Math.max(count, 1),
      parts: Object.fromEntries(Object.entries(partSums).map(([k, v]) => [k, v / Math.max(count, 1)])),
      seconds: (Date.now() - epochStart) / 1000,
    });
    state.epoch = epoch + 1;
    state.batch = 0;
    if (val !== null && (c.evalEvery === 0 || state.step % c.evalEvery !== 0)) {
      const r = await validate();
      state.evals.push({ step: state.step, epoch: epoch + 1, cleanAcc: r.clean, robustAcc: r.robust, examples: val.count });
    }
    state.elapsedMs = Date.now() - started;
    await save();
  }
  state.done = true;
  state.elapsedMs = Date.now() - started;
  await save();
  await useAverage();
  await finish();
  return state;
  }
}
