/**
 * HotFlip at the word level (Ebrahimi et al. 2018; the form AllenNLP's HotFlip uses): the gain of
 * replacing word w by w′ at position i is estimated as (e_w′ − e_w)·∇_{e_i} J, and the best swap is
 * taken, the gradient recomputed, and so on until the goal holds on the real ids or the budget is spent.
 * With a beam width b > 1 each beam proposes its b best first-order swaps and the b messages with the
 * highest true objective survive.
 */
import { applySwap, shortlist } from './first-order.js';
import type { WordAttack, WordAttackInput, WordAttackOutput } from './word-attack.js';
import { measure, start } from './measure.js';
import { reached, type WordModel } from './word-model.js';

export interface HotFlipOptions {
  beamWidth?: number;
}

export function hotflip(o: HotFlipOptions = {}): WordAttack {
  const width = o.beamWidth ?? 1;
  if (!Number.isInteger(width) || width < 1) throw new Error(`hotflip: beam width must be an integer ≥ 1, got ${width}`);
  return {
    name: 'hotflip',
    run(m: WordModel, x: WordAttackInput): WordAttackOutput {
      const s0 = start(m, x);
      if ('done' in s0) return s0.done;
      let queries = 1;
      let beams: Int32Array[] = [s0.ids];
      let values = [s0.value];
      for (let step = 0; step < x.maxSwaps; step++) {
        const { swaps } = shortlist(m, x.ids, beams, x.goal, x.candidates, width);
        queries += beams.length;
        if (swaps.length === 0) break;
        const next = (width === 1 ? swaps.slice(0, 1) : swaps).map((s) => applySwap(beams[s.beam] as Int32Array, s));
        const r = measure(m, next, x.goal);
        queries += next.length;
        const order = next.map((_, k) => k).sort((a, b) => (r.values[b] as number) - (r.values[a] as number));
        const hit = order.find((k) => reached(r.logits, k, m.numClasses, x.goal));
        if (hit !== undefined) return { ids: next[hit] as Int32Array, queries };
        const keep = order.slice(0, width);
        beams = keep.map((k) => next[k] as Int32Array);
        values = keep.map((k) => r.values[k] as number);
      }
      // No success: the message with the highest objective (HotFlip may overshoot; that is its nature).
      let best = 0;
      values.forEach((v, k) => { if (v > (values[best] as number)) best = k; });
      return { ids: beams[best] as Int32Array, queries };
    },
  };
}
