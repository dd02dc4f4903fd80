/**
 * The numbers of a detection evaluation, images and text alike: per detector and attack the ROC, the
 * TPR at fixed FPRs, the detection rate at the calibrated threshold and the share of test inputs that
 * stay "robust or detected", and per detector the worst case over its attacks. Computed from the
 * detector's clean scores and the real scores of the adversarial inputs that fooled the classifier.
 */
import type { Dataset } from '../data/dataset.js';
import { flags, type Calibration, type CalibrationReport } from './calibrate.js';
import type { Detector, DetectorConfig } from './detector.js';
import { rateAbove, rocAuc, rocCurve, scoreStats, tprAtFpr, type RocCurve, type ScoreStats } from './metrics.js';
import type { RowPart } from './row-parts.js';

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

/** One attack's detection numbers for one detector, and the ids it broke. */
export type AttackSummary = ReturnType<typeof summarise>;

/** An attack's per-row outcome on the test set, as the parts hold it. */
export interface AttackRows {
  fooledIds: number[];
  scores: Float32Array;
  seconds: number;
  /** Adaptive attacks: rows broken per strategy. */
  perStrategy?: Record<string, number>;
}

/** Summarises one attack's rows for the detector at hand (its calibration and clean scores are bound). */
export type SummariseAttack = (name: string, adaptive: boolean, config: Record<string, unknown>, rows: AttackRows) => AttackSummary;

/**
 * A model's detection result from its calibrated detectors and the joined part of all its test rows:
 * `attacksOf` summarises detector d's attacks with `sum`; the clean numbers, the worst case over the
 * attacks and the bookkeeping are the same for images and text.
 */
export function detectionResult(
  label: string, modelPath: string, test: Pick<Dataset, 'count' | 'labels'>, prepared: ReadonlyArray<{ detector: Pick<Detector, 'name' | 'kind' | 'describe'>; report: Pick<CalibrationReport, 'calibration' | 'split'>; seconds: number }>, part: RowPart,
  fprs: number[], attacksOf: (d: number, sum: SummariseAttack, cal: Calibration) => AttackSummary[],
): ModelDetectionResult {
  if (part.start !== 0 || part.end !== test.count) throw new Error(`detection summary: the part holds rows ${part.start}…${part.end - 1}, not all ${test.count}`);
  const correct = new Uint8Array(test.count);
  let nCorrect = 0;
  for (let i = 0; i < test.count; i++) if (part.pred[i] === test.labels[i]) { correct[i] = 1; nCorrect++; }
  const detectorsOut: DetectorEvaluation[] = prepared.map((e, d) => {
    const cal = e.report.calibration;
    const cleanScores = part.clean[d] as Float32Array;
    const sum: SummariseAttack = (name, adaptive, config, rows) => {
      const a = summarise(name, adaptive, config, nCorrect, rows.fooledIds, rows.scores, cleanScores, cal, fprs, correct, test.count, rows.seconds);
      if (rows.perStrategy !== undefined) a.summary.perStrategy = rows.perStrategy;
      return a;
    };
    const summaries = attacksOf(d, sum, cal);
    let ok = 0;
    for (let i = 0; i < test.count; i++) if (correct[i] && summaries.every((a) => !a.brokenIds.has(i))) ok++;
    return {
      detector: e.detector.name, kind: e.detector.kind, config: e.detector.describe(), calibration: cal, calibrationSplit: e.report.split,
      cleanTestScores: scoreStats(cleanScores), cleanTestFpr: rateAbove(cleanScores, cal.threshold),
      attacks: summaries.map((a) => a.summary), worstCaseRobustOrDetectedAccuracy: ok / Math.max(test.count, 1), calibrationSeconds: e.seconds + (part.cleanSeconds[d] as number),
    };
  });
  return { label, model: modelPath, testExamples: test.count, cleanAccuracy: nCorrect / Math.max(test.count, 1), detectors: detectorsOut };
}

