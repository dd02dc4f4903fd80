/**
 * The gradient-free baseline (what Square is for images): each step measures the true objective of
 * single swaps on the real ids — all of them when there are at most `queriesPerStep`, else a seeded
 * random sample — and keeps the best if it raises the objective. It never reads a gradient, so when it
 * beats HotFlip at the same budget and candidates, the gradients are misleading (masking).
 */
import { Rng } from '../../util/rng.js';
import { candidateList } from './candidates.js';
import { openPositions, type WordAttack, type WordAttackInput, type WordAttackOutput } from './word-attack.js';
import { objectiveOf, reached, type WordModel } from './word-model.js';

export interface GreedySwapOptions {
  queriesPerStep?: number;
  seed?: number;
}

export function greedySwap(o: GreedySwapOptions = {}): WordAttack {
  const perStep = o.queriesPerStep ?? 256;
  if (!Number.isInteger(perStep) || perStep < 1) throw new Error(`greedy-swap: queries per step must be an integer ≥ 1, got ${perStep}`);
  let calls = 0;
  return {
    name: 'greedy-swap',
    run(m: WordModel, x: WordAttackInput): WordAttackOutput {
      // One stream per message, so results do not depend on batch order.
      const rng = new Rng((o.seed ?? 0) * 1_000_003 + calls++);
      const C = m.numClasses, V = m.vocabularySize;
      let queries = 1;
      const start = m.logits(x.ids, 1);
      if (reached(start, 0, C, x.goal)) return { ids: x.ids.slice(), queries };
      let cur: Int32Array = x.ids.slice();
      let value = objectiveOf(start, 0, C, x.goal);
      for (let step = 0; step < x.maxSwaps; step++) {
        const open = openPositions(x.ids, cur, x.candidates);
        const lists = open.map((i) => candidateList(x.candidates, x.ids[i] as number, V));
        const total = lists.reduce((s, l) => s + l.length, 0);
        if (total === 0) break;
        const proposals: Array<[number, number]> = [];
        if (total <= perStep) {
          open.forEach((i, k) => { for (const v of Array.from(lists[k] as ArrayLike<number>)) proposals.push([i, v]); });
        } else {
          for (let q = 0; q < perStep; q++) {
            const k = rng.int(open.length);
            const l = lists[k] as ArrayLike<number>;
            if (l.length > 0) proposals.push([open[k] as number, l[rng.int(l.length)] as number]);
          }
        }
        const flat = new Int32Array(proposals.length * m.length);
        proposals.forEach(([i, v], k) => { flat.set(cur, k * m.length); flat[k * m.length + i] = v; });
        const logits = m.logits(flat, proposals.length);
        queries += proposals.length;
        let best = 0;
        for (let k = 1; k < proposals.length; k++) if (objectiveOf(logits, k, C, x.goal) > objectiveOf(logits, best, C, x.goal)) best = k;
        const [i, v] = proposals[best] as [number, number];
        const next = cur.slice();
        next[i] = v;
        if (reached(logits, best, C, x.goal)) return { ids: next, queries };
        const val = objectiveOf(logits, best, C, x.goal);
        if (val <= value) break;
        cur = next;
        value = val;
      }
      return { ids: cur, queries };
    },
  };
}
