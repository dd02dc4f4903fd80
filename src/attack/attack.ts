import type * as tf from '@tensorflow/tfjs';
import type { LogitsFn } from '../model/classifier.js';
import type { Criterion } from './criteria.js';
import type { AttackResult } from './gradient-attack.js';
import type { ThreatModel } from './threat-model.js';

/**
 * Every attack: a name for reports, its threat model, and a batched search. Run it with `runAttack`
 * (./runner.ts), which drives the search with a success criterion and verifies what it returns.
 */
export interface Attack<R extends AttackResult = AttackResult> {
  readonly name: string;
  readonly threat: ThreatModel;
  /** The success criterion the attack is built for, when it is not `targetHit` (e.g. also evading a detector). */
  readonly criterion?: Criterion;
  /**
   * @internal The attack's own search, unverified: callers go through `runAttack`. Attacks a batch.
   * `labels` are the true classes; `targets`, when given, makes the attack targeted.
   * `ids`, the examples' indices in the dataset, seed their random choices (default: batch positions).
   * The result's adversarial tensor is owned by the caller.
   */
  run(f: LogitsFn, x: tf.Tensor, labels: tf.Tensor1D, targets?: tf.Tensor1D, ids?: readonly number[]): R;
  /**
   * @internal Optional transfer mode, for `Transfer` on its surrogate: adversarial points for `f` that run every step and keep the strongest
   * iterate rather than stopping at the decision boundary (which transfers badly). Owned by the caller.
   */
  craft?(f: LogitsFn, x: tf.Tensor, labels: tf.Tensor1D, targets?: tf.Tensor1D, ids?: readonly number[]): tf.Tensor;
  /** The settings that reproduce this attack, for reports. */
  describe(): Record<string, unknown>;
}

/** What the runner hands one run (restart) of an attack. */
export interface RunContext {
  /** Index of this run, 0-based. */
  run: number;
  /** Per example of this run, the seed of its random choices (from the attack's seed, the run and its dataset index). */
  seeds: Int32Array;
  /** The clean logits of the examples of this run, row-major (e.g. to rank wrong classes). */
  cleanLogits: Float32Array;
  /**
   * False in transfer mode: no success is recorded, so the run should take all its steps (a gradient
   * attack then skips its per-step success checks); the runner keeps the point of highest score.
   */
  stopEarly: boolean;
  /**
   * Hands the runner points the attack reached: `rows` (positions in this run's batch; default all) of
   * `points()` (read only when needed) with the model's predictions there. The first point that meets
   * the goal is kept for its example. Returns, per example of the run, whether it is fooled so far.
   */
  record(points: () => Float32Array, pred: Int32Array, rows?: readonly number[]): Uint8Array;
}

/** What one run returns: per example its strongest point and a score of it (higher = stronger). */
export interface SingleRun {
  adversarial: tf.Tensor;
  score: Float32Array;
}

/**
 * An attack that supplies only its single run and its geometry; the runner (`searchWithRestarts`)
 * owns restarts over the still-unfooled examples, the active set and keeping the first success.
 */
export interface SearchAttack {
  readonly threat: ThreatModel;
  readonly seed: number;
  /** How many runs (restarts) to make for a model with `classes` outputs, targeted or not. */
  runs(classes: number, targeted: boolean): number;
  /** One run on the examples given (the runner's active set); `targets` makes it targeted. */
  single(f: LogitsFn, x: tf.Tensor, labels: tf.Tensor1D, targets: tf.Tensor1D | undefined, ctx: RunContext): SingleRun;
}
