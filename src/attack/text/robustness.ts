/**
 * Robust accuracy under word swaps, per budget k: every attack runs untargeted on the correctly
 * classified messages through the verifying runner, and a message counts as robust at k when no attack
 * fooled it with k swaps. The findings adapt the image masking checks to text: more swaps must not
 * raise accuracy, and a gradient-free search must not beat HotFlip (else first-order scores mislead).
 */
import type { CandidateKind, CandidateSet } from './candidates.js';
import { runWordAttack } from './verify.js';
import type { WordAttack } from './word-attack.js';
import type { WordModel } from './word-model.js';

export interface SwapAttackPoint {
  name: string;
  robustAccuracy: number;
  successRate: number;
  /** Mean words swapped over the messages this attack fooled. */
  meanSwaps: number;
  queries: number;
  seconds: number;
}

export interface SwapPoint {
  k: number;
  attacks: SwapAttackPoint[];
  worstCaseAccuracy: number;
}

export interface SwapEval {
  candidates: CandidateKind;
  fraction: number | null;
  examples: number;
  cleanAccuracy: number;
  points: SwapPoint[];
  findings: string[];
}

export interface SwapEvalOptions {
  ks: number[];
  attacks: WordAttack[];
  candidates: CandidateSet;
  fraction?: number;
  /** Each message's index in the dataset (seeds the searches); by default its row. */
  indices?: ArrayLike<number>;
  onProgress?: (e: { attack: string; k: number; done: number; total: number }) => void;
}

export function evaluateWordSwaps(m: WordModel, ids: Int32Array, labels: Int32Array, o: SwapEvalOptions): SwapEval {
  const L = m.length, C = m.numClasses, n = labels.length;
  const logits = m.logits(ids, n);
  const correct: number[] = [];
  for (let r = 0; r < n; r++) {
    let best = 0;
    for (let j = 1; j < C; j++) if ((logits[r * C + j] as number) > (logits[r * C + best] as number)) best = j;
    if (best === labels[r]) correct.push(r);
  }
  const sub = new Int32Array(correct.length * L);
  correct.forEach((r, j) => sub.set(ids.subarray(r * L, (r + 1) * L), j * L));
  const lab = Int32Array.from(correct, (r) => labels[r] as number);
  const points: SwapPoint[] = [];
  for (const k of o.ks) {
    const fooled = new Uint8Array(correct.length);
    const attacks: SwapAttackPoint[] = [];
    for (const attack of o.attacks) {
      const t0 = Date.now();
      const r = runWordAttack(attack, m, sub, lab, {
        budget: { k, ...(o.fraction !== undefined ? { fraction: o.fraction } : {}) }, candidates: o.candidates,
        indices: correct.map((r) => o.indices?.[r] ?? r),
        ...(o.onProgress !== undefined ? { onMessage: (done: number) => o.onProgress?.({ attack: attack.name, k, done, total: correct.length }) } : {}),
      });
      let hits = 0, swaps = 0;
      r.success.forEach((s, j) => { if (s) { hits++; swaps += r.swaps[j] as number; fooled[j] = 1; } });
      attacks.push({
        name: attack.name, robustAccuracy: n === 0 ? 0 : (correct.length - hits) / n, successRate: correct.length === 0 ? 0 : hits / correct.length,
        meanSwaps: hits === 0 ? 0 : swaps / hits, queries: r.queries, seconds: (Date.now() - t0) / 1000,
      });
    }
    const still = fooled.reduce((a, b) => a + (b ? 0 : 1), 0);
    points.push({ k, attacks, worstCaseAccuracy: n === 0 ? 0 : still / n });
  }
  return {
    candidates: o.candidates.kind, fraction: o.fraction ?? null, examples: n, cleanAccuracy: n === 0 ? 0 : correct.length / n,
    points, findings: swapFindings(points, n),
  };
}

/** Masking findings over the per-k results (a difference of one message is never flagged). */
export function swapFindings(points: SwapPoint[], examples: number): string[] {
  const out: string[] = [];
  const slack = examples === 0 ? 0 : 1 / examples + 1e-9;
  const sorted = [...points].sort((a, b) => a.k - b.k);
  for (let i = 1; i < sorted.length; i++) {
    const [a, b] = [sorted[i - 1] as SwapPoint, sorted[i] as SwapPoint];
    if (b.worstCaseAccuracy > a.worstCaseAccuracy + slack) {
      out.push(`robust accuracy rises from ${pct(a.worstCaseAccuracy)} at k=${a.k} to ${pct(b.worstCaseAccuracy)} at k=${b.k}: a larger budget should never help the model, so the search is weak or stops early`);
    }
  }
  for (const p of sorted) {
    const hot = p.attacks.find((a) => a.name === 'hotflip');
    const free = p.attacks.find((a) => a.name === 'greedy-swap');
    if (hot !== undefined && free !== undefined && free.robustAccuracy < hot.robustAccuracy - slack) {
      out.push(`at k=${p.k} the gradient-free greedy swap (${pct(free.robustAccuracy)}) beats HotFlip (${pct(hot.robustAccuracy)}): the first-order scores mislead (gradient masking), trust the query-based number`);
    }
  }
  return out;
}

function pct(x: number): string {
  return `${(100 * x).toFixed(1)}%`;
}
