/**
 * The constrained synonym attack: only words from a restricted candidate set (WordNet synonyms and/or
 * the model's own embedding neighbours) may replace a word. Each step shortlists the `probe` best swaps
 * by first-order score, measures the true objective of each on the real ids, and keeps the best — so a
 * misleading gradient costs queries, not correctness. Stops when the goal holds or no swap helps.
 */
import { UserError } from '../../util/errors.js';
import { applySwap, shortlist } from './first-order.js';
import type { WordAttack, WordAttackInput, WordAttackOutput } from './word-attack.js';
import { objectiveOf, reached, type WordModel } from './word-model.js';

export interface SynonymOptions {
  probe?: number;
}

export function synonymAttack(o: SynonymOptions = {}): WordAttack {
  const probe = o.probe ?? 16;
  if (!Number.isInteger(probe) || probe < 1) throw new Error(`synonym: probe must be an integer ≥ 1, got ${probe}`);
  return {
    name: 'synonym',
    run(m: WordModel, x: WordAttackInput): WordAttackOutput {
      if (x.candidates.kind === 'vocabulary') throw new UserError('synonym attack: needs a constrained candidate set (wordnet, neighbours or wordnet+neighbours), not the whole vocabulary');
      const C = m.numClasses;
      let queries = 1;
      const start = m.logits(x.ids, 1);
      if (reached(start, 0, C, x.goal)) return { ids: x.ids.slice(), queries };
      let cur: Int32Array = x.ids.slice();
      let value = objectiveOf(start, 0, C, x.goal);
      for (let step = 0; step < x.maxSwaps; step++) {
        const { swaps } = shortlist(m, x.ids, [cur], x.goal, x.candidates, probe);
        queries += 1;
        if (swaps.length === 0) break;
        const next = swaps.map((s) => applySwap(cur, s));
        const flat = new Int32Array(next.length * m.length);
        next.forEach((b, k) => flat.set(b, k * m.length));
        const logits = m.logits(flat, next.length);
        queries += next.length;
        let best = 0;
        for (let k = 1; k < next.length; k++) if (objectiveOf(logits, k, C, x.goal) > objectiveOf(logits, best, C, x.goal)) best = k;
        const v = objectiveOf(logits, best, C, x.goal);
        if (reached(logits, best, C, x.goal)) return { ids: next[best] as Int32Array, queries };
        if (v <= value) break;
        cur = next[best] as Int32Array;
        value = v;
      }
      return { ids: cur, queries };
    },
  };
}
