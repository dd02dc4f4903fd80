/**
 * `alp audit`: the evaluation a careful reviewer would run. A cascade of attacks (white-box gradient,
 * then gradient-free, then transfer if a surrogate is given) keeps the worst case per example; an ε
 * sweep and the masking diagnostics turn the known failure modes of logit-pairing-style defences into
 * named findings with evidence.
 */
import { createHash } from 'node:crypto';
import type * as tf from '@tensorflow/tfjs';
import { modelFingerprint } from '../model/fingerprint.js';
import type { Attack } from '../attack/attack.js';
import type { ThreatModel } from '../attack/threat-model.js';
import type { Dataset } from '../data/dataset.js';
import { logitsOf, type LogitsFn } from '../model/classifier.js';
import { lastLayerActivation } from '../model/io.js';
import { gradientSupport } from '../model/gradient-support.js';
import { UserError } from '../util/errors.js';
import { runCascade, type CascadeOptions, type CascadeStep } from './cascade.js';
import {
  checkBlackBoxVsWhiteBox, checkVerifiedGradients, checkDeterminism, checkEpsGrowth, checkGradients, checkLogits, checkMoreIterations, checkSingleStep, checkWeakAttackGap, type Finding,
} from './diagnostics.js';
import { epsSweep, type SweepPoint } from './evaluate.js';
import { buildSuite } from './suite.js';
import { wordAudit, wordStatePath, type WordAuditOptions, type WordAuditResult } from './word-audit.js';

export type AuditVersion = 'quick' | 'standard' | 'thorough';
export const AUDIT_VERSIONS: readonly AuditVersion[] = ['quick', 'standard', 'thorough'];

interface PlanItem {
  name: string;
  /** Iterations; for the Square attack, queries. */
  steps: number;
  restarts: number;
}

interface AuditPlan {
  attacks: PlanItem[];
  sweepExamples: number;
  sweepSteps: number;
  itersExamples: number;
  weak: [number, number];
  strong: [number, number];
}

/** Budgets per preset; the attack names are those of buildSuite. */
export const AUDIT_PLANS: Record<AuditVersion, AuditPlan> = {
  quick: {
    attacks: [
      { name: 'fgsm', steps: 1, restarts: 1 },
      { name: 'pgd-ce', steps: 20, restarts: 1 },
      { name: 'pgd-cw', steps: 20, restarts: 1 },
      { name: 'apgd-dlr', steps: 50, restarts: 1 },
      { name: 'square', steps: 300, restarts: 1 },
    ],
    sweepExamples: 100, sweepSteps: 20, itersExamples: 200, weak: [20, 1], strong: [50, 2],
  },
  standard: {
    attacks: [
      { name: 'fgsm', steps: 1, restarts: 1 },
      { name: 'pgd-ce', steps: 40, restarts: 1 },
      { name: 'pgd-cw', steps: 40, restarts: 1 },
      { name: 'apgd-ce', steps: 100, restarts: 1 },
      { name: 'apgd-dlr', steps: 100, restarts: 1 },
      { name: 'square', steps: 1000, restarts: 1 },
    ],
    sweepExamples: 200, sweepSteps: 40, itersExamples: 200, weak: [20, 1], strong: [100, 5],
  },
  thorough: {
    attacks: [
      { name: 'fgsm', steps: 1, restarts: 1 },
      { name: 'pgd-ce', steps: 100, restarts: 5 },
      { name: 'pgd-cw', steps: 100, restarts: 5 },
      { name: 'apgd-ce', steps: 100, restarts: 5 },
      { name: 'apgd-dlr', steps: 100, restarts: 1 },
      { name: 'square', steps: 5000, restarts: 1 },
    ],
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
  /** Text models: also attack the token ids with real word swaps (see word-audit.ts). */
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
}

/**
 * The attacks of a plan. The targeted DLR loss needs 4 classes; with fewer (a binary spam filter),
 * targeting is moot — there is one wrong class — so APGD runs on CE instead, unless the plan already has it.
 */
export function planAttacks(plan: AuditPlan, threat: ThreatModel, seed: number, numClasses = 10): Attack[] {
  const hasApgdCe = plan.attacks.some((p) => p.name === 'apgd-ce');
  return plan.attacks.flatMap((p0, i) => {
    if (p0.name === 'apgd-dlr' && numClasses < 4 && hasApgdCe) return [];
    const p = p0.name === 'apgd-dlr' && numClasses < 4 ? { ...p0, name: 'apgd-ce' } : p0;
    return buildSuite({ threat, attacks: [p.name], steps: p.steps, restarts: p.restarts, seed: seed + 101 * i, queries: p.steps });
  });
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
 * steps, ε, norm, targets, surrogate) come from its describe().
 */
export function auditKey(model: tf.LayersModel | LogitsFn, ds: Dataset, attacks: Attack[], o: AuditOptions): string {
  const fingerprint = o.fingerprint ?? (typeof model === 'function' ? undefined : modelFingerprint(model));
  if (fingerprint === undefined && o.statePath !== undefined) {
    throw new UserError('audit: resuming needs a model fingerprint; pass `fingerprint` for a logits function');
  }
  return createHash('sha256').update(JSON.stringify({
    format: STATE_FORMAT, fingerprint: fingerprint ?? null, version: o.version, threat: o.threat, seed: o.seed,
    dataset: ds.name, examples: ds.count, shape: ds.shape, batchSize: o.batchSize ?? 250, keepExamples: o.keepExamples ?? 16,
    attacks: attacks.map((a) => a.describe()), extras: o.keyExtras ?? {},
  })).digest('hex');
}

export function audit(model: tf.LayersModel | LogitsFn, ds: Dataset, o: AuditOptions): AuditResult {
  const t0 = Date.now();
  const f = logitsOf(model);
  const plan = AUDIT_PLANS[o.version];
  const attacks = planAttacks(plan, o.threat, o.seed, ds.numClasses);
  attacks.push(...(o.extraAttacks ?? []));
  o.onPhase?.(`attack cascade: ${attacks.map((a) => a.name).join(' → ')}`);
  const cascade = runCascade(f, ds, attacks, {
    ...(o.batchSize !== undefined ? { batchSize: o.batchSize } : {}),
    ...(o.statePath !== undefined ? { statePath: o.statePath } : {}),
    ...(o.onProgress !== undefined ? { onProgress: o.onProgress } : {}),
    keepExamples: o.keepExamples ?? 16,
    key: auditKey(model, ds, attacks, o),
    onResume: (resumed) => o.onPhase?.(resumed ? 'resuming the interrupted audit' : 'the saved audit state is for another model or configuration; starting over'),
  });

  o.onPhase?.('ε sweep');
  const sweepSet: Dataset = { ...ds, count: Math.min(plan.sweepExamples, ds.count) };
  const sweep = epsSweep(f, sweepSet, { norm: o.threat.norm, ...(o.threat.bounds !== undefined ? { bounds: o.threat.bounds } : {}), epsilons: sweepRadii(o.threat), steps: plan.sweepSteps, restarts: 1, losses: ['ce', 'cw'], seed: o.seed });

  o.onPhase?.('masking diagnostics');
  const iters = checkMoreIterations(f, ds, o.threat, { n: plan.itersExamples, weak: plan.weak, strong: plan.strong, seed: o.seed + 7 });
  const nSub = Math.min(plan.itersExamples, ds.count);
  const cascadeWorstSub = cascade.robust.slice(0, nSub).reduce((a, b) => a + b, 0) / Math.max(nSub, 1);
  const findings: Finding[] = [
    checkLogits(f, ds, typeof model === 'function' ? undefined : lastLayerActivation(model)),
    checkDeterminism(f, ds),
    checkGradients(f, ds),
    checkEpsGrowth(sweep, o.threat),
    iters,
    checkWeakAttackGap(iters.evidence['weak'] as { steps: number; restarts: number; robustAccuracy: number }, cascadeWorstSub, nSub),
    checkBlackBoxVsWhiteBox(cascade.steps, ds.count),
  ];
  if (typeof model !== 'function') findings.push(checkVerifiedGradients(gradientSupport(model)));
  // Single step vs iterative, each measured alone on the same examples (the cascade only sees survivors).
  const fgsmStep = cascade.steps.find((s) => s.attack.startsWith('fgsm'));
  if (fgsmStep !== undefined) {
    const sub: Dataset = { ...ds, count: Math.min(plan.itersExamples, ds.count) };
    const alone = (names: string[], steps: number): number => epsSweep(f, sub, { norm: o.threat.norm, ...(o.threat.bounds !== undefined ? { bounds: o.threat.bounds } : {}), epsilons: [o.threat.eps], steps, restarts: 1, losses: names as ['ce'], seed: o.seed })[0]?.robustAccuracy ?? NaN;
    const fg = (() => {
      const r = buildSuite({ threat: o.threat, attacks: ['fgsm'], steps: 1, restarts: 1, seed: o.seed });
      const ev = runCascade(f, sub, r, {});
      return ev.worstCaseAccuracy;
    })();
    findings.push(checkSingleStep(fg, alone(['ce'], plan.weak[0])));
  }
  const words = o.words === undefined ? undefined : wordAudit(o.words, {
    version: o.version, seed: o.seed, key: auditKey(model, ds, attacks, o),
    ...(o.statePath !== undefined ? { statePath: wordStatePath(o.statePath) } : {}),
    ...(o.onPhase !== undefined ? { onPhase: o.onPhase } : {}), ...(o.onWordProgress !== undefined ? { onProgress: o.onWordProgress } : {}),
  });
  if (words !== undefined) findings.push(...words.findings);
  return {
    version: o.version, threat: o.threat, examples: ds.count, cleanAccuracy: cascade.cleanAccuracy,
    cascade: cascade.steps, worstCaseAccuracy: cascade.worstCaseAccuracy, epsSweep: sweep, findings,
    fooledBy: cascade.fooledBy, adversarial: cascade.adversarial, ...(words !== undefined ? { wordSwaps: words } : {}), seconds: (Date.now() - t0) / 1000,
  };
}
