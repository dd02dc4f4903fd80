/**
 * The constrained synonym attack: only words from a restricted candidate set (WordNet synonyms and/or
 * the model's own embedding neighbours) may replace a word. Each step shortlists the `probe` best swaps
 * by first-order score, measures the true objective of each on the real ids, and keeps the best — so a
 * misleading gradient costs queries, not correctness. Stops when the goal holds or no swap helps.
 */
import { UserError } from '../../util/errors.js';
import { applySwap, shortlist } from './first-order.js';
import { greedyStep, start } from './measure.js';
import type { WordAttack, WordAttackInput, WordAttackOutput } from './word-attack.js';
import type { WordModel } from './word-model.js';

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
      const s = start(m, x);
      if ('done' in s) return s.done;
      let queries = 1;
      let { ids: cur, value } = s;
      for (let step = 0; step < x.maxSwaps; step++) {
        const { swaps } = shortlist(m, x.ids, [cur], x.goal, x.candidates, probe);
        queries += 1;
        if (swaps.length === 0) break;
        const next = swaps.map((sw) => applySwap(cur, sw));
        const g = greedyStep(m, next, x.goal, value);
        queries += next.length;
        if (g === null) break;
        if (g.done) return { ids: g.ids, queries };
        ({ ids: cur, value } = g);
      }
      return { ids: cur, queries };
    },
  };
}
