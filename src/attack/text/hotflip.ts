/**
 * HotFlip at the word level (Ebrahimi et al. 2018; the form AllenNLP's HotFlip uses): the gain of
 * replacing word w by w′ at position i is estimated as (e_w′ − e_w)·∇_{e_i} J, and the best swap is
 * taken, the gradient recomputed, and so on until the goal holds on the real ids or the budget is spent.
 * With a beam width b > 1 each beam proposes its b best first-order swaps and the b messages with the
 * highest true objective survive.
 */
import { applySwap, shortlist } from './first-order.js';
import type { WordAttack, WordAttackInput, WordAttackOutput } from './word-attack.js';
import { objectiveOf, reached, type WordModel } from './word-model.js';

export interface HotFlipOptions {
  beamWidth?: number;
}

export function hotflip(o: HotFlipOptions = {}): WordAttack {
  const width = o.beamWidth ?? 1;
  if (!Number.isInteger(width) || width < 1) throw new Error(`hotflip: beam width must be an integer ≥ 1, got ${width}`);
  return {
    name: 'hotflip',
    run(m: WordModel, x: WordAttackInput): WordAttackOutput {
      const C = m.numClasses;
      let queries = 1;
      const start = m.logits(x.ids, 1);
      if (reached(start, 0, C, x.goal)) return { ids: x.ids.slice(), queries };
      let beams: Int32Array[] = [x.ids.slice()];
      let values = [objectiveOf(start, 0, C, x.goal)];
      for (let step = 0; step < x.maxSwaps; step++) {
        const { swaps } = shortlist(m, x.ids, beams, x.goal, x.candidates, width);
        queries += beams.length;
        if (swaps.length === 0) break;
        const next = (width === 1 ? swaps.slice(0, 1) : swaps).map((s) => applySwap(beams[s.beam] as Int32Array, s));
        const flat = new Int32Array(next.length * m.length);
        next.forEach((b, k) => flat.set(b, k * m.length));
        const logits = m.logits(flat, next.length);
        queries += next.length;
        const order = next.map((_, k) => k).sort((a, b) => objectiveOf(logits, b, C, x.goal) - objectiveOf(logits, a, C, x.goal));
        const hit = order.find((k) => reached(logits, k, C, x.goal));
        if (hit !== undefined) return { ids: next[hit] as Int32Array, queries };
        const keep = order.slice(0, width);
        beams = keep.map((k) => next[k] as Int32Array);
        values = keep.map((k) => objectiveOf(logits, k, C, x.goal));
      }
      // No success: the message with the highest objective (HotFlip may overshoot; that is its nature).
      let best = 0;
      values.forEach((v, k) => { if (v > (values[best] as number)) best = k; });
      return { ids: beams[best] as Int32Array, queries };
    },
  };
}
