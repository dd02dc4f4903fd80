/**
 * The demo's quick audit: the masking checks an evaluation that has already run supports, plus one
 * cheap ε curve, so the first page a user sees has findings and a curve without the cost of `alp audit`.
 *
 * From the evaluation itself (no extra attack): FGSM alone vs PGD alone, plain PGD vs the worst case,
 * and Square on the survivors vs the gradient attacks before it (the first attack that fooled each
 * example is the cascade's attribution, because every attack is seeded per example and runs in suite
 * order). Model-level checks cost one forward and one gradient. The only new attack is the ε curve.
 * Left out: more steps and restarts (two more PGD runs), which the full audit does.
 */
import type * as tf from '@tensorflow/tfjs';
import type { Attack } from '../attack/attack.js';
import type { BatchOutcome } from '../attack/runner.js';
import type { ObjectiveName } from '../attack/objectives.js';
import type { ThreatModel } from '../attack/threat-model.js';
import type { Dataset } from '../data/dataset.js';
import { logitsOf, type LogitsFn } from '../model/classifier.js';
import { lastLayerActivation } from '../model/io.js';
import { gradientSupport } from '../model/gradient-support.js';
import { modelChecksOf, type ModelChecks } from './audit.js';
import type { CascadeStep } from './cascade.js';
import {
  checkBlackBoxVsWhiteBox, checkEpsGrowth, checkSingleStep, checkVerifiedGradients, checkWeakAttackGap, determinismFinding,
  gradientsFinding, logitsFinding, type Finding,
} from './diagnostics.js';
import { attackDataset, pgdSuite, predictAll, rowsOf, type EvalOptions, type EvalResult, type SweepPoint } from './evaluate.js';

/** The quick ε curve: PGD on each loss at each radius, on the first `examples` rows. */
export interface QuickSweepConfig {
  radii: number[];
  steps: number;
  losses: ObjectiveName[];
  examples: number;
  seed: number;
}

export const QUICK_SWEEP: Omit<QuickSweepConfig, 'seed'> = {
  // Up to 0.5: the masking check needs one radius at which any digit can be turned into any other.
  radii: [0, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5], steps: 20, losses: ['ce', 'cw'], examples: 200,
};

/** The audit's checks the quick audit leaves to `alp audit`, and why. */
export const QUICK_NOT_RUN: ReadonlyArray<{ id: string; title: string; why: string }> = [
  { id: 'more-steps-restarts', title: 'More PGD steps and restarts do not lower accuracy substantially', why: 'needs two more PGD runs (a weak and a strong one with restarts)' },
];

/**
 * Robust accuracy per radius on the first `examples` rows of `ds`. An example fooled at one radius is
 * fooled at every larger one (the balls are nested), so each radius attacks only the examples every
 * smaller radius left robust: the curve never rises, and the large radii cost only the survivors.
 */
export async function quickSweep(
  model: tf.LayersModel | LogitsFn, ds: Dataset, threat: ThreatModel, c: QuickSweepConfig, eo: EvalOptions & { onRadius?: (eps: number, robustAccuracy: number) => void } = {},
): Promise<SweepPoint[]> {
  const f = logitsOf(model);
  const sub = rowsOf(ds, 0, Math.min(c.examples, ds.count));
  const pred = predictAll(f, sub);
  const robust = Uint8Array.from(pred, (p, i) => Number(p === sub.labels[i]));
  const frac = (): number => robust.reduce((a, b) => a + b, 0) / Math.max(sub.count, 1);
  const out: SweepPoint[] = [];
  for (const eps of [...c.radii].sort((a, b) => a - b)) {
    if (eps > 0) {
      const at: ThreatModel = { norm: threat.norm, eps, ...(threat.bounds !== undefined ? { bounds: threat.bounds } : {}) };
      for (const attack of pgdSuite({ threat: at, steps: c.steps, restarts: 1, losses: c.losses, seed: c.seed })) {
        if (!robust.some((v) => v === 1)) break;
        const { fooled } = await attackDataset(f, sub, attack, Uint8Array.from(robust), eo);
        fooled.forEach((v, i) => {
          if (v) robust[i] = 0;
        });
      }
    }
    out.push({ eps, robustAccuracy: frac() });
    eo.onRadius?.(eps, frac());
  }
  return out;
}

/**
 * Follows an evaluation through `EvalOptions.onAttackBatch`: which attack first fooled each example
 * (suite order), that adversarial example, and for examples never fooled the attempt of one chosen
 * attack, so a few of each can be shown.
 */
export class EvalRecorder {
  private readonly fooled = new Map<number, { attack: string; data: Float32Array; advPred: number }>();
  private readonly attempts = new Map<number, { attack: string; data: Float32Array; advPred: number }>();

  /** `attemptOf`: the attack whose (failed) attempt is kept for the examples it does not fool. */
  constructor(private readonly attemptOf: string) {}

  readonly onAttackBatch = (attack: Attack, b: BatchOutcome): void => {
    const row = b.data.length / Math.max(b.ids.length, 1);
    b.ids.forEach((id, j) => {
      const keep = { attack: attack.name, data: b.data.slice(j * row, (j + 1) * row), advPred: b.pred[j] as number };
      if (b.success[j]) {
        if (!this.fooled.has(id)) this.fooled.set(id, keep);
      } else if (attack.name === this.attemptOf) this.attempts.set(id, keep);
    });
  };

  /** Per example of `count`: the first attack that fooled it, '' if none did. */
  fooledBy(count: number): string[] {
    return Array.from({ length: count }, (_, i) => this.fooled.get(i)?.attack ?? '');
  }

  /**
   * The lowest-index `fooled` examples the evaluation fooled, then the lowest-index `resisted` ones it
   * left robust (`robust[i]` = 1), each with its adversarial example (or the kept failed attempt).
   */
  pick(robust: readonly number[], fooled: number, resisted: number): Array<{ id: number; attack: string; fooled: boolean; data: Float32Array; advPred: number }> {
    const ids = [...this.fooled.keys()].filter((i) => robust[i] !== 1).sort((a, b) => a - b).slice(0, fooled);
    const kept = [...this.attempts.keys()].filter((i) => robust[i] === 1).sort((a, b) => a - b).slice(0, resisted);
    return [
      ...ids.map((id) => ({ id, fooled: true, ...(this.fooled.get(id) as { attack: string; data: Float32Array; advPred: number }) })),
      ...kept.map((id) => ({ id, fooled: false, ...(this.attempts.get(id) as { attack: string; data: Float32Array; advPred: number }) })),
    ];
  }
}

/**
 * The evaluation read as a cascade: robust accuracy after each attack and every one before it, and how
 * many examples each fooled first. Seeded per example, an attack run on every correct example fools
 * the same survivors it would fool if run on the survivors alone.
 */
export function evalCascade(result: Omit<EvalResult, 'robust'>, fooledBy: readonly string[]): CascadeStep[] {
  const count = Math.max(result.examples, 1);
  let robust = Math.round(result.cleanAccuracy * result.examples);
  return result.attacks.map((a) => {
    const fooledHere = fooledBy.filter((b) => b === a.name).length;
    robust -= fooledHere;
    return { attack: a.name, config: a.config, robustAccuracyAfter: robust / count, fooledHere, seconds: a.seconds };
  });
}

export interface QuickFindingsInput {
  threat: ThreatModel;
  /** The evaluation (each attack alone; attacks on survivors flagged) and its first-fooler per example. */
  result: Omit<EvalResult, 'robust'>;
  fooledBy: readonly string[];
  /** Names of the evaluation's FGSM and plain PGD-CE attacks, and the PGD's steps and restarts. */
  fgsm: string | null;
  pgd: { name: string; steps: number; restarts: number } | null;
  sweep: SweepPoint[];
  model: ModelChecks;
}

/** The audit's findings that an evaluation, its ε curve and the model-level checks support. */
export function quickFindings(i: QuickFindingsInput): Finding[] {
  const alone = (name: string | null): number | undefined => (name === null ? undefined : i.result.attacks.find((a) => a.name === name && a.onSurvivors !== true)?.robustAccuracy);
  const count = i.result.examples;
  const cascade = evalCascade(i.result, i.fooledBy);
  const out: Finding[] = [
    logitsFinding(i.model.logits, i.model.lastActivation ?? undefined),
    determinismFinding(i.model.forwardDifference),
    gradientsFinding(i.model.gradientNorms),
  ];
  if (i.sweep.length > 0) out.push(checkEpsGrowth(i.sweep, i.threat));
  const pgd = alone(i.pgd?.name ?? null);
  if (i.pgd !== null && pgd !== undefined) out.push(checkWeakAttackGap({ steps: i.pgd.steps, restarts: i.pgd.restarts, robustAccuracy: pgd }, i.result.worstCaseAccuracy, count));
  out.push(checkBlackBoxVsWhiteBox(cascade, count));
  if (i.model.layers !== null) out.push(checkVerifiedGradients(i.model.layers));
  const fgsm = alone(i.fgsm);
  if (fgsm !== undefined && pgd !== undefined) out.push(checkSingleStep(fgsm, pgd));
  return out;
}

/** One example the page shows: the adversarial image, or for one the model resisted, the attack's best try. */
export interface ShownExample {
  id: number;
  label: number;
  cleanPred: number;
  advPred: number;
  attack: string;
  fooled: boolean;
  data: Float32Array;
}

export interface QuickAuditOptions {
  threat: ThreatModel;
  /** The evaluation's suite and result, and its recorder (passed as `onAttackBatch` to it). */
  suite: readonly Attack[];
  result: EvalResult;
  recorder: EvalRecorder;
  sweep: QuickSweepConfig;
  /** How many fooled and resisted examples to show. */
  show: { fooled: number; resisted: number };
  onProgress?: EvalOptions['onProgress'];
  onRadius?: (eps: number, robustAccuracy: number) => void;
}

export interface QuickAuditResult {
  epsSweep: SweepPoint[];
  cascade: CascadeStep[];
  findings: Finding[];
  shown: ShownExample[];
  seconds: number;
}

/**
 * The quick audit of an evaluation that ran with `o.recorder`: the ε curve, the model-level checks,
 * the findings they and the evaluation support, and the examples to show. `f` is the model's logits
 * (the caller may count what passes through it); `model` gives the layer-level checks.
 */
export async function quickAudit(model: tf.LayersModel, f: LogitsFn, ds: Dataset, o: QuickAuditOptions): Promise<QuickAuditResult> {
  const t0 = Date.now();
  const epsSweep = await quickSweep(f, ds, o.threat, o.sweep, {
    ...(o.onProgress !== undefined ? { onProgress: o.onProgress } : {}), ...(o.onRadius !== undefined ? { onRadius: o.onRadius } : {}),
  });
  const checks = modelChecksOf(f, ds);
  const pgd = o.suite.find((a) => a.describe()['attack'] === 'pgd' && a.describe()['loss'] === 'ce');
  const fgsm = o.suite.find((a) => a.describe()['attack'] === 'fgsm');
  const { robust, ...result } = o.result;
  const fooledBy = o.recorder.fooledBy(ds.count);
  const findings = quickFindings({
    threat: o.threat, result, fooledBy, sweep: epsSweep, fgsm: fgsm?.name ?? null,
    pgd: pgd === undefined ? null : { name: pgd.name, steps: Number(pgd.describe()['steps']), restarts: Number(pgd.describe()['restarts']) },
    model: { ...checks, lastActivation: lastLayerActivation(model) ?? null, layers: gradientSupport(model) },
  });
  const picked = o.recorder.pick(robust, o.show.fooled, o.show.resisted);
  const row = ds.shape[0] * ds.shape[1] * ds.shape[2];
  const images = new Float32Array(picked.length * row);
  picked.forEach((e, j) => images.set(ds.images.subarray(e.id * row, (e.id + 1) * row), j * row));
  const labels = Int32Array.from(picked, (e) => ds.labels[e.id] as number);
  const cleanPred = picked.length === 0 ? new Int32Array(0) : predictAll(f, { ...ds, count: picked.length, images, labels });
  return {
    epsSweep, cascade: evalCascade(result, fooledBy), findings,
    shown: picked.map((e, j) => ({ ...e, label: labels[j] as number, cleanPred: cleanPred[j] as number })),
    seconds: (Date.now() - t0) / 1000,
  };
}

/** The PGD-CE attack of a suite, whose failed tries the recorder keeps for the examples shown as resisted. */
export function pgdCeOf(suite: readonly Attack[]): string {
  return suite.find((a) => a.describe()['attack'] === 'pgd' && a.describe()['loss'] === 'ce')?.name ?? '';
}
