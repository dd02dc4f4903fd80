/**
 * The shortlist HotFlip and the synonym attack share: for each current message (beam), the `top`
 * single swaps with the highest first-order score (e_v − e_w)·∂J/∂e_i among legal ones, recomputed at
 * the current ids so that every earlier swap is taken into account.
 */
import * as tf from '@tensorflow/tfjs';
import { PAD_ID, UNK_ID } from '../../data/text.js';
import { candidateList, type CandidateSet } from './candidates.js';
import { openPositions } from './word-attack.js';
import type { WordGoal, WordModel } from './word-model.js';

export interface Swap {
  beam: number;
  position: number;
  to: number;
  score: number;
}

export function shortlist(m: WordModel, orig: Int32Array, beams: Int32Array[], goal: WordGoal, set: CandidateSet, top: number): { swaps: Swap[]; objective: Float32Array } {
  const L = m.length, V = m.vocabularySize;
  const flat = new Int32Array(beams.length * L);
  beams.forEach((b, k) => flat.set(b, k * L));
  // Scores are dot products done here, for open positions and legal candidates only: a dense
  // [L, D]×[D, V] product costs seconds on the wasm backend for a 10k-word vocabulary.
  const { objective, grad } = m.gradient(flat, beams.length, goal);
  const D = m.dim;
  const swaps: Swap[] = [];
  if (set.kind === 'vocabulary' && m.tableTensor !== undefined) {
    const t = m.tableTensor();
    beams.forEach((cur, b) => swaps.push(...vocabularyShortlist(grad.subarray(b * L * D, (b + 1) * L * D), t, orig, cur, set, top, D).map((s) => ({ ...s, beam: b }))));
    return { swaps, objective };
  }
  const table = m.table();
  beams.forEach((cur, b) => {
    const best: Swap[] = [];
    for (const i of openPositions(orig, cur, set)) {
      const g = (b * L + i) * D;
      const base = dot(grad, g, table, (cur[i] as number) * D, D);
      const cands = candidateList(set, orig[i] as number, V);
      for (let c = 0; c < cands.length; c++) {
        const v = cands[c] as number;
        const score = dot(grad, g, table, v * D, D) - base;
        if (best.length < top || score > (best[best.length - 1] as Swap).score) {
          best.push({ beam: b, position: i, to: v, score });
          best.sort((x, y) => y.score - x.score);
          if (best.length > top) best.pop();
        }
      }
    }
    swaps.push(...best);
  });
  return { swaps, objective };
}

/**
 * The `top` swaps of one message over the whole vocabulary, scored on the backend: g_i·e_v for every
 * open position i and word v as one [open, D]×[D, V] product, the best top+1 words per position (one may
 * be the current word), then the best `top` gains g_i·(e_v − e_w) overall (ties: earlier position, then
 * lower id, as the per-word loop orders them). Only (top+1)·open scores come back to JavaScript.
 */
export function vocabularyShortlist(grad: Float32Array, table: tf.Tensor2D, orig: Int32Array, cur: Int32Array, set: CandidateSet, top: number, D: number): Swap[] {
  const open = openPositions(orig, cur, set);
  if (open.length === 0) return [];
  const V = table.shape[0];
  const width = Math.min(top + 1, V);
  const rows = new Float32Array(open.length * D);
  open.forEach((i, k) => rows.set(grad.subarray(i * D, (i + 1) * D), k * D));
  const [values, indices, base] = tf.tidy(() => {
    const s = tf.matMul(tf.tensor2d(rows, [open.length, D]), table, false, true);
    const bar = new Float32Array(V);
    bar[PAD_ID] = -3e38;
    bar[UNK_ID] = -3e38;
    const t = tf.topk(tf.add(s, tf.tensor2d(bar, [1, V])), width, true);
    const at = tf.tensor1d(Int32Array.from(open, (i, k) => k * V + (cur[i] as number)), 'int32');
    return [t.values.dataSync() as Float32Array, t.indices.dataSync() as Int32Array, tf.gather(tf.reshape(s, [-1]), at).dataSync() as Float32Array];
  });
  const out: Swap[] = [];
  open.forEach((i, k) => {
    for (let j = 0; j < width; j++) {
      const v = indices[k * width + j] as number;
      if (v === cur[i] || v === PAD_ID || v === UNK_ID) continue;
      out.push({ beam: 0, position: i, to: v, score: (values[k * width + j] as number) - (base[k] as number) });
    }
  });
  out.sort((a, b) => b.score - a.score || a.position - b.position || a.to - b.to);
  return out.slice(0, top);
}

export function applySwap(cur: Int32Array, s: Swap): Int32Array {
  const next = cur.slice();
  next[s.position] = s.to;
  return next;
}

function dot(a: Float32Array, i: number, b: Float32Array, j: number, n: number): number {
  let s = 0;
  for (let d = 0; d < n; d++) s += (a[i + d] as number) * (b[j + d] as number);
  return s;
}

/**
 * HotFlip's first-order score of every swap [n·L·V]: (e_v − e_w)·∂J/∂e_i at the current ids, with J
 * per message (for tests and diagnostics; the searches score only legal swaps).
 */
export function firstOrderScores(m: WordModel, ids: Int32Array, n: number, goal: WordGoal): { objective: Float32Array; scores: Float32Array } {
  const L = m.length, V = m.vocabularySize, D = m.dim;
  const { objective, grad } = m.gradient(ids, n, goal);
  const table = m.table();
  const scores = new Float32Array(n * L * V);
  for (let r = 0; r < n * L; r++) {
    const base = dot(grad, r * D, table, (ids[r] as number) * D, D);
    for (let v = 0; v < V; v++) scores[r * V + v] = dot(grad, r * D, table, v * D, D) - base;
  }
  return { objective, scores };
}
