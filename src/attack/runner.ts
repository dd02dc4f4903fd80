/**
 * The one entry point through which every evaluation runs an attack (eval, the audit's cascade,
 * detect-eval with its adaptive attack, transfer), and the package's only public one. Restartable
 * attacks supply single runs to the runner's search, which judges every point they record by a
 * composable success criterion (./criteria.ts); the runner also owns what must not drift between
 * callers: the input check, clipping the result to the ε-ball and the box, a fresh forward pass that
 * decides success under the same criterion, and the per-example perturbation size.
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
import { lazyCriterionInput, targetHit, type Criterion } from './criteria.js';
import { boundsOf, normOf, projectToThreat } from './threat-model.js';

export interface AttackRunOptions {
  targets?: tf.Tensor1D;
  /** The examples' indices in the dataset, which seed their random starts (default: batch positions). */
  ids?: readonly number[];
  /**
   * What counts as success, inside the search and on the verified result. Default: the attack's own
   * `criterion`, else `targetHit` (misclassified, or the target when targets are given).
   */
  criterion?: Criterion;
}

/** How `searchWithRestarts` runs: see there. */
export interface SearchOptions {
  targets?: tf.Tensor1D | undefined;
  ids?: readonly number[] | undefined;
  mode?: 'first-success' | 'strongest';
  /** Decides which recorded points count as success (default `targetHit`). */
  criterion?: Criterion;
}

/** A search's points, with per example the run that found its successful point (−1: the clean input). */
export interface SearchResult extends AttackResult {
  foundIn: Int32Array;
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
 * The search every restartable attack shares: each run (restart) attacks only the examples no earlier
 * run succeeded on, with a fresh seed; every point the attack hands to `record` is judged by the
 * criterion (default `targetHit`: misclassified, or the target when `targets` are given) and the first
 * that meets it is kept for its example, which is then done; a clean input that already meets it is its
 * own result. For examples never done, the point of highest score over all runs is returned. Random
 * choices are seeded per example from `ids`, the examples' indices in the dataset (default: positions).
 *
 * `mode: 'strongest'` is the transfer mode (crafting on a surrogate): no example is ever taken as done,
 * every run runs all its steps on every example (`ctx.stopEarly` is false), and the point of highest
 * score over all runs is returned for each; `success` is then all 0 (the caller judges on its model).
 */
export function searchWithRestarts(a: SearchAttack, f: LogitsFn, x: tf.Tensor, labels: tf.Tensor1D, o: SearchOptions = {}): SearchResult {
  const { targets, ids } = o;
  const stopEarly = (o.mode ?? 'first-success') === 'first-success';
  const criterion = o.criterion ?? targetHit;
  const n = x.shape[0] as number;
  const rowSize = x.size / Math.max(n, 1);
  const best = new Float32Array(x.dataSync() as Float32Array);
  assertValidInputs(best, 'attack input', boundsOf(a.threat));
  const targeted = targets !== undefined;
  const labelData = Int32Array.from(labels.dataSync());
  const targetData = targets !== undefined ? Int32Array.from(targets.dataSync()) : undefined;
  const success = new Uint8Array(n);
  const foundIn = new Int32Array(n).fill(-1);
  const bestScore = new Float32Array(n).fill(-Infinity);
  if (ids !== undefined && ids.length !== n) throw new Error(`searchWithRestarts: ${ids.length} ids for ${n} examples`);

  /** The criterion on examples `rows` at points `make()` (one row each, in that order), made only if read. */
  const judge = (rows: readonly number[], pred: Int32Array, make: () => tf.Tensor): Uint8Array => {
    const pick = (d: Int32Array): Int32Array => Int32Array.from(rows, (i) => d[i] as number);
    const { input, dispose } = lazyCriterionInput({ f, pred, labels: pick(labelData), ...(targetData !== undefined ? { targets: pick(targetData) } : {}) }, make);
    try {
      return criterion(input);
    } finally {
      dispose();
    }
  };

  const clean = tf.tidy(() => f(x));
  const classes = clean.shape[1] as number;
  const cleanZ = Float32Array.from(clean.dataSync() as Float32Array);
  const cleanPred = tf.tidy(() => clean.argMax(-1).dataSync() as Int32Array);
  clean.dispose();
  if (stopEarly) {
    judge(Array.from({ length: n }, (_, i) => i), cleanPred, () => tf.clone(x)).forEach((ok, i) => {
      if (ok) success[i] = 1;
    });
  }

  const runs = a.runs(classes, targeted);
  for (let r = 0; r < runs; r++) {
    const active: number[] = [];
    for (let i = 0; i < n; i++) if (!success[i]) active.push(i);
    if (active.length === 0) break;
    const m = active.length;
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
        // Positions q (in this call's points) of the run's examples not yet done.
        const open: number[] = [];
        at.forEach((j, q) => {
          if (!local[j]) open.push(q);
        });
        if (open.length === 0) return local;
        let data: Float32Array | undefined;
        const rowsOf = (): Float32Array => {
          data ??= points();
          const out = new Float32Array(open.length * rowSize);
          open.forEach((q, k) => out.set((data as Float32Array).subarray(q * rowSize, (q + 1) * rowSize), k * rowSize));
          return out;
        };
        const ok = judge(open.map((q) => active[at[q] as number] as number), Int32Array.from(open, (q) => pred[q] as number), () => tf.tensor(rowsOf(), [open.length, ...x.shape.slice(1)]));
        open.forEach((q, k) => {
          if (!ok[k]) return;
          const j = at[q] as number;
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
        if (local[j]) {
          success[i] = 1;
          foundIn[i] = r;
        } else if ((out.score[j] as number) > (bestScore[i] as number)) {
          bestScore[i] = out.score[j] as number;
          best.set(data.subarray(j * rowSize, (j + 1) * rowSize), i * rowSize);
        }
      }
    } finally {
      tf.dispose([idx, xs, ys, ...(ts !== undefined ? [ts] : [])]);
    }
  }
  return { adversarial: tf.tensor(best, x.shape), success, foundIn };
}

/**
 * Runs `attack` on a batch and verifies what it returns: the public way to run any attack. The
 * criterion (`o.criterion`, else the attack's own, else `targetHit`) drives the attack's search and
 * decides success again on a fresh forward pass of the clipped result.
 */
export function runAttack<R extends AttackResult>(attack: Attack<R>, f: LogitsFn, x: tf.Tensor, labels: tf.Tensor1D, o: AttackRunOptions = {}): VerifiedResult<R> {
  const box = boundsOf(attack.threat);
  assertValidInputs(x.dataSync() as Float32Array, `${attack.name} input`, box);
  const criterion = o.criterion ?? attack.criterion ?? targetHit;
  const { adversarial: raw, ...detail } = isSearchAttack(attack) ? (searchWithRestarts(attack, f, x, labels, { targets: o.targets, ids: o.ids, criterion }) as unknown as R) : attack.run(f, x, labels, o.targets, o.ids);
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
