/**
 * The options `alp eval` and `alp attack` share for word-substitution attacks on text models, and how
 * they become a word model, attacks and a candidate set. Kept apart so the commands stay thin.
 */
import { buildCandidates, buildWordAttack, excerpt, WORD_ATTACK_NAMES, wordModel, type CandidateKind, type WordAttack, type WordAttackName } from '../attack/text/index.js';
import { vocabularyOf } from '../data/text.js';
import { WORD_AUDIT_KS, type WordAuditOptions, type WordAuditResult } from '../eval/word-audit.js';
import { UserError } from '../util/errors.js';
import type { WordSwapInputs } from '../jobs/eval.js';
import { get, type Parsed } from './args.js';

export { AUDIT_WORD_OPTIONS, WORD_SWAP_OPTIONS } from './options.js';
import { pct, table, type ModelJob } from './common.js';

export type WordSwapSetup = WordSwapInputs;

/** The word-level view of a text job, or a clear error when the model is not a text model. */
export function wordSwapSetup(p: Parsed, job: ModelJob, option: string): WordSwapSetup {
  if (job.text === undefined) throw new UserError(`--${option}: word swaps need a text model (one with an Embedding layer); ${job.modelPath} is not one`);
  const model = wordModel(job.text.split);
  const vocab = vocabularyOf(job.text.ids.vocabulary as string[]);
  const wordnet = get.str(p, 'wordnet');
  const candidates = buildCandidates(get.str(p, 'candidates') as CandidateKind, model, vocab, {
    neighbours: get.num(p, 'neighbours') as number, ...(wordnet !== undefined ? { wordnetDir: wordnet } : {}),
  });
  const fraction = get.num(p, 'swap-fraction');
  if (fraction !== undefined && !(fraction > 0 && fraction <= 1)) throw new UserError(`--swap-fraction: expected a number in (0, 1], found ${fraction}`);
  return {
    model, vocab, ids: Int32Array.from(job.text.ids.images), labels: job.text.ids.labels, candidates,
    ...(fraction !== undefined ? { fraction } : {}),
  };
}

export function wordAttacksOf(p: Parsed, names: string[]): WordAttack[] {
  return names.map((name) => {
    if (!(WORD_ATTACK_NAMES as readonly string[]).includes(name)) throw new UserError(`--word-attacks: unknown attack ${JSON.stringify(name)}; expected one of ${WORD_ATTACK_NAMES.join(', ')}`);
    return buildWordAttack(name as WordAttackName, { seed: get.num(p, 'seed') ?? 0, beamWidth: get.num(p, 'beam') as number });
  });
}

/** The audit's word phase for a text job (null for other models). */
export function auditWordOptions(p: Parsed, job: ModelJob): WordAuditOptions | null {
  if (job.text === undefined) return null;
  const ks = get.nums(p, 'swaps') ?? [...WORD_AUDIT_KS];
  for (const k of ks) if (!Number.isInteger(k) || k < 1) throw new UserError(`--swaps: expected integers ≥ 1, found ${k}`);
  const w = wordSwapSetup(p, job, 'swaps');
  const neighbours = get.num(p, 'neighbours') as number;
  return {
    model: w.model, ids: w.ids, labels: w.labels, vocab: w.vocab, candidates: w.candidates, ks,
    constrained: () => buildCandidates('neighbours', w.model, w.vocab, { neighbours }),
    neighbours,
    ...(w.fraction !== undefined ? { fraction: w.fraction } : {}),
  };
}

/** The audit's word-swap table and notes, for the terminal. */
export function wordAuditText(r: WordAuditResult): string {
  const names = r.swaps.points[0]?.attacks.map((a) => a.name) ?? [];
  const rows = [['k', ...names, 'worst case'], ...r.swaps.points.map((pt) => [String(pt.k), ...pt.attacks.map((a) => pct(a.robustAccuracy)), pct(pt.worstCaseAccuracy)])];
  const lines = [`real word swaps (${r.swaps.candidates} candidates, ${r.swaps.examples} messages, clean ${pct(r.swaps.cleanAccuracy)}; robust accuracy on the new messages)`, table(rows)];
  for (const n of r.notes) lines.push(`note: ${n}`);
  const shown = r.kept.slice(0, 3).map((m) => `  #${m.index} (${m.attack}, k=${m.k}) ${m.label}→${m.advPred}: ${excerpt(m.marked)}`);
  if (shown.length > 0) lines.push('fooled, for example:', ...shown);
  return lines.join('\n');
}
