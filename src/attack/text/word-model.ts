/**
 * What a word-substitution attack needs from a text model, on token ids (never relaxed embeddings):
 * logits of whole messages, the attacker's objective, and its gradient with respect to each position's
 * embedding (for first-order scores). Built from the model's split at its Embedding layer.
 */
import * as tf from '@tensorflow/tfjs';
import type { EmbeddingSplit } from '../../model/text.js';

/** Whom a message's swaps serve: away from `label`, or towards `target` when given. */
export interface WordGoal {
  label: number;
  target?: number;
}

export interface WordModel {
  length: number;
  dim: number;
  vocabularySize: number;
  /** Logits [n, C] of n messages of `length` ids each (flat). */
  logits(ids: Int32Array, n: number): Float32Array;
  numClasses: number;
  /** The embedding table [V·D], row-major, as it is now. */
  table(): Float32Array;
  /** The same table as a backend tensor [V, D] (not to be disposed), for scoring the whole vocabulary by one product. */
  tableTensor?(): tf.Tensor2D;
  /**
   * The objective J (to maximise) for n messages and ∂J/∂e per position, [n·L·D]. J is the cross-entropy
   * of the label (untargeted) or minus that of the target (targeted).
   */
  gradient(ids: Int32Array, n: number, goal: WordGoal): { objective: Float32Array; grad: Float32Array };
}

function idsTensor(ids: Int32Array, n: number, L: number): tf.Tensor4D {
  return tf.tensor4d(Float32Array.from(ids), [n, L, 1, 1]);
}

/** J per row from logits; one goal for every row. */
function objective(logits: tf.Tensor2D, goal: WordGoal): tf.Tensor1D {
  const n = logits.shape[0];
  const c = logits.shape[1];
  const cls = goal.target ?? goal.label;
  const ce = tf.losses.softmaxCrossEntropy(tf.oneHot(tf.fill([n], cls, 'int32') as tf.Tensor1D, c), logits, undefined, 0, tf.Reduction.NONE) as tf.Tensor1D;
  return goal.target === undefined ? ce : tf.neg(ce);
}

/** J from logits already read back, for the query-only searches. */
export function objectiveOf(logits: Float32Array, row: number, c: number, goal: WordGoal): number {
  let max = -Infinity;
  for (let j = 0; j < c; j++) max = Math.max(max, logits[row * c + j] as number);
  let sum = 0;
  for (let j = 0; j < c; j++) sum += Math.exp((logits[row * c + j] as number) - max);
  const ce = max + Math.log(sum) - (logits[row * c + (goal.target ?? goal.label)] as number);
  return goal.target === undefined ? ce : -ce;
}

/** Whether logits row `row` meets the goal (prediction off the label, or on the target). */
export function reached(logits: Float32Array, row: number, c: number, goal: WordGoal): boolean {
  let best = 0;
  for (let j = 1; j < c; j++) if ((logits[row * c + j] as number) > (logits[row * c + best] as number)) best = j;
  return goal.target === undefined ? best !== goal.label : best === goal.target;
}

export function wordModel(split: EmbeddingSplit, batchSize = 256): WordModel {
  const L = split.sequenceLength;
  const numClasses = (split.head.outputs[0]?.shape[1] as number);
  const logits = (ids: Int32Array, n: number): Float32Array => {
    const out = new Float32Array(n * numClasses);
    for (let i = 0; i < n; i += batchSize) {
      const m = Math.min(batchSize, n - i);
      out.set(tf.tidy(() => (split.head.apply(split.embed(idsTensor(ids.subarray(i * L, (i + m) * L), m, L))) as tf.Tensor).dataSync() as Float32Array), i * numClasses);
    }
    return out;
  };
  const gradient = (ids: Int32Array, n: number, goal: WordGoal): { objective: Float32Array; grad: Float32Array } =>
    tf.tidy(() => {
      const e = split.embed(idsTensor(ids, n, L));
      const f = (x: tf.Tensor): tf.Scalar => tf.sum(objective(split.head.apply(x) as tf.Tensor2D, goal));
      const g = tf.grad(f)(e);
      const j = objective(split.head.apply(e) as tf.Tensor2D, goal);
      return { objective: j.dataSync() as Float32Array, grad: g.dataSync() as Float32Array };
    });
  return {
    length: L, dim: split.dim, vocabularySize: split.vocabularySize, numClasses, logits, gradient,
    table: () => split.table().dataSync() as Float32Array,
    tableTensor: () => split.table(),
  };
}
