/**
 * `alp audit`: the evaluation a careful reviewer would run. A cascade of attacks (white-box gradient,
 * then gradient-free, then transfer if a surrogate is given) keeps the worst case per example; an ε
 * sweep and the masking diagnostics turn the known failure modes of logit-pairing-style defences into
 * named findings with evidence.
 */
import { checkEvalCall } from './check-call.js';
import { datasetDigest } from '../data/digest.js';
import { createHash } from 'node:crypto';
import type * as tf from '@tensorflow/tfjs';
import { modelFingerprint } from '../model/fingerprint.js';
import type { Attack } from '../attack/attack.js';
import type { ThreatModel } from '../attack/threat-model.js';
import type { Dataset } from '../data/dataset.js';
import { logitsOf, type LogitsFn } from '../model/classifier.js';
import { lastLayerActivation } from '../model/io.js';
import { gradientSupport, type LayerGradientSupport } from '../model/gradient-support.js';
import { UserError } from '../util/errors.js';
import { runCascade, type CascadeOptions, type CascadeStep } from './cascade.js';
import {
  checkBlackBoxVsWhiteBox, checkVerifiedGradients, checkEpsGrowth, checkSingleStep, checkWeakAttackGap, determinismFinding, forwardDifference, gradientNorms, gradientsFinding,
  logitsFinding, logitStats, moreIterationsFinding, type Finding, type LogitStats,
} from './diagnostics.js';
import { evalPart, joinSweepParts, pgdSuite, summarizeEval, summarizeSweep, sweepPart, type SweepPart, type SweepPoint } from './evaluate.js';
import { Pgd } from '../attack/pgd.js';
import { buildSuite, type AttackName } from './suite.js';
import { fitSuiteToClasses, type Replacement } from './few-classes.js';
import { wordAudit, wordStatePath, type WordAuditOptions, type WordAuditResult } from './word-audit.js';

import { AUDIT_VERSIONS, type AuditVersion } from './audit-versions.js';

export { AUDIT_VERSIONS, type AuditVersion };

export interface PlanItem {
  name: AttackName;
  /** Iterations; for the Square attack, queries. */
  steps: number;
  restarts: number;
  /** Square only: p_init and whether its schedule is stretched over the budget (../attack/square.ts). */
  square?: { pInit: number; rescaleSchedule: boolean };
}

/**
 * AutoAttack's standard Square, on the survivors of the gradient attacks: 5000 queries, p_init 0.8, one run,
 * p at fixed iteration counts (fra31/auto-attack autoattack/autoattack.py, read 2026-12-06: `SquareAttack(
 * p_init=.8, n_queries=5000, n_restarts=1, resc_schedule=False)`). Its n_queries counts proposals after the
 * start (5001 passes); alp's 5000 include the start: one proposal fewer, the same p at each.
 */
export const AUTOATTACK_SQUARE: PlanItem = { name: 'square', steps: 5000, restarts: 1, square: { pInit: 0.8, rescaleSchedule: false } };

interface AuditPlan {
  attacks: PlanItem[];
  sweepExamples: number;
  sweepSteps: number;
  itersExamples: number;
  weak: [number, number];
  strong: [number, number];
}

/** One attack of a plan: `steps` iterations (queries for Square), `restarts` runs. */
const run = (name: AttackName, steps: number, restarts = 1): PlanItem => ({ name, steps, restarts });
const FGSM = run('fgsm', 1);

/** Budgets per preset; the attack names are those of buildSuite. */
export const AUDIT_PLANS: Record<AuditVersion, AuditPlan> = {
  quick: {
    attacks: [FGSM, run('pgd-ce', 20), run('pgd-cw', 20), run('apgd-dlr', 50), run('square', 300)],
    sweepExamples: 100, sweepSteps: 20, itersExamples: 200, weak: [20, 1], strong: [50, 2],
  },
  standard: {
    attacks: [FGSM, run('pgd-ce', 40), run('pgd-cw', 40), run('apgd-ce', 100), run('apgd-dlr', 100), AUTOATTACK_SQUARE],
    sweepExamples: 200, sweepSteps: 40, itersExamples: 200, weak: [20, 1], strong: [100, 5],
  },
  thorough: {
    attacks: [FGSM, run('pgd-ce', 100, 5), run('pgd-cw', 100, 5), run('apgd-ce', 100, 5), run('apgd-dlr', 100), AUTOATTACK_SQUARE],
    sweepExamples: 500, sweepSteps: 100, itersExamples: 500, weak: [20, 1], strong: [200, 10],
  },
};

export interface AuditOptions {
  threat: ThreatModel;
  version: AuditVersion;
  seed: number;
  /** A surrogate model for the transfer attack (optional). */
  surrogate?: LogitsFn;
  /** Extra attacks appended to the cascade (e.g. a transfer attack built by the caller). */
  extraAttacks?: Attack[];
  batchSize?: number;
  /** Checkpoint file of the cascade; an interrupted audit resumes from it only under the same key. */
  statePath?: string;
  /**
   * Identifies the model for the resume key. Computed from a LayersModel (topology + weights); a bare
   * logits function must be given one to resume.
   */
  fingerprint?: string;
  /** Anything else the caller's result depends on (e.g. the surrogate's fingerprint, data options). */
  keyExtras?: Record<string, unknown>;
  keepExamples?: number;
  onProgress?: CascadeOptions['onProgress'];
  onPhase?: (phase: string) => void;
  /**
   * Aborting it stops the audit after the current batch with InterruptedError. The cascade's state (with
   * `statePath`) holds every finished batch, so the same call resumes; the sweep and the diagnostics
   * after the cascade are recomputed (they are seeded).
   */
  signal?: AbortSignal;
  /** Text models: also attack the token ids with real word swaps (see word-audit.ts); not split by shards or workers. */
  words?: WordAuditOptions;
  onWordProgress?: (e: { attack: string; k: number; done: number; total: number }) => void;
}

export interface AuditResult {
  version: AuditVersion;
  threat: ThreatModel;
  examples: number;
  cleanAccuracy: number;
  cascade: CascadeStep[];
  worstCaseAccuracy: number;
  epsSweep: SweepPoint[];
  findings: Finding[];
  fooledBy: string[];
  adversarial: Map<number, Float32Array>;
  /** Text models: robust accuracy under real word swaps per k, beside the embedding-space cascade. */
  wordSwaps?: WordAuditResult;
  seconds: number;
  /** The dataset row of `fooledBy[0]`, when the result covers a slice that does not start at 0 (a shard's own result). */
  firstExample?: number;
}

/**
 * The attacks of a plan for a model with `numClasses` classes: APGD-T needs 4, so with fewer it gives way
 * as in `alp eval` (./few-classes.ts: untargeted DLR with 3 classes, the CW margin with 2).
 */
export function planAttacks(plan: AuditPlan, threat: ThreatModel, seed: number, numClasses = 10): Attack[] {
  const { replaced } = fitSuiteToClasses(plan.attacks.map((p) => p.name), numClasses);
  return plan.attacks.flatMap((p, i) => {
    const r = replaced.find((q) => q.attack === p.name);
    const name = r === undefined ? p.name : r.by;
    if (name === null) return [];
    return buildSuite({ threat, attacks: [name], steps: p.steps, restarts: p.restarts, seed: seed + 101 * i, queries: p.steps, ...(p.square !== undefined ? { square: p.square } : {}) });
  });
}

/** What a plan's attacks become on a model with `numClasses` classes (empty with 4 or more). */
export function planReplacements(version: AuditVersion, numClasses: number): Replacement[] {
  return fitSuiteToClasses(AUDIT_PLANS[version].attacks.map((p) => p.name), numClasses).replaced;
}

function sweepRadii(threat: ThreatModel): number[] {
  // Without a box there is no natural "large" radius, and smooth models (text embeddings) need more
  // than 3ε before every example falls; the check still demands that it does, further out.
  const mult = threat.bounds === null ? [0, 0.5, 1, 1.5, 2, 3, 6] : [0, 0.5, 1, 1.5, 2, 3];
  // In the unit box an L∞ radius of 1 reaches every input; without a box nothing caps the sweep.
  const cap = threat.norm === 'linf' && threat.bounds !== null ? 0.9 : Infinity;
  return [...new Set(mult.map((m) => Math.min(+(threat.eps * m).toFixed(4), cap)))];
}

/** STATE_FORMAT changes whenever what the state holds changes, so an older state is never resumed. */
const STATE_FORMAT = 'alp.audit-state/2';

/**
 * The resume key: everything the cascade's result depends on. Every attack's full settings (seeds,
 * steps, ε, norm, targets, surrogate) come from its describe(); the examples by the digest of their contents
 * (another file of the same dataset name is other data). A part of a run (`range`) has its own.
 */
export function auditKey(model: tf.LayersModel | LogitsFn, ds: Dataset, attacks: Attack[], o: AuditOptions, range?: readonly [number, number]): string {
  const fingerprint = o.fingerprint ?? (typeof model === 'function' ? undefined : modelFingerprint(model));
  if (fingerprint === undefined && o.statePath !== undefined) {
    throw new UserError('audit: resuming needs a model fingerprint; pass `fingerprint` for a logits function');
  }
  const part = range !== undefined && (range[0] !== 0 || range[1] !== ds.count) ? { range: [range[0], range[1]] } : {};
  return createHash('sha256').update(JSON.stringify({
    format: STATE_FORMAT, fingerprint: fingerprint ?? null, version: o.version, threat: o.threat, seed: o.seed,
    dataset: ds.name, data: datasetDigest(ds), examples: ds.count, shape: ds.shape, batchSize: o.batchSize ?? 250, keepExamples: o.keepExamples ?? 16,
    attacks: attacks.map((a) => a.describe()), extras: o.keyExtras ?? {}, ...part,
  })).digest('hex');
}

/** The model-level checks, measured on the first 64 (logits, determinism) and 128 (gradients) examples. */
export interface ModelChecks {
  logits: LogitStats;
  lastActivation: string | null;
  forwardDifference: number;
  gradientNorms: number[];
  /** Per layer, whether alp verified its input gradient; null for a bare logits function. */
  layers: LayerGradientSupport[] | null;
}

/**
 * What one slice of an audit measured, per example, so that slices combine into exactly the whole
 * audit (`finishAudit`): the cascade on rows [start, end), and each diagnostic that runs on the first
 * P examples on the rows of [start, end) below P.
 */
export interface AuditPart {
  start: number;
  end: number;
  /** Per example in [start, end). */
  correct: number[];
  /** Per example in [start, end): the attack that first fooled it ('' if none, or misclassified clean). */
  fooledBy: string[];
  /** The cascade's attacks in order, with the seconds each took on this part. */
  steps: Array<{ attack: string; config: Record<string, unknown>; seconds: number }>;
  /** The first `keepExamples` adversarial examples of this part, in the order the cascade found them. */
  kept: Array<{ id: number; data: Float32Array }>;
  /** The ε sweep on rows [start, min(end, sweepExamples)). */
  sweep: SweepPart;
  /** PGD-CE weak and strong (more steps and restarts), per example of rows [start, min(end, itersExamples)): 1 if robust. */
  iters: { weak: number[]; strong: number[] };
  /** FGSM alone and PGD-CE alone on the same rows, when the cascade has FGSM. */
  single: { fgsm: number[]; pgd: number[] } | null;
  /** On the part that starts at 0 (and on shards, which all measure it). */
  model: ModelChecks | null;
  seconds: number;
}

export interface AuditPartOptions {
  /** Measure the model-level checks (default: when the part starts at example 0). */
  modelChecks?: boolean;
}

/** The cascade's attacks for `o`: the plan's, then the caller's extra ones. */
export function auditAttacks(o: AuditOptions, numClasses: number): Attack[] {
  return [...planAttacks(AUDIT_PLANS[o.version], o.threat, o.seed, numClasses), ...(o.extraAttacks ?? [])];
}

/** Audits rows [start, end) of `ds` (seeds, prefixes and resume state all refer to rows of `ds`). */
export async function auditPart(model: tf.LayersModel | LogitsFn, ds: Dataset, o: AuditOptions, range: readonly [number, number] = [0, ds.count], po: AuditPartOptions = {}): Promise<AuditPart> {
  const t0 = Date.now();
  const [start, end] = range;
  if (!(Number.isInteger(start) && Number.isInteger(end) && start >= 0 && start <= end && end <= ds.count)) {
    throw new RangeError(`auditPart: rows [${start}, ${end}) are not inside the ${ds.count} examples`);
  }
  const f = logitsOf(model);
  const plan = AUDIT_PLANS[o.version];
  const attacks = auditAttacks(o, ds.numClasses);
  o.onPhase?.(`attack cascade: ${attacks.map((a) => a.name).join(' → ')}`);
  const stop = o.signal !== undefined ? { signal: o.signal } : {};
  const cascade = await runCascade(f, ds, attacks, {
    ...stop,
    ...(o.batchSize !== undefined ? { batchSize: o.batchSize } : {}),
    ...(o.statePath !== undefined ? { statePath: o.statePath } : {}),
    ...(o.onProgress !== undefined ? { onProgress: o.onProgress } : {}),
    keepExamples: o.keepExamples ?? 16,
    key: auditKey(model, ds, attacks, o, range),
    range,
    onResume: (resumed) => o.onPhase?.(resumed ? 'resuming the interrupted audit' : 'the saved audit state is for another model or configuration; starting over'),
  });
  const bounds = o.threat.bounds !== undefined ? { bounds: o.threat.bounds } : {};
  const below = (p: number): [number, number] => [Math.min(start, p), Math.min(end, p)];

  o.onPhase?.('ε sweep');
  const sweep = await sweepPart(f, ds, { norm: o.threat.norm, ...bounds, epsilons: sweepRadii(o.threat), steps: plan.sweepSteps, restarts: 1, losses: ['ce', 'cw'], seed: o.seed }, below(plan.sweepExamples), stop);

  o.onPhase?.('masking diagnostics');
  const sub = below(plan.itersExamples);
  const robustOn = async (attacks: Attack[]): Promise<number[]> => summarizeEval([await evalPart(f, ds, attacks, sub, stop)]).robust;
  const pgdCe = (steps: number, restarts: number, seed: number): Attack[] => [new Pgd({ threat: o.threat, steps, restarts, loss: 'ce', seed })];
  const iters = { weak: await robustOn(pgdCe(plan.weak[0], plan.weak[1], o.seed + 7)), strong: await robustOn(pgdCe(plan.strong[0], plan.strong[1], o.seed + 7)) };
  // Single step vs iterative, each measured alone on the same examples (the cascade only sees survivors).
  const single = attacks.some((a) => a.name.startsWith('fgsm'))
    ? {
      fgsm: await robustOn(buildSuite({ threat: o.threat, attacks: ['fgsm'], steps: 1, restarts: 1, seed: o.seed })),
      pgd: await robustOn(pgdSuite({ threat: o.threat, steps: plan.weak[0], restarts: 1, losses: ['ce'], seed: o.seed })),
    }
    : null;
  const modelChecks = (po.modelChecks ?? start === 0) ? modelChecksOf(model, ds) : null;
  return {
    start, end,
    correct: Array.from({ length: end - start }, (_, i) => Number(cascade.fooledBy[start + i] !== '' || cascade.robust[start + i] === 1)),
    fooledBy: cascade.fooledBy.slice(start, end),
    steps: cascade.steps.map((s) => ({ attack: s.attack, config: s.config, seconds: s.seconds })),
    kept: [...cascade.adversarial].map(([id, data]) => ({ id, data })),
    sweep, iters, single, model: modelChecks, seconds: (Date.now() - t0) / 1000,
  };
}

/** The model-level checks on the first 64 / 128 rows of `ds` (cheap: one forward, one gradient). */
export function modelChecksOf(model: tf.LayersModel | LogitsFn, ds: Dataset): ModelChecks {
  const f = logitsOf(model);
  return {
    logits: logitStats(f, ds),
    lastActivation: (typeof model === 'function' ? undefined : lastLayerActivation(model)) ?? null,
    forwardDifference: forwardDifference(f, ds),
    gradientNorms: gradientNorms(f, ds),
    layers: typeof model === 'function' ? null : gradientSupport(model),
  };
}

/** How a run's parts are combined: the settings every finding depends on. */
export interface FinishOptions {
  version: AuditVersion;
  threat: ThreatModel;
  keepExamples?: number;
  /** Wall time of the run (default: the parts' seconds added up). */
  seconds?: number;
}

/**
 * The audit's result from adjoining parts, computed from their per-example data only: every number
 * and finding of the whole audit when the parts cover all its examples. Findings whose examples no
 * part holds (a shard past the sweep's first examples, say) are left out of a part's own result.
 */
export function finishAudit(parts: readonly AuditPart[], o: FinishOptions): AuditResult {
  const sorted = [...parts].sort((a, b) => a.start - b.start);
  sorted.forEach((p, i) => {
    const prev = sorted[i - 1];
    if (prev !== undefined && p.start !== prev.end) throw new UserError(`audit parts [${prev.start}, ${prev.end}) and [${p.start}, ${p.end}) do not adjoin`);
    if (p.correct.length !== p.end - p.start || p.fooledBy.length !== p.end - p.start) throw new UserError(`audit part [${p.start}, ${p.end}): per-example results do not cover its ${p.end - p.start} examples`);
  });
  const first = sorted[0];
  if (first === undefined) throw new UserError('audit: no parts to combine');
  const plan = AUDIT_PLANS[o.version];
  const correct = sorted.flatMap((p) => p.correct);
  const fooledBy = sorted.flatMap((p) => p.fooledBy);
  const count = correct.length;
  const names = first.steps.map((s) => s.attack);
  for (const p of sorted) {
    if (p.steps.length !== names.length || p.steps.some((s, k) => s.attack !== names[k])) throw new UserError(`audit part [${p.start}, ${p.end}): cascade ${p.steps.map((s) => s.attack).join(' → ')} differs from ${names.join(' → ')}`);
  }
  const rank = (name: string): number => (name === '' ? Infinity : names.indexOf(name));
  const robustAfter = (k: number): number[] => correct.map((c, i) => Number(c === 1 && rank(fooledBy[i] as string) > k));
  const frac = (v: number[]): number => v.reduce((a, b) => a + b, 0) / Math.max(v.length, 1);
  const cascade: CascadeStep[] = first.steps.map((s, k) => ({
    attack: s.attack, config: s.config, robustAccuracyAfter: frac(robustAfter(k)),
    fooledHere: fooledBy.filter((b) => b === s.attack).length,
    seconds: sorted.reduce((a, p) => a + (p.steps[k]?.seconds ?? 0), 0),
  }));
  const robust = robustAfter(names.length - 1);
  // The cascade keeps examples in the order it finds them: by attack, then by example.
  const keep = o.keepExamples ?? 16;
  const kept = sorted.flatMap((p) => p.kept)
    .sort((a, b) => rank(fooledBy[a.id - first.start] as string) - rank(fooledBy[b.id - first.start] as string) || a.id - b.id)
    .slice(0, keep);

  const sweep = summarizeSweep(sorted.map((p) => p.sweep).filter((s) => s.end > s.start));
  const weak = sorted.flatMap((p) => p.iters.weak);
  const strong = sorted.flatMap((p) => p.iters.strong);
  const nSub = weak.length;
  const cascadeWorstSub = frac(sorted.flatMap((p) => robust.slice(p.start - first.start, p.start - first.start + p.iters.weak.length)));
  const checks = sorted.find((p) => p.model !== null)?.model ?? null;
  const findings: Finding[] = [];
  if (checks !== null) {
    findings.push(
      logitsFinding(numbersIn(checks.logits), checks.lastActivation ?? undefined),
      determinismFinding(numberIn(checks.forwardDifference)),
      gradientsFinding(checks.gradientNorms.map(numberIn)),
    );
  }
  if (sweep.length > 0) findings.push(checkEpsGrowth(sweep, o.threat));
  if (nSub > 0) {
    const weakAcc = frac(weak);
    findings.push(
      moreIterationsFinding(weakAcc, frac(strong), nSub, plan),
      checkWeakAttackGap({ steps: plan.weak[0], restarts: plan.weak[1], robustAccuracy: weakAcc }, cascadeWorstSub, nSub),
    );
  }
  findings.push(checkBlackBoxVsWhiteBox(cascade, count));
  if (checks?.layers !== null && checks?.layers !== undefined) findings.push(checkVerifiedGradients(checks.layers));
  const singles = sorted.map((p) => p.single);
  if (nSub > 0 && cascade.some((s) => s.attack.startsWith('fgsm')) && singles.every((s) => s !== null)) {
    findings.push(checkSingleStep(frac(singles.flatMap((s) => s?.fgsm ?? [])), frac(singles.flatMap((s) => s?.pgd ?? []))));
  }
  return {
    version: o.version, threat: o.threat, examples: count, cleanAccuracy: frac(correct),
    cascade, worstCaseAccuracy: frac(robust), epsSweep: sweep, findings,
    fooledBy, adversarial: new Map(kept.map((k) => [k.id, k.data] as const)),
    seconds: o.seconds ?? sorted.reduce((a, p) => a + p.seconds, 0),
    ...(first.start !== 0 ? { firstExample: first.start } : {}),
  };
}

/**
 * Adjoining parts as one part (a shard computed by several workers): per-example results joined, the
 * first `keepExamples` adversarial examples in cascade order kept, seconds added up.
 */
export function joinAuditParts(parts: readonly AuditPart[], keepExamples = 16): AuditPart {
  const sorted = [...parts].sort((a, b) => a.start - b.start);
  const first = sorted[0];
  const last = sorted[sorted.length - 1];
  if (first === undefined || last === undefined) throw new Error('joinAuditParts: no parts');
  sorted.forEach((p, i) => {
    const prev = sorted[i - 1];
    if (prev !== undefined && p.start !== prev.end) throw new Error(`joinAuditParts: [${prev.start}, ${prev.end}) and [${p.start}, ${p.end}) do not adjoin`);
  });
  const fooledBy = sorted.flatMap((p) => p.fooledBy);
  const names = first.steps.map((s) => s.attack);
  const rank = (id: number): number => names.indexOf(fooledBy[id - first.start] as string);
  const singles = sorted.map((p) => p.single);
  return {
    start: first.start, end: last.end,
    correct: sorted.flatMap((p) => p.correct), fooledBy,
    steps: first.steps.map((s, k) => ({ ...s, seconds: sorted.reduce((t, p) => t + (p.steps[k]?.seconds ?? 0), 0) })),
    kept: sorted.flatMap((p) => p.kept).sort((a, b) => rank(a.id) - rank(b.id) || a.id - b.id).slice(0, keepExamples),
    sweep: joinSweepParts(sorted.map((p) => p.sweep)),
    iters: { weak: sorted.flatMap((p) => p.iters.weak), strong: sorted.flatMap((p) => p.iters.strong) },
    single: singles.every((x) => x !== null) ? { fgsm: singles.flatMap((x) => x?.fgsm ?? []), pgd: singles.flatMap((x) => x?.pgd ?? []) } : null,
    model: sorted.find((p) => p.model !== null)?.model ?? null,
    seconds: sorted.reduce((t, p) => t + p.seconds, 0),
  };
}

/** JSON writes NaN and ±Infinity as null; a stored measurement reads back as NaN then. */
function numberIn(v: number | null): number {
  return v === null ? NaN : v;
}

function numbersIn(s: LogitStats): LogitStats {
  return { min: numberIn(s.min), maxSumDev: numberIn(s.maxSumDev) };
}

export async function audit(model: tf.LayersModel | LogitsFn, ds: Dataset, o: AuditOptions): Promise<AuditResult> {
  checkEvalCall(ds, [o.threat], o);
  const t0 = Date.now();
  const part = await auditPart(model, ds, o);
  const r = finishAudit([part], { version: o.version, threat: o.threat, keepExamples: o.keepExamples ?? 16, seconds: (Date.now() - t0) / 1000 });
  return await withWordAudit(r, model, ds, o);
}

/**
 * Text models (`o.words`): the audit's real word swaps per k, added to a finished audit with their
 * findings. Runs on the whole dataset in this thread (resumable through its own state file).
 */
export async function withWordAudit(r: AuditResult, model: tf.LayersModel | LogitsFn, ds: Dataset, o: AuditOptions): Promise<AuditResult> {
  if (o.words === undefined) return r;
  const t0 = Date.now();
  const words = await wordAudit(o.words, {
    version: o.version, seed: o.seed, key: auditKey(model, ds, auditAttacks(o, ds.numClasses), o),
    ...(o.statePath !== undefined ? { statePath: wordStatePath(o.statePath) } : {}),
    ...(o.onPhase !== undefined ? { onPhase: o.onPhase } : {}), ...(o.onWordProgress !== undefined ? { onProgress: o.onWordProgress } : {}),
    ...(o.signal !== undefined ? { signal: o.signal } : {}),
  });
  return { ...r, findings: [...r.findings, ...words.findings], wordSwaps: words, seconds: r.seconds + (Date.now() - t0) / 1000 };
}
