/**
 * The one entry point through which every evaluation runs an attack (eval, the audit's cascade,
 * detect-eval, transfer). An attack supplies its own search; the runner owns what must not drift
 * between callers: the input check, clipping the result to the ε-ball and the box, a fresh forward
 * pass that decides success under a composable criterion, and the per-example perturbation size.
 * An attack that returns a point outside its threat model is clipped back, and only what the clipped
 * point achieves counts, so a bookkeeping bug in an attack cannot flatter the numbers.
 */
import * as tf from '@tensorflow/tfjs';
import type { Dataset } from '../data/dataset.js';
import type { LogitsFn } from '../model/classifier.js';
import { checkpointInterrupt } from '../util/interrupt.js';
import { exampleSeed } from '../util/rng.js';
import { assertValidInputs } from '../util/validate.js';
import type { Attack, RunContext, SearchAttack } from './attack.js';
import type { AttackResult } from './gradient-attack.js';
import { isSuccess } from './objectives.js';
import { boundsOf, normOf, projectToThreat } from './threat-model.js';

/** What a criterion sees for one batch of verified points. */
export interface CriterionInput {
  f: LogitsFn;
  /** The adversarial points, already clipped to the threat model. */
  adversarial: tf.Tensor;
  /** The model's prediction on them. */
  pred: Int32Array;
  labels: Int32Array;
  /** The targets of a targeted attack. */
  targets?: Int32Array;
}

/** Per example, 1 where the attacker's goal holds. */
export type Criterion = (c: CriterionInput) => Uint8Array;

/** The prediction differs from the true label. */
export const misclassified: Criterion = ({ pred, labels }) => Uint8Array.from(pred, (p, i) => Number(p !== labels[i]));

/** The prediction is the target (falls back to misclassification when no targets are given). */
export const targetHit: Criterion = (c) =>
  c.targets === undefined ? misclassified(c) : Uint8Array.from(c.pred, (p, i) => Number(p === (c.targets as Int32Array)[i]));

/** A detector's score is at most its threshold (the input passes as clean). */
export function undetected(score: (f: LogitsFn, x: tf.Tensor) => Float32Array, threshold: number): Criterion {
  return ({ f, adversarial }) => Uint8Array.from(score(f, adversarial), (s) => Number(s <= threshold));
}

/** Every criterion holds; later ones are only evaluated on rows the earlier ones kept. */
export function allOf(...criteria: Criterion[]): Criterion {
  return (c) => {
    const n = c.pred.length;
    let ok = new Uint8Array(n).fill(1);
    for (const crit of criteria) {
      const rows: number[] = [];
      for (let i = 0; i < n; i++) if (ok[i]) rows.push(i);
      if (rows.length === 0) break;
      const sub = rows.length === n ? c : subset(c, rows);
      const r = crit(sub);
      const next = new Uint8Array(n);
      rows.forEach((i, j) => (next[i] = r[j] as number));
      if (sub !== c) sub.adversarial.dispose();
      ok = next;
    }
    return ok;
  };
}

function subset(c: CriterionInput, rows: number[]): CriterionInput {
  const pick = (a: Int32Array): Int32Array => Int32Array.from(rows, (i) => a[i] as number);
  return {
    f: c.f,
    adversarial: tf.tidy(() => tf.gather(c.adversarial, tf.tensor1d(rows, 'int32'))),
    pred: pick(c.pred),
    labels: pick(c.labels),
    ...(c.targets !== undefined ? { targets: pick(c.targets) } : {}),
  };
}

export interface AttackRunOptions {
  targets?: tf.Tensor1D;
  /** The examples' indices in the dataset, which seed their random starts (default: batch positions). */
  ids?: readonly number[];
  /** Default: `targetHit` (misclassified, or the target when targets are given). */
  criterion?: Criterion;
}

/** A verified attack result; `detail` is what the attack itself reported beyond its points. */
export interface VerifiedResult<R extends AttackResult = AttackResult> {
  detail: Omit<R, 'adversarial'>;
  /** Inside the ε-ball around x and the box; owned by the caller. */
  adversarial: tf.Tensor;
  /** 1 where the criterion holds on a fresh forward pass of `adversarial`. */
  success: Uint8Array;
  pred: Int32Array;
  /** Per example, ‖adversarial − x‖ in the threat model's norm. */
  perturbation: Float32Array;
}

/**
 * The search every restartable attack shares: an already-fooled clean input is its own adversarial
 * example; each run (restart) attacks only the examples no earlier run fooled, with a fresh seed; the
 * first point seen to fool an example is kept (every iterate the attack hands to `record` counts, not
 * only its last); for examples never fooled, the point of highest score over all runs is returned.
 * `targets` makes the goal the target class rather than any wrong class. Random choices are seeded per
 * example from `ids`, the examples' indices in the dataset (default: their positions in the batch).
 *
 * `mode: 'strongest'` is the transfer mode (crafting on a surrogate): no example is ever taken as done,
 * every run runs all its steps on every example (`ctx.stopEarly` is false), and the point of highest
 * score over all runs is returned for each; `success` is then all 0 (the caller judges on its model).
 */
export function searchWithRestarts(
  a: SearchAttack, f: LogitsFn, x: tf.Tensor, labels: tf.Tensor1D, targets?: tf.Tensor1D, ids?: readonly number[], mode: 'first-success' | 'strongest' = 'first-success',
): AttackResult {
  const stopEarly = mode === 'first-success';
  const n = x.shape[0] as number;
  const rowSize = x.size / Math.max(n, 1);
  const best = new Float32Array(x.dataSync() as Float32Array);
  assertValidInputs(best, 'attack input', boundsOf(a.threat));
  const targeted = targets !== undefined;
  const goal = Int32Array.from((targets ?? labels).dataSync());
  const success = new Uint8Array(n);
  const bestScore = new Float32Array(n).fill(-Infinity);
  if (ids !== undefined && ids.length !== n) throw new Error(`searchWithRestarts: ${ids.length} ids for ${n} examples`);

  const clean = tf.tidy(() => f(x));
  const classes = clean.shape[1] as number;
  const cleanZ = Float32Array.from(clean.dataSync() as Float32Array);
  const cleanPred = tf.tidy(() => clean.argMax(-1).dataSync() as Int32Array);
  clean.dispose();
  if (stopEarly) {
    isSuccess(cleanPred, goal, targeted).forEach((ok, i) => {
      if (ok) success[i] = 1;
    });
  }

  const runs = a.runs(classes, targeted);
  for (let r = 0; r < runs; r++) {
    const active: number[] = [];
    for (let i = 0; i < n; i++) if (!success[i]) active.push(i);
    if (active.length === 0) break;
    const m = active.length;
    const goalLocal = Int32Array.from(active, (i) => goal[i] as number);
    const local = new Uint8Array(m);
    const cleanLogits = new Float32Array(m * classes);
    active.forEach((i, j) => cleanLogits.set(cleanZ.subarray(i * classes, (i + 1) * classes), j * classes));
    const ctx: RunContext = {
      run: r,
      seeds: Int32Array.from(active, (i) => exampleSeed(a.seed, r, ids?.[i] ?? i)),
      cleanLogits,
      stopEarly,
      record: (points, pred, rows) => {
        if (!stopEarly) return local;
        const at = rows ?? Array.from({ length: pred.length }, (_, q) => q);
        let data: Float32Array | undefined;
        at.forEach((j, q) => {
          if (local[j] || !(targeted ? pred[q] === goalLocal[j] : pred[q] !== goalLocal[j])) return;
          data ??= points();
          local[j] = 1;
          best.set(data.subarray(q * rowSize, (q + 1) * rowSize), (active[j] as number) * rowSize);
        });
        return local;
      },
    };
    const idx = tf.tensor1d(active, 'int32');
    const xs = tf.gather(x, idx);
    const ys = tf.gather(labels, idx) as tf.Tensor1D;
    const ts = targets !== undefined ? (tf.gather(targets, idx) as tf.Tensor1D) : undefined;
    try {
      const out = a.single(f, xs, ys, ts, ctx);
      const data = out.adversarial.dataSync() as Float32Array;
      out.adversarial.dispose();
      for (let j = 0; j < m; j++) {
        const i = active[j] as number;
        if (local[j]) success[i] = 1;
        else if ((out.score[j] as number) > (bestScore[i] as number)) {
          bestScore[i] = out.score[j] as number;
          best.set(data.subarray(j * rowSize, (j + 1) * rowSize), i * rowSize);
        }
      }
    } finally {
      tf.dispose([idx, xs, ys, ...(ts !== undefined ? [ts] : [])]);
    }
  }
  return { adversarial: tf.tensor(best, x.shape), success };
}

/** Runs `attack` on a batch and verifies what it returns. */
export function runAttack<R extends AttackResult>(attack: Attack<R>, f: LogitsFn, x: tf.Tensor, labels: tf.Tensor1D, o: AttackRunOptions = {}): VerifiedResult<R> {
  const box = boundsOf(attack.threat);
  assertValidInputs(x.dataSync() as Float32Array, `${attack.name} input`, box);
  const { adversarial: raw, ...detail } = isSearchAttack(attack) ? (searchWithRestarts(attack, f, x, labels, o.targets, o.ids) as R) : attack.run(f, x, labels, o.targets, o.ids);
  const norm = normOf(attack.threat.norm);
  const eps = attack.threat.eps;
  // Points already inside (to float tolerance) are kept bit for bit: re-projecting them would round.
  const outside = tf.tidy(() => {
    const size = tf.max(norm.size(tf.sub(raw, x))).dataSync()[0] as number;
    if (size > eps * (1 + 1e-4) + 1e-6) return true;
    return box !== null && ((tf.min(raw).dataSync()[0] as number) < box[0] || (tf.max(raw).dataSync()[0] as number) > box[1]);
  });
  const adversarial = outside ? projectToThreat(norm, x, raw, eps, box) : raw;
  if (outside) raw.dispose();
  const [pred, perturbation] = tf.tidy(() => [
    f(adversarial).argMax(-1).dataSync() as Int32Array,
    norm.size(tf.sub(adversarial, x)).dataSync() as Float32Array,
  ]) as [Int32Array, Float32Array];
  const criterion = o.criterion ?? targetHit;
  const success = criterion({
    f, adversarial, pred, labels: labels.dataSync() as Int32Array,
    ...(o.targets !== undefined ? { targets: o.targets.dataSync() as Int32Array } : {}),
  });
  return { adversarial, success, pred, perturbation, detail };
}

function isSearchAttack(a: Attack): a is Attack & SearchAttack {
  return typeof (a as Partial<SearchAttack>).single === 'function';
}

/** Rows `ids` of a dataset as tensors (a copy), in that order. */
export function gatherRows(ds: Dataset, ids: readonly number[]): { x: tf.Tensor4D; y: tf.Tensor1D } {
  const row = ds.shape[0] * ds.shape[1] * ds.shape[2];
  const xs = new Float32Array(ids.length * row);
  const ys = new Int32Array(ids.length);
  ids.forEach((id, j) => {
    xs.set(ds.images.subarray(id * row, (id + 1) * row), j * row);
    ys[j] = ds.labels[id] as number;
  });
  return { x: tf.tensor4d(xs, [ids.length, ds.shape[0], ds.shape[1], ds.shape[2]]), y: tf.tensor1d(ys, 'int32') };
}

/**
 * Calls `fn` on the first `ds.count` examples in order, as [n, H, W, C] tensors of at most `batchSize`
 * rows, with the index of the batch's first example; tensors made inside `fn` are disposed after it.
 */
export function forEachBatch(ds: Dataset, batchSize: number, fn: (x: tf.Tensor4D, start: number) => void): void {
  const row = ds.shape[0] * ds.shape[1] * ds.shape[2];
  for (let i = 0; i < ds.count; i += batchSize) {
    const n = Math.min(batchSize, ds.count - i);
    tf.tidy(() => fn(tf.tensor4d(ds.images.subarray(i * row, (i + n) * row), [n, ds.shape[0], ds.shape[1], ds.shape[2]]), i));
  }
}

/** The model's predictions on the first `ds.count` examples, in batches. */
export function predictDataset(f: LogitsFn, ds: Dataset, batchSize = 500): Int32Array {
  const out = new Int32Array(ds.count);
  forEachBatch(ds, batchSize, (x, i) => out.set(f(x).argMax(-1).dataSync() as Int32Array, i));
  return out;
}

/** One verified batch of a dataset-level run. */
export interface BatchOutcome {
  ids: number[];
  success: Uint8Array;
  perturbation: Float32Array;
  pred: Int32Array;
  /** The verified adversarial rows, flat. */
  data: Float32Array;
}

/**
 * Runs `attack` over dataset rows `ids` in batches through `runAttack`, handing each verified batch to
 * `onBatch` (which may record, checkpoint or report progress). Between batches it yields to the event
 * loop, so a Ctrl-C handler can run; once `signal` is aborted it throws InterruptedError before the next
 * batch, every finished batch having been handed to `onBatch`.
 */
export async function attackRows(
  f: LogitsFn, ds: Dataset, ids: readonly number[], attack: Attack,
  o: { batchSize?: number; criterion?: Criterion; signal?: AbortSignal; onBatch: (b: BatchOutcome, doneSoFar: number) => void },
): Promise<void> {
  const bs = o.batchSize ?? 250;
  for (let k = 0; k < ids.length; k += bs) {
    await checkpointInterrupt(o.signal);
    const part = ids.slice(k, k + bs);
    const { x, y } = gatherRows(ds, part);
    try {
      const r = runAttack(attack, f, x, y, { ids: part, ...(o.criterion !== undefined ? { criterion: o.criterion } : {}) });
      const data = r.adversarial.dataSync() as Float32Array;
      r.adversarial.dispose();
      o.onBatch({ ids: part, success: r.success, perturbation: r.perturbation, pred: r.pred, data }, Math.min(k + bs, ids.length));
    } finally {
      tf.dispose([x, y]);
    }
  }
}
