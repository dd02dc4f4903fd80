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
  const { objective, scores } = m.firstOrder(flat, beams.length, goal);
  const swaps: Swap[] = [];
  beams.forEach((cur, b) => {
    const best: Swap[] = [];
    for (const i of openPositions(orig, cur, set)) {
      const row = (b * L + i) * V;
      const cands = candidateList(set, orig[i] as number, V);
      for (let c = 0; c < cands.length; c++) {
        const v = cands[c] as number;
        const score = scores[row + v] as number;
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
