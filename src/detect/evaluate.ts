/**
 * Detection evaluation: how well each detector separates clean inputs from adversarial ones, first
 * against attacks that ignore the detector (FGSM, PGD with CE and CW, APGD when available), then
 * against an adaptive attack that knows the detector (adaptive.ts). Its results are written as
 * detect-eval.json by artifacts/detect-eval.ts, whose `fields` explains every number.
 *
 * Data: thresholds are calibrated on a clean set disjoint from the test set. Negatives are all clean
 * test inputs; positives are the adversarial inputs that fool the classifier (an attack that fails to
 * change the prediction produces nothing to detect). Attacks run on the correctly classified test
 * inputs; every returned input is re-checked (ε-ball, [0,1] box, fresh forward pass).
 */
import * as tf from '@tensorflow/tfjs';
import type { Attack } from '../attack/attack.js';
import { attackRows, gatherRows, misclassified, predictDataset, runAttack } from '../attack/runner.js';
import type { ThreatModel } from '../attack/threat-model.js';
import type { Dataset } from '../data/dataset.js';
import { buildSuite, type AttackName } from '../eval/suite.js';
import { logitsOf, type LogitsFn } from '../model/classifier.js';
import { UserError } from '../util/errors.js';
import { checkpointInterrupt } from '../util/interrupt.js';
import { assertValidInputs } from '../util/validate.js';
import { AdaptiveDetectorAttack, type AdaptiveOptions, type TargetPool } from './adaptive.js';
import { calibrateDetector, flags, scoreDataset, type Calibration } from './calibrate.js';
import type { Detector, DetectorConfig } from './detector.js';
import { rateAbove, rocAuc, rocCurve, scoreStats, tprAtFpr, type RocCurve, type ScoreStats } from './metrics.js';

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

export interface OperatingPointReport {
  fpr: number;
  tpr: number;
  threshold: number;
  achievedFpr: number;
}

export interface AttackDetection {
  attack: string;
  adaptive: boolean;
  config: Record<string, unknown>;
  /** Correctly classified test inputs the attack ran on. */
  attacked: number;
  /** Of those, how many the returned input misclassifies (the positives). */
  fooled: number;
  attackSuccessRate: number;
  rocAuc: number;
  tprAtFpr: OperatingPointReport[];
  roc: RocCurve;
  /** At the calibrated threshold. */
  calibrated: { threshold: number; cleanTestFpr: number; detectionRate: number; undetectedSuccessRate: number };
  robustOrDetectedAccuracy: number;
  adversarialScores: ScoreStats;
  /** Adaptive only: examples broken (fooled and undetected) per strategy. */
  perStrategy?: Record<string, number>;
  seconds: number;
}

export interface DetectorEvaluation {
  detector: string;
  kind: string;
  config: DetectorConfig;
  calibration: Calibration;
  calibrationSplit: { fit: [number, number] | null; threshold: [number, number] };
  cleanTestScores: ScoreStats;
  /** Fraction of clean test inputs flagged at the calibrated threshold (should be near the target). */
  cleanTestFpr: number;
  attacks: AttackDetection[];
  /** Per example worst case over every attack, adaptive included. */
  worstCaseRobustOrDetectedAccuracy: number;
  calibrationSeconds: number;
}

export interface ModelDetectionResult {
  label: string;
  model: string;
  /** sha256 of the model's weight files, when the caller knows them (the CLI does). */
  weightsHash?: string | null;
  testExamples: number;
  cleanAccuracy: number;
  detectors: DetectorEvaluation[];
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


/** Runs a non-adaptive attack on `ids` through the runner; returns the fooled ids and their adversarial rows. */
async function runPlainAttack(f: LogitsFn, ds: Dataset, ids: number[], attack: Attack, batchSize: number, signal: AbortSignal | undefined, progress?: (done: number) => void): Promise<{ fooledIds: number[]; adv: Float32Array }> {
  const row = ds.shape[0] * ds.shape[1] * ds.shape[2];
  const fooledIds: number[] = [];
  const chunks: Float32Array[] = [];
  await attackRows(f, ds, ids, attack, {
    batchSize,
    ...(signal !== undefined ? { signal } : {}),
    onBatch: (b, done) => {
      b.ids.forEach((id, j) => {
        if (!b.success[j]) return;
        fooledIds.push(id);
        chunks.push(b.data.slice(j * row, (j + 1) * row));
      });
      progress?.(done);
    },
  });
  const adv = new Float32Array(fooledIds.length * row);
  chunks.forEach((ch, j) => adv.set(ch, j * row));
  return { fooledIds, adv };
}

export function scoreRows(det: Detector, f: LogitsFn, rows: Float32Array, shape: [number, number, number], batchSize: number): Float32Array {
  const [h, w, c] = shape;
  const row = h * w * c;
  const n = rows.length / row;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i += batchSize) {
    const size = Math.min(batchSize, n - i);
    const x = tf.tensor4d(rows.subarray(i * row, (i + size) * row), [size, h, w, c]);
    try {
      out.set(det.score(f, x), i);
    } finally {
      x.dispose();
    }
  }
  return out;
}

/** One attack's detection numbers for one detector, and the ids it broke (fooled and unflagged). Shared with the text evaluation. */
export function summarise(
  attack: string, adaptive: boolean, config: Record<string, unknown>, attacked: number, fooledIds: number[], advScores: Float32Array,
  cleanScores: Float32Array, cal: Calibration, fprs: number[], correct: Uint8Array, nTest: number, seconds: number,
): { summary: AttackDetection; brokenIds: Set<number> } {
  const flagged = flags(advScores, cal);
  const broken = new Set<number>();
  fooledIds.forEach((id, j) => {
    if (!flagged[j]) broken.add(id);
  });
  let ok = 0;
  for (let i = 0; i < nTest; i++) if (correct[i] && !broken.has(i)) ok++;
  const detected = flagged.reduce((a, b) => a + b, 0);
  return {
    summary: {
      attack, adaptive, config, attacked, fooled: fooledIds.length,
      attackSuccessRate: attacked > 0 ? fooledIds.length / attacked : NaN,
      rocAuc: rocAuc(cleanScores, advScores),
      tprAtFpr: fprs.map((fpr) => {
        const p = tprAtFpr(cleanScores, advScores, fpr);
        return { fpr, tpr: p.tpr, threshold: p.threshold, achievedFpr: p.fpr };
      }),
      roc: rocCurve(cleanScores, advScores),
      calibrated: {
        threshold: cal.threshold, cleanTestFpr: rateAbove(cleanScores, cal.threshold),
        detectionRate: fooledIds.length > 0 ? detected / fooledIds.length : NaN,
        undetectedSuccessRate: attacked > 0 ? broken.size / attacked : NaN,
      },
      robustOrDetectedAccuracy: ok / Math.max(nTest, 1),
      adversarialScores: scoreStats(advScores),
      seconds,
    },
    brokenIds: broken,
  };
}

/**
 * Evaluates detectors on one model. `detectors` are fresh (unfitted) detectors; they are fitted and
 * calibrated on `calibration` (clean, disjoint from `test`) and returned fitted in the result configs.
 */
export async function evaluateDetection(
  model: tf.LayersModel | LogitsFn, label: string, modelPath: string, test: Dataset, calibration: Dataset, detectors: Detector[], o: DetectEvalOptions,
): Promise<ModelDetectionResult> {
  assertValidInputs(test.images, `${test.name} test images`);
  if (test.shape.join() !== calibration.shape.join()) throw new UserError(`calibration images [${calibration.shape.join(',')}] and test images [${test.shape.join(',')}] differ in shape`);
  const f = logitsOf(model);
  const bs = o.batchSize ?? 250;
  const fprs = o.fprs ?? [0.01, 0.05];
  const operating = o.operatingFpr ?? 0.05;
  const pred = predictDataset(f, test, bs);
  const correct = new Uint8Array(test.count);
  const correctIds: number[] = [];
  for (let i = 0; i < test.count; i++) if (pred[i] === test.labels[i]) { correct[i] = 1; correctIds.push(i); }
  const progress = (stage: string, total: number) => (done: number) => o.onProgress?.({ stage: `${label}: ${stage}`, done, total });

  // 1. Calibrate every detector; score the clean test set.
  const evals = detectors.map((det) => {
    const t0 = Date.now();
    progress(`calibrating ${det.name}`, 1)(0);
    const cal = calibrateDetector(det, f, calibration, { fpr: operating, ...(o.fitFraction !== undefined ? { fitFraction: o.fitFraction } : {}), batchSize: bs });
    const calScores = cal.scores;
    const cleanScores = scoreDataset(det, f, test, 0, test.count, bs);
    progress(`calibrating ${det.name}`, 1)(1);
    return { det, cal, calScores, cleanScores, seconds: (Date.now() - t0) / 1000, attacks: [] as AttackDetection[], broken: [] as Set<number>[] };
  });

  // 2. Non-adaptive attacks: run once, score with every detector.
  const suite = buildSuite({ threat: o.threat, attacks: o.attacks, steps: o.steps, restarts: o.restarts, seed: o.seed, ...(o.stepSize !== undefined ? { stepSize: o.stepSize } : {}) });
  for (const attack of suite) {
    const t0 = Date.now();
    const { fooledIds, adv } = await runPlainAttack(f, test, correctIds, attack, bs, o.signal, progress(attack.name, correctIds.length));
    const attackSeconds = (Date.now() - t0) / 1000;
    for (const e of evals) {
      const t1 = Date.now();
      const advScores = scoreRows(e.det, f, adv, test.shape, bs);
      const { summary, brokenIds } = summarise(attack.name, false, attack.describe(), correctIds.length, fooledIds, advScores, e.cleanScores, e.cal.calibration, fprs, correct, test.count, attackSeconds + (Date.now() - t1) / 1000);
      e.attacks.push(summary);
      e.broken.push(brokenIds);
    }
  }

  // 3. Adaptive attack per detector.
  if (o.adaptive !== null) {
    const [h, w, c] = test.shape;
    for (const e of evals) {
      const t0 = Date.now();
      // Logit-matching targets: clean calibration inputs (threshold part), correctly classified, unflagged.
      const [s0, s1] = e.cal.split.threshold;
      const calIds = Array.from({ length: s1 - s0 }, (_, j) => s0 + j);
      const calPred = predictDataset(f, calibration, bs);
      const poolIds = calIds.filter((id, j) => calPred[id] === calibration.labels[id] && (e.calScores[j] as number) <= e.cal.calibration.threshold);
      const poolX = rowsOf(calibration, poolIds);
      const poolLogits = poolIds.length === 0 ? new Float32Array(0) : tf.tidy(() => f(tf.tensor4d(poolX, [poolIds.length, h, w, c])).dataSync() as Float32Array);
      const pool: TargetPool = { x: poolX, logits: poolLogits, labels: labelsOf(calibration, poolIds), count: poolIds.length };
      const attack = new AdaptiveDetectorAttack(e.det, e.cal.calibration, { ...(o.adaptive ?? {}), threat: o.threat, seed: o.adaptive?.seed ?? o.seed + 7919 }, pool);
      const fooledIds: number[] = [];
      const scores: number[] = [];
      const perStrategy: Record<string, number> = {};
      const report = progress(`${attack.name}`, correctIds.length);
      for (let k = 0; k < correctIds.length; k += bs) {
        await checkpointInterrupt(o.signal);
        const part = correctIds.slice(k, k + bs);
        const { x, y } = gatherRows(test, part);
        // Verified by the runner: clipped to the ball and the box, misclassified on a fresh pass.
        const r = runAttack(attack, f, x, y, { criterion: misclassified, ids: part });
        part.forEach((id, j) => {
          if (r.detail.fooled[j] && r.success[j]) {
            fooledIds.push(id);
            scores.push(r.detail.scores[j] as number);
          }
        });
        for (const [s, v] of Object.entries(r.detail.perStrategy)) perStrategy[s] = (perStrategy[s] ?? 0) + v;
        tf.dispose([x, y, r.adversarial]);
        report(Math.min(k + bs, correctIds.length));
      }
      const { summary, brokenIds } = summarise(attack.name, true, { ...attack.describe(), targetPool: pool.count }, correctIds.length, fooledIds, Float32Array.from(scores), e.cleanScores, e.cal.calibration, fprs, correct, test.count, (Date.now() - t0) / 1000);
      summary.perStrategy = perStrategy;
      e.attacks.push(summary);
      e.broken.push(brokenIds);
    }
  }

  const detectorsOut: DetectorEvaluation[] = evals.map((e) => {
    let ok = 0;
    for (let i = 0; i < test.count; i++) if (correct[i] && e.broken.every((b) => !b.has(i))) ok++;
    return {
      detector: e.det.name, kind: e.det.kind, config: e.det.describe(), calibration: e.cal.calibration, calibrationSplit: e.cal.split,
      cleanTestScores: scoreStats(e.cleanScores), cleanTestFpr: rateAbove(e.cleanScores, e.cal.calibration.threshold),
      attacks: e.attacks, worstCaseRobustOrDetectedAccuracy: ok / Math.max(test.count, 1), calibrationSeconds: e.seconds,
    };
  });
  return { label, model: modelPath, testExamples: test.count, cleanAccuracy: correctIds.length / Math.max(test.count, 1), detectors: detectorsOut };
}
