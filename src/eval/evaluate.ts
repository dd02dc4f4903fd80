/**
 * Robustness evaluation. Every attack in a suite runs on every example the model classifies
 * correctly; an example counts as robust only if no restart of any attack fools it (the worst case
 * per example, as AutoAttack reports it). Every attack runs through the attack runner, which clips
 * each result to the ε-ball and the box and re-checks it with a fresh forward pass.
 */
import { checkEvalCall } from './check-call.js';
import type * as tf from '@tensorflow/tfjs';
import type { Attack } from '../attack/attack.js';
import { attackRows, predictDataset, type BatchOutcome } from '../attack/runner.js';
import { boundsOf, type ThreatModel } from '../attack/threat-model.js';
import { Pgd } from '../attack/pgd.js';
import type { ObjectiveName } from '../attack/objectives.js';
import type { Dataset } from '../data/dataset.js';
import { logitsOf, type LogitsFn } from '../model/classifier.js';
import { UserError } from '../util/errors.js';
import { assertValidInputs } from '../util/validate.js';

export interface AttackSummary {
  name: string;
  config: Record<string, unknown>;
  /** Fraction of all evaluated examples that are correct and survive this attack. */
  robustAccuracy: number;
  /** Fraction of the examples it attacked (correctly classified ones; with onSurvivors, those still robust) that this attack fooled. */
  successRate: number;
  /** Largest perturbation found in the threat model's norm (sanity: never above ε). */
  maxPerturbation: number;
  seconds: number;
  /** Ran only on the examples the attacks before it left robust: its robust accuracy includes theirs. */
  onSurvivors?: boolean;
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

/** One `onProgress` event of an evaluation: after each batch of each attack. */
export interface EvalProgress {
  /** The attack running. */
  attack: string;
  /** Examples this attack has finished, of `total` it runs on. */
  done: number;
  total: number;
  /** Of the finished ones, how many are still classified correctly. */
  robustSoFar: number;
}

export interface EvalOptions {
  batchSize?: number;
  /** Per attack: run it only on the examples still robust after the attacks before it (suite.ts `survivorsMask`). */
  onSurvivors?: readonly boolean[];
  /** Called after every batch of every attack (and of the sweep's radii), so a caller can show progress. */
  onProgress?: (p: EvalProgress) => void;
  /** Each verified batch of each attack, with its adversarial rows (the demo keeps a few to show). */
  onAttackBatch?: (attack: Attack, b: BatchOutcome) => void;
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
      o.onAttackBatch?.(attack, b);
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

/**
 * What one slice of an evaluation measured, per example, in a form that slices can be combined from:
 * a shard (`--shard`), a worker's share (`--workers`) or the whole run are all parts, and every number
 * of the result is computed from the concatenated parts by `summarizeEval`, so a split run reports
 * exactly what the whole run does.
 */
export interface EvalPart {
  /** The examples covered: dataset rows [start, end). */
  start: number;
  end: number;
  /** Per example in [start, end): 1 if classified correctly. */
  correct: number[];
  attacks: Array<{
    name: string;
    config: Record<string, unknown>;
    /** Per example in [start, end): 1 if this attack fooled it. */
    fooled: number[];
    /** Largest perturbation this attack used on the part's examples. */
    maxPerturbation: number;
    seconds: number;
    /** Ran only on the examples the attacks before it left robust. */
    onSurvivors?: boolean;
  }>;
}

/** The rows [start, end) of a dataset as a dataset of their own (a view, not a copy). */
export function rowsOf(ds: Dataset, start: number, end: number): Dataset {
  const row = ds.shape[0] * ds.shape[1] * ds.shape[2];
  return { ...ds, images: ds.images.subarray(start * row, end * row), labels: ds.labels.subarray(start, end), count: end - start };
}

/**
 * Runs every attack of a suite on the correctly classified examples among rows [start, end) of `ds`.
 * Random starts are seeded by the examples' indices in `ds`, so a row gets the same attack whichever
 * part it is in.
 */
export async function evalPart(model: tf.LayersModel | LogitsFn, ds: Dataset, attacks: Attack[], range: readonly [number, number] = [0, ds.count], o: EvalOptions = {}): Promise<EvalPart> {
  // Every attack in a suite shares one threat model; its box is the one the inputs must be in.
  assertValidInputs(ds.images, `${ds.name} images`, attacks[0] !== undefined ? boundsOf(attacks[0].threat) : [0, 1]);
  const [start, end] = range;
  if (!(Number.isInteger(start) && Number.isInteger(end) && start >= 0 && start <= end && end <= ds.count)) {
    throw new RangeError(`evalPart: rows [${start}, ${end}) are not inside the ${ds.count} examples`);
  }
  const f = logitsOf(model);
  const pred = predictAll(f, rowsOf(ds, start, end));
  const correct = new Uint8Array(ds.count);
  for (let i = start; i < end; i++) correct[i] = Number(pred[i - start] === ds.labels[i]);
  const parts: EvalPart['attacks'] = [];
  if (o.onSurvivors !== undefined && o.onSurvivors.length !== attacks.length) throw new Error(`onSurvivors: expected ${attacks.length} flags, one per attack, got ${o.onSurvivors.length}`);
  // Still robust after the attacks so far: what an attack run on survivors only is given.
  const robust = Uint8Array.from(correct);
  for (const [k, attack] of attacks.entries()) {
    const t0 = Date.now();
    const cascade = o.onSurvivors?.[k] === true;
    const { fooled, maxPerturbation } = await attackDataset(f, ds, attack, cascade ? Uint8Array.from(robust) : correct, o);
    for (let i = start; i < end; i++) if (fooled[i]) robust[i] = 0;
    parts.push({
      name: attack.name, config: attack.describe(), fooled: Array.from(fooled.subarray(start, end)), maxPerturbation, seconds: (Date.now() - t0) / 1000,
      ...(cascade ? { onSurvivors: true } : {}),
    });
  }
  return { start, end, correct: Array.from(correct.subarray(start, end)), attacks: parts };
}

/** The parts sorted by `start`; each must begin where the one before it ends. */
function contiguous<P extends { start: number; end: number }>(parts: readonly P[]): P[] {
  const sorted = [...parts].sort((a, b) => a.start - b.start);
  sorted.forEach((p, i) => {
    const prev = sorted[i - 1];
    if (prev !== undefined && p.start !== prev.end) throw new UserError(`parts [${prev.start}, ${prev.end}) and [${p.start}, ${p.end}) do not adjoin`);
  });
  return sorted;
}

/** Adjoining parts as one part (a shard computed by several workers). */
export function joinEvalParts(parts: readonly EvalPart[]): EvalPart {
  const sorted = contiguous(parts);
  const first = sorted[0];
  if (first === undefined) throw new Error('joinEvalParts: no parts');
  return {
    start: first.start,
    end: (sorted[sorted.length - 1] as EvalPart).end,
    correct: sorted.flatMap((p) => p.correct),
    attacks: first.attacks.map((a, k) => ({
      name: a.name, config: a.config,
      fooled: sorted.flatMap((p) => p.attacks[k]?.fooled ?? []),
      maxPerturbation: Math.max(0, ...sorted.map((p) => p.attacks[k]?.maxPerturbation ?? 0)),
      seconds: sorted.reduce((t, p) => t + (p.attacks[k]?.seconds ?? 0), 0),
      ...(a.onSurvivors === true ? { onSurvivors: true } : {}),
    })),
  };
}

/**
 * Clean accuracy, every attack's robust accuracy and the worst case per example, over the examples of
 * adjoining parts (in practice: all of a run's parts, or one shard's own).
 */
export function summarizeEval(parts: readonly EvalPart[]): EvalResult {
  const sorted = contiguous(parts);
  const correct = sorted.flatMap((p) => p.correct);
  const names = sorted[0]?.attacks ?? [];
  for (const p of sorted) {
    if (p.correct.length !== p.end - p.start) throw new UserError(`part [${p.start}, ${p.end}): ${p.correct.length} clean results for ${p.end - p.start} examples`);
    if (p.attacks.length !== names.length || p.attacks.some((a, k) => a.name !== names[k]?.name || a.fooled.length !== p.correct.length)) {
      throw new UserError(`part [${p.start}, ${p.end}): attacks ${p.attacks.map((a) => a.name).join(',')} differ from ${names.map((a) => a.name).join(',')} or do not cover its examples`);
    }
  }
  const count = correct.length;
  const nCorrect = correct.reduce((a, b) => a + b, 0);
  const robust = Uint8Array.from(correct);
  const summaries: AttackSummary[] = names.map((first, k) => {
    const fooled = sorted.flatMap((p) => (p.attacks[k] as EvalPart['attacks'][number]).fooled);
    const cascade = first.onSurvivors === true;
    const mask = cascade ? Uint8Array.from(robust) : correct;
    let tried = 0;
    for (const v of mask) tried += v;
    let survived = 0;
    let nFooled = 0;
    for (let i = 0; i < count; i++) {
      if (fooled[i]) {
        robust[i] = 0;
        nFooled++;
      } else if (mask[i]) survived++;
    }
    return {
      name: first.name,
      config: first.config,
      robustAccuracy: survived / Math.max(count, 1),
      successRate: nFooled / Math.max(tried, 1),
      maxPerturbation: Math.max(0, ...sorted.map((p) => (p.attacks[k] as EvalPart['attacks'][number]).maxPerturbation)),
      seconds: sorted.reduce((a, p) => a + (p.attacks[k] as EvalPart['attacks'][number]).seconds, 0),
      ...(cascade ? { onSurvivors: true } : {}),
    };
  });
  return {
    examples: count,
    cleanAccuracy: nCorrect / Math.max(count, 1),
    attacks: summaries,
    worstCaseAccuracy: robust.reduce((a, b) => a + b, 0) / Math.max(count, 1),
    robust: Array.from(robust),
  };
}

/** Clean accuracy, every attack's robust accuracy, and the per-example worst case over the suite. */
/**
 * Clean and robust accuracy of `model` on `ds` under each attack, and the worst case per example.
 * Throws an OptionError for a threat model outside the inputs' box (ε ≥ 1 for L∞ on [0,1] inputs), a
 * negative or non-finite ε, a bad batch size or labels outside the classes; `o.onProgress` reports
 * every batch, `o.signal` stops it after the current one.
 */
export async function evaluateRobustness(model: tf.LayersModel | LogitsFn, ds: Dataset, attacks: Attack[], o: EvalOptions = {}): Promise<EvalResult> {
  checkEvalCall(ds, attacks.map((a) => a.threat), o);
  return summarizeEval([await evalPart(model, ds, attacks, [0, ds.count], o)]);
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

/** One part of an ε sweep: per radius, per example of rows [start, end), 1 if robust (at ε = 0: correct). */
export interface SweepPart {
  start: number;
  end: number;
  points: Array<{ eps: number; robust: number[] }>;
}

export type SweepConfig = Omit<SuiteOptions, 'threat'> & { norm: ThreatModel['norm']; epsilons: number[]; bounds?: ThreatModel['bounds'] };

/** The worst-case PGD suite at each radius, on rows [start, end). */
export async function sweepPart(model: tf.LayersModel | LogitsFn, ds: Dataset, o: SweepConfig, range: readonly [number, number] = [0, ds.count], eo: EvalOptions = {}): Promise<SweepPart> {
  const [start, end] = range;
  const points: SweepPart['points'] = [];
  for (const eps of o.epsilons) {
    if (eps === 0) {
      const p = predictAll(logitsOf(model), rowsOf(ds, start, end));
      points.push({ eps, robust: Array.from(p, (q, i) => Number(q === ds.labels[start + i])) });
      continue;
    }
    const part = await evalPart(model, ds, pgdSuite({ ...o, threat: { norm: o.norm, eps, ...(o.bounds !== undefined ? { bounds: o.bounds } : {}) } }), range, eo);
    points.push({ eps, robust: summarizeEval([part]).robust });
  }
  return { start, end, points };
}

/** Adjoining sweep parts as one. */
export function joinSweepParts(parts: readonly SweepPart[]): SweepPart {
  const sorted = contiguous(parts.filter((p) => p.end > p.start));
  const first = sorted[0] ?? parts[0];
  if (first === undefined) throw new Error('joinSweepParts: no parts');
  return {
    start: first.start,
    end: sorted[sorted.length - 1]?.end ?? first.end,
    points: first.points.map((pt, k) => ({ eps: pt.eps, robust: sorted.flatMap((p) => p.points[k]?.robust ?? []) })),
  };
}

/** Robust accuracy per radius over adjoining sweep parts. */
export function summarizeSweep(parts: readonly SweepPart[]): SweepPoint[] {
  const sorted = contiguous(parts);
  const first = sorted[0];
  if (first === undefined) return [];
  return first.points.map((pt, k) => {
    const robust = sorted.flatMap((p) => {
      const q = p.points[k];
      if (q === undefined || q.eps !== pt.eps || q.robust.length !== p.end - p.start) throw new UserError(`sweep part [${p.start}, ${p.end}): radii or example count differ from the first part's`);
      return q.robust;
    });
    return { eps: pt.eps, robustAccuracy: robust.reduce((a, b) => a + b, 0) / Math.max(robust.length, 1) };
  });
}

/** Robust accuracy as ε grows; a curve that does not reach ~0 at large ε hints at gradient masking. */
/** Robust accuracy at each radius of `o.epsilons` (checked like evaluateRobustness' ε, as `epsilons`). */
export async function epsSweep(model: tf.LayersModel | LogitsFn, ds: Dataset, o: SweepConfig, eo: EvalOptions = {}): Promise<SweepPoint[]> {
  checkEvalCall(ds, o.epsilons.map((eps) => ({ norm: o.norm, eps, ...(o.bounds !== undefined ? { bounds: o.bounds } : {}) })), eo, 'epsilons');
  return summarizeSweep([await sweepPart(model, ds, o, [0, ds.count], eo)]);
}
