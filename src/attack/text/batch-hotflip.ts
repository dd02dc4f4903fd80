/**
 * HotFlip for a whole training batch at once: the discrete adversary of word-swap training. Each of
 * `swaps` rounds takes one gradient of the loss with respect to every position's embedding (one
 * backward pass for the batch), shortlists in each message the `positions` open words with the largest
 * gradient norm, scores every vocabulary word there by (e_w′ − e_w)·∇_{e_i}L, and
 * applies the best swap. Unlike `hotflip` it does not re-check swaps on the model (training needs a hard
 * twin, not a verified one) and restricts the full-vocabulary scores to the shortlisted positions, so a
 * round costs about one PGD step plus B·P·V dot products of length D.
 */
import * as tf from '@tensorflow/tfjs';
import { PAD_ID, UNK_ID } from '../../data/text.js';
import type { EmbeddingSplit } from '../../model/text.js';

export interface BatchHotflipOptions {
  swaps: number;
  /** Positions per message whose swaps are scored each round. */
  positions?: number;
}

/** Adversarial token ids [B, L, 1, 1] (as alp stores ids: float32), at most `swaps` words changed per message. */
export function batchHotflip(split: EmbeddingSplit, ids: tf.Tensor4D, y: tf.Tensor1D, o: BatchHotflipOptions): tf.Tensor4D {
  const P = o.positions ?? 4;
  const B = ids.shape[0], L = split.sequenceLength, D = split.dim, V = split.vocabularySize;
  const orig = Int32Array.from(ids.dataSync());
  const cur = orig.slice();
  const table = split.table().dataSync() as Float32Array; // the live weights, read once per batch
  const loss = (e: tf.Tensor): tf.Scalar => tf.losses.softmaxCrossEntropy(tf.oneHot(y, (split.head.outputs[0]?.shape[1] as number)), split.head.apply(e, { training: false }) as tf.Tensor2D, undefined, 0, tf.Reduction.SUM) as tf.Scalar;
  for (let round = 0; round < o.swaps; round++) {
    const g = tf.tidy(() => tf.grad(loss)(split.embed(tf.tensor4d(Float32Array.from(cur), [B, L, 1, 1]), false)).dataSync() as Float32Array);
    // The open positions (words not yet swapped) with the largest gradient norm, per message.
    const rows: number[] = [];
    for (let b = 0; b < B; b++) {
      const open: Array<[number, number]> = [];
      for (let i = 0; i < L; i++) {
        const r = b * L + i;
        if (orig[r] === PAD_ID || cur[r] !== orig[r]) continue;
        let s = 0;
        for (let d = 0; d < D; d++) s += (g[r * D + d] as number) ** 2;
        open.push([s, r]);
      }
      open.sort((a, c) => c[0] - a[0] || a[1] - c[1]);
      for (const [, r] of open.slice(0, P)) rows.push(r);
    }
    if (rows.length === 0) break;
    // g_i·e_v for every word v at the shortlisted rows, in plain loops: a [B·P, D]×[D, V] product is
    // about 10⁸ multiply-adds, well under a second here, and tf's matMul on the wasm backend was far slower.
    const scores = new Float32Array(rows.length * V);
    rows.forEach((r, k) => {
      const gr = g.subarray(r * D, (r + 1) * D);
      for (let v = 0; v < V; v++) {
        let s = 0;
        const o = v * D;
        for (let d = 0; d < D; d++) s += (gr[d] as number) * (table[o + d] as number);
        scores[k * V + v] = s;
      }
    });
    const best = new Map<number, { r: number; v: number; score: number }>();
    rows.forEach((r, k) => {
      const base = scores[k * V + (cur[r] as number)] as number;
      const b = Math.floor(r / L);
      for (let v = 0; v < V; v++) {
        if (v === PAD_ID || v === UNK_ID || v === cur[r]) continue;
        const s = (scores[k * V + v] as number) - base;
        const held = best.get(b);
        if (held === undefined || s > held.score) best.set(b, { r, v, score: s });
      }
    });
    for (const { r, v } of best.values()) cur[r] = v;
  }
  return tf.tensor4d(Float32Array.from(cur), [B, L, 1, 1]);
}
