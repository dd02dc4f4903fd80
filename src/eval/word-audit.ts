/**
 * The audit's text part: robust accuracy under real word swaps per budget k for HotFlip, the synonym
 * attack and the gradient-free greedy swap, the worst case per message across them, the masking checks
 * adapted to text as findings, and the fooled messages kept as text with the swapped words marked.
 * Each (k, attack) unit is saved to a state file when it finishes, so an interrupted audit resumes
 * with the units it had (a unit cut short runs again from its start).
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import {
  evaluateWordSwapsDetailed, greedySwap, hotflip, markSwaps, swapChecks, synonymAttack,
  type CandidateSet, type SwapEval, type SwapUnit, type SwappedText, type WordAttack, type WordModel,
} from '../attack/text/index.js';
import type { Vocabulary } from '../data/text.js';
import { writeJsonAtomic } from '../util/atomic.js';
import type { AuditVersion } from './audit.js';
import type { Finding } from './diagnostics.js';

interface WordPlan {
  /** At most this many messages (the first ones) are attacked. */
  examples: number;
  greedyQueries: number;
  beam: number;
  probe: number;
}

export const WORD_AUDIT_PLANS: Record<AuditVersion, WordPlan> = {
  quick: { examples: 200, greedyQueries: 128, beam: 1, probe: 8 },
  standard: { examples: 500, greedyQueries: 256, beam: 1, probe: 16 },
  thorough: { examples: Infinity, greedyQueries: 512, beam: 3, probe: 32 },
};

import { WORD_AUDIT_KS } from './audit-versions.js';

export { WORD_AUDIT_KS };

export interface WordAuditOptions {
  model: WordModel;
  /** The messages (n·L token ids, dataset order from index 0) and their labels. */
  ids: Int32Array;
  labels: Int32Array;
  vocab: Vocabulary;
  /** The threat model's candidate set; the synonym attack falls back to `constrained` when it is the whole vocabulary. */
  candidates: CandidateSet;
  constrained: () => CandidateSet;
  ks?: readonly number[];
  fraction?: number;
  /** The embedding neighbours per word the candidate sets were built with: recorded so the audit can be rerun (a zoo card's command). */
  neighbours?: number;
  /** Fooled messages kept as text. */
  keep?: number;
}

export interface KeptMessage {
  index: number;
  label: number;
  /** The smallest k at which an attack fooled it, and the first attack (in audit order) that did. */
  k: number;
  attack: string;
  advPred: number;
  marked: string;
  swaps: SwappedText['swaps'];
}

export interface WordAuditResult {
  swaps: SwapEval;
  findings: Finding[];
  kept: KeptMessage[];
  /** Per audited message: the smallest k at which some attack fooled it, or null (robust, or wrong as written). */
  fooledAt: Array<number | null>;
  notes: string[];
  /** WordAuditOptions.neighbours, when given. */
  neighbours?: number;
}

interface WordState {
  key: string;
  units: SwapUnit[];
}

/** Where the word phase checkpoints, beside the cascade's state file. */
export function wordStatePath(statePath: string): string {
  return statePath.replace(/\.json$/, '') + '.words.json';
}

export function wordAttacksFor(version: AuditVersion, seed: number): WordAttack[] {
  const plan = WORD_AUDIT_PLANS[version];
  return [hotflip({ beamWidth: plan.beam }), synonymAttack({ probe: plan.probe }), greedySwap({ seed: seed + 313, queriesPerStep: plan.greedyQueries })];
}

export async function wordAudit(w: WordAuditOptions, o: {
  version: AuditVersion; seed: number; statePath?: string; key?: string;
  onPhase?: (m: string) => void; onProgress?: (e: { attack: string; k: number; done: number; total: number }) => void;
  /** Aborting it stops before the next message (InterruptedError); the attack runs finished so far are in the state file. */
  signal?: AbortSignal;
}): Promise<WordAuditResult> {
  const plan = WORD_AUDIT_PLANS[o.version];
  const L = w.model.length;
  const n = Math.min(w.labels.length, plan.examples);
  const ids = w.ids.subarray(0, n * L), labels = w.labels.subarray(0, n);
  const ks = [...(w.ks ?? WORD_AUDIT_KS)].sort((a, b) => a - b);
  const attacks = wordAttacksFor(o.version, o.seed);
  const notes: string[] = [];
  const synonymSet = w.candidates.kind === 'vocabulary' ? w.constrained() : w.candidates;
  if (synonymSet !== w.candidates) notes.push(`the synonym attack draws from ${synonymSet.kind} candidates (a subset of the vocabulary, so its swaps are legal under the audit's threat model too)`);
  if (n < w.labels.length) notes.push(`word swaps on the first ${n} of the ${w.labels.length} audited messages (the ${o.version} budget)`);
  const key = createHash('sha256').update(JSON.stringify({
    format: 'alp.word-audit-state/1', outer: o.key ?? null, version: o.version, seed: o.seed, ks, n, fraction: w.fraction ?? null,
    candidates: w.candidates.kind, synonym: synonymSet.kind,
  })).digest('hex');
  const saved: SwapUnit[] = [];
  if (o.statePath !== undefined && existsSync(o.statePath)) {
    try {
      const s = JSON.parse(readFileSync(o.statePath, 'utf8')) as WordState;
      if (s.key === key && Array.isArray(s.units)) saved.push(...s.units);
    } catch { /* an unreadable state is a fresh start, as for the cascade */ }
    o.onPhase?.(saved.length > 0 ? `word swaps: resuming (${saved.length} of ${ks.length * attacks.length} attack runs done)` : 'word swaps: the saved state is for another model or configuration; starting over');
  }
  o.onPhase?.(`word swaps: k = ${ks.join(', ')}; ${attacks.map((a) => a.name).join(', ')}; ${w.candidates.kind} candidates; ${n} messages`);
  const d = await evaluateWordSwapsDetailed(w.model, ids, labels, {
    ks, attacks, candidates: w.candidates, candidatesFor: (a) => (a.name === 'synonym' ? synonymSet : w.candidates),
    ...(w.fraction !== undefined ? { fraction: w.fraction } : {}),
    done: (k, attack) => saved.find((u) => u.k === k && u.attack === attack),
    onUnit: (u) => {
      saved.push(u);
      if (o.statePath !== undefined) writeJsonAtomic(o.statePath, { key, units: saved } satisfies WordState);
    },
    ...(o.onProgress !== undefined ? { onProgress: o.onProgress } : {}), ...(o.signal !== undefined ? { signal: o.signal } : {}),
  });
  const findings: Finding[] = swapChecks(d.eval.points, n, d.units).map((c) => ({ ...c }));
  // The smallest k that fooled each message, and the message as the first attack at that k wrote it.
  const fooledAt: Array<number | null> = new Array(n).fill(null);
  const first = new Map<number, { unit: SwapUnit; ids: number[]; pred: number }>();
  for (const k of ks) {
    for (const a of attacks) {
      const u = d.units.find((x) => x.k === k && x.attack === a.name);
      for (const f of u?.fooled ?? []) {
        if (first.has(f.index) || u === undefined) continue;
        first.set(f.index, { unit: u, ids: f.ids, pred: f.pred });
        fooledAt[f.index] = k;
      }
    }
  }
  const kept: KeptMessage[] = [...first.entries()].sort((a, b) => a[0] - b[0]).slice(0, w.keep ?? 16).map(([index, f]) => {
    const m = markSwaps(ids.subarray(index * L, (index + 1) * L), f.ids, w.vocab);
    return { index, label: labels[index] as number, k: f.unit.k, attack: f.unit.attack, advPred: f.pred, marked: m.text, swaps: m.swaps };
  });
  return { swaps: d.eval, findings, kept, fooledAt, notes, ...(w.neighbours !== undefined ? { neighbours: w.neighbours } : {}) };
}
