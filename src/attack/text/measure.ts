/**
 * What every word search does with the messages it proposes: run the model on their real ids and read
 * the objective of each (the searches never trust a first-order estimate for a decision). Shared by
 * HotFlip, the synonym attack and the greedy swap so that all three judge candidates the same way.
 */
import type { WordAttackInput, WordAttackOutput } from './word-attack.js';
import { objectiveOf, reached, type WordGoal, type WordModel } from './word-model.js';

export interface Measured {
  /** Logits [n, C] of the proposals. */
  logits: Float32Array;
  /** The objective of each proposal. */
  values: number[];
  /** The proposal with the highest objective (the first on ties). */
  best: number;
}

export function measure(m: WordModel, proposals: Int32Array[], goal: WordGoal): Measured {
  const flat = new Int32Array(proposals.length * m.length);
  proposals.forEach((p, k) => flat.set(p, k * m.length));
  const logits = m.logits(flat, proposals.length);
  const values = proposals.map((_, k) => objectiveOf(logits, k, m.numClasses, goal));
  let best = 0;
  values.forEach((v, k) => { if (v > (values[best] as number)) best = k; });
  return { logits, values, best };
}

/** A search's starting point: the message itself and its objective, or the finished output when the goal already holds. */
export function start(m: WordModel, x: WordAttackInput): { done: WordAttackOutput } | { ids: Int32Array; value: number } {
  const logits = m.logits(x.ids, 1);
  if (reached(logits, 0, m.numClasses, x.goal)) return { done: { ids: x.ids.slice(), queries: 1 } };
  return { ids: x.ids.slice(), value: objectiveOf(logits, 0, m.numClasses, x.goal) };
}

/**
 * One greedy step over `proposals`: the best of them on the real ids, `done` when it meets the goal;
 * null when none raises the objective above `value` (the search stops rather than wander).
 */
export function greedyStep(m: WordModel, proposals: Int32Array[], goal: WordGoal, value: number): { ids: Int32Array; value: number; done: boolean } | null {
  const r = measure(m, proposals, goal);
  const ids = proposals[r.best] as Int32Array, v = r.values[r.best] as number;
  if (reached(r.logits, r.best, m.numClasses, goal)) return { ids, value: v, done: true };
  return v > value ? { ids, value: v, done: false } : null;
}
