/**
 * Detection evaluation: how well each detector separates clean inputs from adversarial ones, first
 * against attacks that ignore the detector (FGSM, PGD with CE and CW, APGD when available), then
 * against an adaptive attack that knows the detector (adaptive.ts). Its results are written as
 * detect-eval.json by artifacts/detect-eval.ts, whose `fields` explains every number.
 *
 * Data: thresholds are calibrated on a clean set disjoint from the test set. Negatives are all clean
 * test inputs; positives are the adversarial inputs that fool the classifier (an attack that fails to
 * change the prediction produces nothing to detect). Attacks run on the correctly classified test
 * inputs through the runner; every returned input is re-checked (ε-ball, [0,1] box, fresh forward pass)
 * and every one that fools the classifier is scored again with the real detector (scored-attacks.ts).
 */
import * as tf from '@tensorflow/tfjs';
import type { Attack } from '../attack/attack.js';
import { predictDataset } from '../attack/runner.js';
import type { ThreatModel } from '../attack/threat-model.js';
import { subset, type Dataset } from '../data/dataset.js';
import { buildSuite, type AttackName } from '../eval/suite.js';
import { logitsOf, type LogitsFn } from '../model/classifier.js';
import { UserError } from '../util/errors.js';
import { checkpointInterrupt } from '../util/interrupt.js';
import { assertValidInputs } from '../util/validate.js';
import { AdaptiveDetectorAttack, type AdaptiveOptions, type TargetPool } from './adaptive.js';
import { calibrateDetector, scoreDataset, type Calibration, type CalibrationReport } from './calibrate.js';
import type { Detector, DetectorConfig } from './detector.js';
import { detectionResult, type ModelDetectionResult } from './detection-result.js';
import { addCounts, concatF32, joinRowParts, sumOf, type RowPart } from './row-parts.js';
import { rowGroups, runAdaptiveAttack, runPlainAttack, scoreRows } from './scored-attacks.js';

export type { AttackDetection, DetectorEvaluation, ModelDetectionResult, OperatingPointReport } from './detection-result.js';
export type { RowPart } from './row-parts.js';

/** Non-adaptive attacks used by default: FGSM, PGD (CE, CW), and APGD-CE when this build has it. */
export function defaultDetectAttacks(): AttackName[] {
  return ['fgsm', 'pgd-ce', 'pgd-cw', 'apgd-ce'];
}

export interface DetectEvalOptions {
  threat: ThreatModel;
  /** Non-adaptive attacks by suite name (see eval/suite.ts). */
  attacks: AttackName[];
  steps: number;
  restarts: number;
  stepSize?: number;
  seed: number;
  /** FPRs at which TPR is reported (oracle threshold on the clean test scores). Default [0.01, 0.05]. */
  fprs?: number[];
  /** The deployed operating point: thresholds calibrated for this FPR on the calibration set. Default 0.05. */
  operatingFpr?: number;
  /** Adaptive attack settings (threat and seed are taken from here); null skips it. */
  adaptive?: Omit<AdaptiveOptions, 'threat'> | null;
  fitFraction?: number;
  batchSize?: number;
  onProgress?: (p: { stage: string; done: number; total: number }) => void;
  /** Aborting it stops the evaluation after the current batch with InterruptedError (nothing is returned). */
  signal?: AbortSignal;
}

function rowsOf(ds: Dataset, ids: readonly number[]): Float32Array {
  const row = ds.shape[0] * ds.shape[1] * ds.shape[2];
  const out = new Float32Array(ids.length * row);
  ids.forEach((id, j) => out.set(ds.images.subarray(id * row, (id + 1) * row), j * row));
  return out;
}

function labelsOf(ds: Dataset, ids: readonly number[]): Int32Array {
  return Int32Array.from(ids, (i) => ds.labels[i] as number);
}


/** A detector fitted and calibrated once, on the calibration set, with its adaptive attack's target pool. */
export interface PreparedDetector {
  detector: Detector;
  report: CalibrationReport;
  /** Clean, correctly classified, unflagged calibration inputs (threshold part): the logit-matching targets. */
  pool: TargetPool;
  seconds: number;
}

/** What evaluating rows of the test set needs of a prepared detector: plain data, so a worker can rebuild it. */
export interface DetectorSetup {
  config: DetectorConfig;
  calibration: Calibration;
  pool: TargetPool;
}

/** The per-example results of the test rows [start, end): everything the summary is computed from. */
export interface DetectPart extends RowPart {
  /**
   * Per non-adaptive attack (suite order): the correctly classified rows it fooled (ascending), and per
   * detector the score of each fooled row's adversarial input and the seconds (attack + scoring).
   */
  plain: Array<{ fooledIds: number[]; scores: Float32Array[]; seconds: number[] }>;
  /** Per detector, its adaptive attack (empty when skipped): fooled rows (ascending), their true scores. */
  adaptive: Array<{ fooledIds: number[]; scores: Float32Array; perStrategy: Record<string, number>; seconds: number }>;
}

export function checkDetectionInputs(test: Dataset, calibration: Dataset): void {
  assertValidInputs(test.images, `${test.name} test images`);
  if (test.shape.join() !== calibration.shape.join()) throw new UserError(`calibration images [${calibration.shape.join(',')}] and test images [${test.shape.join(',')}] differ in shape`);
}

/**
 * Fits and calibrates every detector on `calibration` (clean, disjoint from the test set) and picks the
 * adaptive attack's target pool. Runs once, in the calling thread, whatever evaluates the test rows.
 */
export function prepareDetection(f: LogitsFn, label: string, calibration: Dataset, detectors: Detector[], o: DetectEvalOptions): PreparedDetector[] {
  const bs = o.batchSize ?? 250;
  const [h, w, c] = calibration.shape;
  const calPred = o.adaptive !== null ? predictDataset(f, calibration, bs) : null;
  return detectors.map((det) => {
    const t0 = Date.now();
    const stage = `${label}: calibrating ${det.name}`;
    o.onProgress?.({ stage, done: 0, total: 1 });
    const report = calibrateDetector(det, f, calibration, { fpr: o.operatingFpr ?? 0.05, ...(o.fitFraction !== undefined ? { fitFraction: o.fitFraction } : {}), batchSize: bs });
    let pool: TargetPool = { x: new Float32Array(0), logits: new Float32Array(0), labels: new Int32Array(0), count: 0 };
    if (calPred !== null) {
      const [s0, s1] = report.split.threshold;
      const calIds = Array.from({ length: s1 - s0 }, (_, j) => s0 + j);
      const poolIds = calIds.filter((id, j) => calPred[id] === calibration.labels[id] && (report.scores[j] as number) <= report.calibration.threshold);
      const poolX = rowsOf(calibration, poolIds);
      const poolLogits = poolIds.length === 0 ? new Float32Array(0) : tf.tidy(() => f(tf.tensor4d(poolX, [poolIds.length, h, w, c])).dataSync() as Float32Array);
      pool = { x: poolX, logits: poolLogits, labels: labelsOf(calibration, poolIds), count: poolIds.length };
    }
    o.onProgress?.({ stage, done: 1, total: 1 });
    return { detector: det, report, pool, seconds: (Date.now() - t0) / 1000 };
  });
}

/** The prepared detectors as plain data (for workers). */
export function detectorSetups(prepared: readonly PreparedDetector[]): DetectorSetup[] {
  return prepared.map((p) => ({ config: p.detector.describe(), calibration: p.report.calibration, pool: p.pool }));
}

function adaptiveAttack(det: Detector, s: { calibration: Calibration; pool: TargetPool }, o: DetectEvalOptions): AdaptiveDetectorAttack {
  return new AdaptiveDetectorAttack(det, s.calibration, { ...(o.adaptive ?? {}), threat: o.threat, seed: o.adaptive?.seed ?? o.seed + 7919 }, s.pool);
}

function plainSuite(o: DetectEvalOptions): Attack[] {
  return buildSuite({ threat: o.threat, attacks: o.attacks, steps: o.steps, restarts: o.restarts, seed: o.seed, ...(o.stepSize !== undefined ? { stepSize: o.stepSize } : {}) });
}

/**
 * Evaluates the test rows [start, end): clean predictions and scores, every non-adaptive attack (run
 * once, scored by every detector) and each detector's adaptive attack. Random starts and noise are
 * seeded per example and batches are groups of `batchSize` rows from `start`, so the parts of the
 * groups, computed apart (in workers) and joined, are exactly the part of the whole range.
 */
export async function detectPart(
  f: LogitsFn, label: string, test: Dataset, detectors: ReadonlyArray<{ detector: Detector; calibration: Calibration; pool: TargetPool }>,
  o: DetectEvalOptions, range: readonly [number, number] = [0, test.count],
): Promise<DetectPart> {
  const [start, end] = range;
  const bs = o.batchSize ?? 250;
  const pred = predictDataset(f, subset(test, start, end - start), bs);
  const correctIds: number[] = [];
  for (let i = start; i < end; i++) if (pred[i - start] === test.labels[i]) correctIds.push(i);
  const progress = (stage: string, total: number) => (done: number) => o.onProgress?.({ stage: `${label}: ${stage}`, done, total });

  const clean: Float32Array[] = [];
  const cleanSeconds: number[] = [];
  for (const d of detectors) {
    const t0 = Date.now();
    clean.push(scoreDataset(d.detector, f, test, start, end - start, bs));
    cleanSeconds.push((Date.now() - t0) / 1000);
  }

  // Every batch below holds the correct rows of one group of `bs` rows from `start`: a row is computed
  // in the same batch whether this runs over all rows or over one group in a worker (float results can
  // depend on a batch's size, and identical per-example results for any number of workers are the point).
  const groups = rowGroups(correctIds, start, bs);

  // Non-adaptive attacks: run once, scored with every detector.
  const plain: DetectPart['plain'] = [];
  for (const attack of plainSuite(o)) {
    const report = progress(attack.name, correctIds.length);
    const fooledIds: number[] = [];
    const scores: Float32Array[][] = detectors.map(() => []);
    const seconds = detectors.map(() => 0);
    let done = 0;
    for (const group of groups) {
      const t0 = Date.now();
      const r = await runPlainAttack(f, test, group, attack, bs, o.signal);
      const attackSeconds = (Date.now() - t0) / 1000;
      fooledIds.push(...r.fooledIds);
      detectors.forEach((d, i) => {
        const t1 = Date.now();
        scores[i]?.push(scoreRows(d.detector, f, r.adv, test.shape, bs));
        seconds[i] = (seconds[i] as number) + attackSeconds + (Date.now() - t1) / 1000;
      });
      done += group.length;
      report(done);
    }
    plain.push({ fooledIds, scores: scores.map(concatF32), seconds });
  }

  // The adaptive attack, per detector.
  const adaptive: DetectPart['adaptive'] = [];
  if (o.adaptive !== null) {
    for (const d of detectors) {
      const t0 = Date.now();
      const attack = adaptiveAttack(d.detector, d, o);
      const fooledIds: number[] = [];
      const scores: Float32Array[] = [];
      const perStrategy: Record<string, number>[] = [];
      const report = progress(attack.name, correctIds.length);
      let done = 0;
      for (const group of groups) {
        await checkpointInterrupt(o.signal);
        const r = runAdaptiveAttack(f, test, group, attack, d.detector, d.calibration.threshold, attack.strategyNames(), bs);
        fooledIds.push(...r.fooledIds);
        scores.push(r.scores);
        perStrategy.push(r.perStrategy);
        done += group.length;
        report(done);
      }
      adaptive.push({ fooledIds, scores: concatF32(scores), perStrategy: addCounts(perStrategy), seconds: (Date.now() - t0) / 1000 });
    }
  }
  return { start, end, pred, clean, cleanSeconds, plain, adaptive };
}

/** Parts covering contiguous ranges, joined in row order (what one part over all the rows would hold, timings added). */
export function joinDetectParts(parts: readonly DetectPart[]): DetectPart {
  const { sorted, first, rows } = joinRowParts(parts, 'detection');
  return {
    ...rows,
    plain: first.plain.map((a0, k) => ({
      fooledIds: sorted.flatMap((p) => (p.plain[k] as DetectPart['plain'][number]).fooledIds),
      scores: a0.scores.map((_, d) => concatF32(sorted.map((p) => (p.plain[k] as DetectPart['plain'][number]).scores[d] as Float32Array))),
      seconds: a0.seconds.map((_, d) => sumOf(sorted.map((p) => (p.plain[k] as DetectPart['plain'][number]).seconds[d] as number))),
    })),
    adaptive: first.adaptive.map((_, d) => {
      const each = sorted.map((p) => p.adaptive[d] as DetectPart['adaptive'][number]);
      return { fooledIds: each.flatMap((a) => a.fooledIds), scores: concatF32(each.map((a) => a.scores)), perStrategy: addCounts(each.map((a) => a.perStrategy)), seconds: sumOf(each.map((a) => a.seconds)) };
    }),
  };
}

/** The detection result of a model from its prepared detectors and the (joined) part of all its test rows. */
export function summariseDetection(label: string, modelPath: string, test: Dataset, prepared: readonly PreparedDetector[], part: DetectPart, o: DetectEvalOptions): ModelDetectionResult {
  const suite = plainSuite(o);
  return detectionResult(label, modelPath, test, prepared, part, o.fprs ?? [0.01, 0.05], (d, sum, cal) => {
    const e = prepared[d] as PreparedDetector;
    const out = suite.map((attack, k) => {
      const a = part.plain[k] as DetectPart['plain'][number];
      return sum(attack.name, false, attack.describe(), { fooledIds: a.fooledIds, scores: a.scores[d] as Float32Array, seconds: a.seconds[d] as number });
    });
    const ad = part.adaptive[d];
    if (ad !== undefined) {
      const attack = adaptiveAttack(e.detector, { calibration: cal, pool: e.pool }, o);
      out.push(sum(attack.name, true, { ...attack.describe(), targetPool: e.pool.count }, ad));
    }
    return out;
  });
}

/**
 * Evaluates detectors on one model, in this thread. `detectors` are fresh (unfitted) detectors; they
 * are fitted and calibrated on `calibration` (clean, disjoint from `test`) and returned fitted in the
 * result configs. With workers: evaluateDetectionParallel (parallel/detect-parallel.ts).
 */
export async function evaluateDetection(
  model: tf.LayersModel | LogitsFn, label: string, modelPath: string, test: Dataset, calibration: Dataset, detectors: Detector[], o: DetectEvalOptions,
): Promise<ModelDetectionResult> {
  checkDetectionInputs(test, calibration);
  const f = logitsOf(model);
  const prepared = prepareDetection(f, label, calibration, detectors, o);
  const part = await detectPart(f, label, test, prepared.map((p) => ({ detector: p.detector, calibration: p.report.calibration, pool: p.pool })), o);
  return summariseDetection(label, modelPath, test, prepared, part, o);
}
