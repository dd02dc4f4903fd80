/**
 * HotFlip for a whole training batch at once: the discrete adversary of word-swap training. Each of
 * `swaps` rounds takes one gradient of the loss with respect to every position's embedding (one
 * backward pass for the batch), shortlists in each message the `positions` open words with the largest
 * gradient norm, scores every vocabulary word there by (e_w′ − e_w)·∇_{e_i}L, and
 * applies the best swap. Unlike `hotflip` it does not re-check swaps on the model (training needs a hard
 * twin, not a verified one) and restricts the full-vocabulary scores to the shortlisted positions, so a
 * round costs about one PGD step plus one [B·P, D]×[D, V] matrix product.
 *
 * Everything large stays on the backend: the gradient, the product and the per-row best words; only
 * the per-position gradient norms and three numbers per shortlisted row come back. (Reading the
 * [B·P, V] scores or the [B, L, D] gradient into JavaScript cost seconds per round on the shared
 * machine, more than the arithmetic.)
 */
import * as tf from '@tensorflow/tfjs';
import { PAD_ID, UNK_ID } from '../../data/text.js';
import type { EmbeddingSplit } from '../../model/text.js';

export interface BatchHotflipOptions {
  swaps: number;
  /** Positions per message whose swaps are scored each round. */
  positions?: number;
}

/**
 * Per message, the open positions (words not yet swapped) with the largest squared gradient norm
 * `norms` [B·L], largest first (ties: the earlier position), as flat row indices b·L + i.
 */
export function shortlistRows(norms: Float32Array, orig: Int32Array, cur: Int32Array, B: number, L: number, P: number): number[] {
  const rows: number[] = [];
  for (let b = 0; b < B; b++) {
    const open: Array<[number, number]> = [];
    for (let i = 0; i < L; i++) {
      const r = b * L + i;
      if (orig[r] === PAD_ID || cur[r] !== orig[r]) continue;
      open.push([norms[r] as number, r]);
    }
    open.sort((a, c) => c[0] - a[0] || a[1] - c[1]);
    for (const [, r] of open.slice(0, P)) rows.push(r);
  }
  return rows;
}

/** Per shortlisted row: the best replacement word, its score g·e_v, and the current word's score g·e_cur. */
export interface RowBest {
  word: Int32Array;
  score: Float32Array;
  base: Float32Array;
}

/**
 * For gradient rows `grads` [R, D] at positions holding `curIds`: argmax_v g·e_v over the words that may
 * replace the current one (not PAD, UNK or itself; the lowest id on ties), on the backend. The top two
 * of each row are taken so that the current word, when it is the best, can be skipped.
 */
export function rowBest(grads: tf.Tensor2D, table: tf.Tensor2D, curIds: Int32Array): RowBest {
  const R = grads.shape[0], V = table.shape[0];
  const [values, indices, base] = tf.tidy(() => {
    const scores = tf.matMul(grads, table, false, true); // [R, V]
    // PAD and UNK are never replacements: pushed far below any real score (adding 0 keeps the rest exact).
    const bar = new Float32Array(V);
    bar[PAD_ID] = -3e38;
    bar[UNK_ID] = -3e38;
    const { values, indices } = tf.topk(tf.add(scores, tf.tensor2d(bar, [1, V])), 2, true);
    const at = tf.tensor1d(Int32Array.from(curIds, (c, k) => k * V + c), 'int32');
    return [values, indices, tf.gather(scores.reshape([-1]), at)];
  });
  const v = values.dataSync() as Float32Array, ix = indices.dataSync() as Int32Array, b = base.dataSync() as Float32Array;
  tf.dispose([values, indices, base]);
  const word = new Int32Array(R), score = new Float32Array(R);
  for (let k = 0; k < R; k++) {
    const j = ix[2 * k] === curIds[k] ? 1 : 0;
    word[k] = ix[2 * k + j] as number;
    score[k] = v[2 * k + j] as number;
  }
  return { word, score, base: Float32Array.from(b) };
}

/**
 * The best swap per message: over its shortlisted rows in shortlist order, the row whose best word
 * gains most over the current word, score − base (the first row on ties). Within a row the best word is
 * the argmax of g·e_v itself: subtracting the row's constant base keeps the order.
 */
export function bestSwaps(rows: number[], m: RowBest, L: number): Map<number, { r: number; v: number; gain: number }> {
  const best = new Map<number, { r: number; v: number; gain: number }>();
  rows.forEach((r, k) => {
    const b = Math.floor(r / L);
    const gain = (m.score[k] as number) - (m.base[k] as number);
    const held = best.get(b);
    if (held === undefined || gain > held.gain) best.set(b, { r, v: m.word[k] as number, gain });
  });
  return best;
}

/** Adversarial token ids [B, L, 1, 1] (as alp stores ids: float32), at most `swaps` words changed per message. */
export function batchHotflip(split: EmbeddingSplit, ids: tf.Tensor4D, y: tf.Tensor1D, o: BatchHotflipOptions): tf.Tensor4D {
  const P = o.positions ?? 4;
  const B = ids.shape[0], L = split.sequenceLength, D = split.dim;
  const orig = Int32Array.from(ids.dataSync());
  const cur = orig.slice();
  const table = split.table(); // the live weights, [V, D]
  const loss = (e: tf.Tensor): tf.Scalar => tf.losses.softmaxCrossEntropy(tf.oneHot(y, (split.head.outputs[0]?.shape[1] as number)), split.head.apply(e, { training: false }) as tf.Tensor2D, undefined, 0, tf.Reduction.SUM) as tf.Scalar;
  for (let round = 0; round < o.swaps; round++) {
    const g = tf.tidy(() => tf.reshape(tf.grad(loss)(split.embed(tf.tensor4d(Float32Array.from(cur), [B, L, 1, 1]), false)), [B * L, D]) as tf.Tensor2D);
    try {
      const norms = tf.tidy(() => tf.sum(tf.square(g), 1).dataSync() as Float32Array);
      const rows = shortlistRows(norms, orig, cur, B, L, P);
      if (rows.length === 0) break;
      const picked = tf.tidy(() => tf.gather(g, tf.tensor1d(rows, 'int32')) as tf.Tensor2D);
      const best = rowBest(picked, table, Int32Array.from(rows, (r) => cur[r] as number));
      picked.dispose();
      for (const { r, v } of bestSwaps(rows, best, L).values()) cur[r] = v;
    } finally {
      g.dispose();
    }
  }
  return tf.tensor4d(Float32Array.from(cur), [B, L, 1, 1]);
}
