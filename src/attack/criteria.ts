/**
 * Success criteria: what counts as an adversarial example. The runner evaluates the criterion inside
 * the search (every point an attack records) and again on the verified result, so an attack stops on
 * an example only once the criterion — not a hard-coded "misclassified" — holds there.
 */
import * as tf from '@tensorflow/tfjs';
import type { LogitsFn } from '../model/classifier.js';

/** What a criterion sees for one batch of points. */
export interface CriterionInput {
  f: LogitsFn;
  /** The points, inside the threat model; made on first read, so label-only criteria cost no copy. */
  readonly adversarial: tf.Tensor;
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
      const sub = rows.length === n ? null : criterionRows(c, rows);
      try {
        const r = crit(sub?.input ?? c);
        const next = new Uint8Array(n);
        rows.forEach((i, j) => (next[i] = r[j] as number));
        ok = next;
      } finally {
        sub?.dispose();
      }
    }
    return ok;
  };
}

/**
 * A criterion input whose points are made by `make` only when a criterion reads them, and kept out of
 * any enclosing tf.tidy (a criterion may read them inside one); `dispose` frees them if they were made.
 */
export function lazyCriterionInput(base: Omit<CriterionInput, 'adversarial'>, make: () => tf.Tensor): { input: CriterionInput; dispose: () => void } {
  let points: tf.Tensor | undefined;
  const input = { ...base } as CriterionInput;
  Object.defineProperty(input, 'adversarial', { enumerable: true, get: () => (points ??= tf.keep(tf.tidy(make))) });
  return { input, dispose: () => points?.dispose() };
}

/** Rows `rows` of a criterion input (their points gathered only if read). */
export function criterionRows(c: CriterionInput, rows: readonly number[]): { input: CriterionInput; dispose: () => void } {
  const pick = (a: Int32Array): Int32Array => Int32Array.from(rows, (i) => a[i] as number);
  return lazyCriterionInput(
    { f: c.f, pred: pick(c.pred), labels: pick(c.labels), ...(c.targets !== undefined ? { targets: pick(c.targets) } : {}) },
    () => tf.gather(c.adversarial, tf.tensor1d(Array.from(rows), 'int32')),
  );
}
