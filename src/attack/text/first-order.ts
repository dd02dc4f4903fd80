/**
 * The shortlist HotFlip and the synonym attack share: for each current message (beam), the `top`
 * single swaps with the highest first-order score (e_v − e_w)·∂J/∂e_i among legal ones, recomputed at
 * the current ids so that every earlier swap is taken into account.
 */
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
  const table = m.table();
  const D = m.dim;
  const swaps: Swap[] = [];
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
