/**
 * The gradient-free baseline (what Square is for images): each step measures the true objective of
 * single swaps on the real ids — all of them when there are at most `queriesPerStep`, else a random
 * sample seeded per message — and keeps the best if it raises the objective. It never reads a gradient,
 * so when it beats HotFlip at the same budget and candidates, the gradients are misleading (masking).
 */
import { exampleSeed, Rng } from '../../util/rng.js';
import { candidateList } from './candidates.js';
import { greedyStep, start } from './measure.js';
import { openPositions, type WordAttack, type WordAttackInput, type WordAttackOutput } from './word-attack.js';
import type { WordModel } from './word-model.js';

export interface GreedySwapOptions {
  queriesPerStep?: number;
  seed?: number;
}

export function greedySwap(o: GreedySwapOptions = {}): WordAttack {
  const perStep = o.queriesPerStep ?? 256;
  if (!Number.isInteger(perStep) || perStep < 1) throw new Error(`greedy-swap: queries per step must be an integer ≥ 1, got ${perStep}`);
  const seed = o.seed ?? 0;
  return {
    name: 'greedy-swap',
    run(m: WordModel, x: WordAttackInput): WordAttackOutput {
      const s = start(m, x);
      if ('done' in s) return s.done;
      // The message's own stream: the same sample whatever else is attacked, in whatever order.
      const rng = new Rng(exampleSeed(seed, 0, x.example));
      const V = m.vocabularySize;
      let queries = 1;
      let { ids: cur, value } = s;
      for (let step = 0; step < x.maxSwaps; step++) {
        const open = openPositions(x.ids, cur, x.candidates);
        const lists = open.map((i) => candidateList(x.candidates, x.ids[i] as number, V));
        const total = lists.reduce((n, l) => n + l.length, 0);
        if (total === 0) break;
        const proposals: Int32Array[] = [];
        const propose = (i: number, v: number): void => {
          const next = cur.slice();
          next[i] = v;
          proposals.push(next);
        };
        if (total <= perStep) {
          open.forEach((i, k) => { for (const v of Array.from(lists[k] as ArrayLike<number>)) propose(i, v); });
        } else {
          for (let q = 0; q < perStep; q++) {
            const k = rng.int(open.length);
            const l = lists[k] as ArrayLike<number>;
            if (l.length > 0) propose(open[k] as number, l[rng.int(l.length)] as number);
          }
        }
        if (proposals.length === 0) break;
        const g = greedyStep(m, proposals, x.goal, value);
        queries += proposals.length;
        if (g === null) break;
        if (g.done) return { ids: g.ids, queries };
        ({ ids: cur, value } = g);
      }
      return { ids: cur, queries };
    },
  };
}
