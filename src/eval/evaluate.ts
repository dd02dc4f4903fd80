/**
 * Robustness evaluation. Every attack in a suite runs on every example the model classifies
 * correctly; an example counts as robust only if no restart of any attack fools it (the worst case
 * per example, as AutoAttack reports it). Every attack runs through the attack runner, which clips
 * each result to the ε-ball and the box and re-checks it with a fresh forward pass.
 */
import type * as tf from '@tensorflow/tfjs';
import type { Attack } from '../attack/attack.js';
import { attackRows, predictDataset } from '../attack/runner.js';
import { boundsOf, type ThreatModel } from '../attack/threat-model.js';
import { Pgd } from '../attack/pgd.js';
import type { ObjectiveName } from '../attack/objectives.js';
import type { Dataset } from '../data/dataset.js';
import { logitsOf, type LogitsFn } from '../model/classifier.js';
import { assertValidInputs } from '../util/validate.js';

export interface AttackSummary {
  name: string;
  config: Record<string, unknown>;
  /** Fraction of all evaluated examples that are correct and survive this attack. */
  robustAccuracy: number;
  /** Fraction of correctly classified examples this attack fooled. */
  successRate: number;
  /** Largest perturbation found in the threat model's norm (sanity: never above ε). */
  maxPerturbation: number;
  seconds: number;
}

export interface EvalResult {
  examples: number;
  cleanAccuracy: number;
  attacks: AttackSummary[];
  /** Robust accuracy when each example faces its worst attack in the suite. */
  worstCaseAccuracy: number;
  /** Per example: 1 if correct and robust to every attack. */
  robust: number[];
}

export interface EvalProgress {
  attack: string;
  done: number;
  total: number;
  robustSoFar: number;
}

export interface EvalOptions {
  batchSize?: number;
  onProgress?: (p: EvalProgress) => void;
  /** Aborting it stops the evaluation after the current batch with InterruptedError (util/interrupt.ts). */
  signal?: AbortSignal;
}

/** Predictions in batches (the runner's `predictDataset`, under the name the public API has used). */
export const predictAll = predictDataset;

/**
 * Runs one attack over the examples flagged in `mask` and returns, per example, whether it was
 * fooled (verified by the runner), plus the largest perturbation seen.
 */
export async function attackDataset(f: LogitsFn, ds: Dataset, attack: Attack, mask: Uint8Array, o: EvalOptions = {}): Promise<{ fooled: Uint8Array; maxPerturbation: number }> {
  const fooled = new Uint8Array(ds.count);
  const todo: number[] = [];
  for (let i = 0; i < ds.count; i++) if (mask[i]) todo.push(i);
  let maxPert = 0;
  let fooledCount = 0;
  await attackRows(f, ds, todo, attack, {
    ...(o.batchSize !== undefined ? { batchSize: o.batchSize } : {}),
    ...(o.signal !== undefined ? { signal: o.signal } : {}),
    onBatch: (b, done) => {
      b.ids.forEach((id, j) => {
        maxPert = Math.max(maxPert, b.perturbation[j] as number);
        if (b.success[j]) {
          fooled[id] = 1;
          fooledCount++;
        }
      });
      o.onProgress?.({ attack: attack.name, done, total: todo.length, robustSoFar: done - fooledCount });
    },
  });
  return { fooled, maxPerturbation: maxPert };
}

/** Clean accuracy, every attack's robust accuracy, and the per-example worst case over the suite. */
export async function evaluateRobustness(model: tf.LayersModel | LogitsFn, ds: Dataset, attacks: Attack[], o: EvalOptions = {}): Promise<EvalResult> {
  // Every attack in a suite shares one threat model; its box is the one the inputs must be in.
  assertValidInputs(ds.images, `${ds.name} images`, attacks[0] !== undefined ? boundsOf(attacks[0].threat) : [0, 1]);
  const f = logitsOf(model);
  const pred = predictAll(f, ds);
  const correct = new Uint8Array(ds.count);
  for (let i = 0; i < ds.count; i++) correct[i] = Number(pred[i] === ds.labels[i]);
  const nCorrect = correct.reduce((a, b) => a + b, 0);
  const robust = Uint8Array.from(correct);
  const summaries: AttackSummary[] = [];
  for (const attack of attacks) {
    const t0 = Date.now();
    const { fooled, maxPerturbation } = await attackDataset(f, ds, attack, correct, o);
    let survived = 0;
    let nFooled = 0;
    for (let i = 0; i < ds.count; i++) {
      if (fooled[i]) {
        robust[i] = 0;
        nFooled++;
      } else if (correct[i]) survived++;
    }
    summaries.push({
      name: attack.name,
      config: attack.describe(),
      robustAccuracy: survived / Math.max(ds.count, 1),
      successRate: nFooled / Math.max(nCorrect, 1),
      maxPerturbation,
      seconds: (Date.now() - t0) / 1000,
    });
  }
  return {
    examples: ds.count,
    cleanAccuracy: nCorrect / Math.max(ds.count, 1),
    attacks: summaries,
    worstCaseAccuracy: robust.reduce((a, b) => a + b, 0) / Math.max(ds.count, 1),
    robust: Array.from(robust),
  };
}

export interface SuiteOptions {
  threat: ThreatModel;
  steps: number;
  restarts: number;
  losses: ObjectiveName[];
  seed: number;
  stepSize?: number;
}

/** The standard white-box suite: PGD with random restarts on each requested objective. */
export function pgdSuite(o: SuiteOptions): Attack[] {
  return o.losses.map((loss, i) => new Pgd({
    threat: o.threat, steps: o.steps, restarts: o.restarts, loss, seed: o.seed + 1000 * i,
    ...(o.stepSize !== undefined ? { stepSize: o.stepSize } : {}),
  }));
}

export interface SweepPoint {
  eps: number;
  robustAccuracy: number;
}

/** Robust accuracy as ε grows; a curve that does not reach ~0 at large ε hints at gradient masking. */
export async function epsSweep(model: tf.LayersModel | LogitsFn, ds: Dataset, o: Omit<SuiteOptions, 'threat'> & { norm: ThreatModel['norm']; epsilons: number[]; bounds?: ThreatModel['bounds'] }, eo: EvalOptions = {}): Promise<SweepPoint[]> {
  const points: SweepPoint[] = [];
  for (const eps of o.epsilons) {
    if (eps === 0) {
      const f = logitsOf(model);
      const p = predictAll(f, ds);
      let c = 0;
      for (let i = 0; i < ds.count; i++) if (p[i] === ds.labels[i]) c++;
      points.push({ eps, robustAccuracy: c / Math.max(ds.count, 1) });
      continue;
    }
    const r = await evaluateRobustness(model, ds, pgdSuite({ ...o, threat: { norm: o.norm, eps, ...(o.bounds !== undefined ? { bounds: o.bounds } : {}) } }), eo);
    points.push({ eps, robustAccuracy: r.worstCaseAccuracy });
  }
  return points;
}
