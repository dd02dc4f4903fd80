/**
 * Calibration: a detector's threshold is fitted on clean held-out inputs so that, on fresh clean
 * inputs from the same distribution, at most the requested fraction is flagged.
 *
 * Rule: flag when score > threshold. With n clean calibration scores and target α, the threshold is
 * the (n − m)-th smallest score, m = ⌊α(n+1)⌋ − 1 (split-conformal). For exchangeable continuous
 * scores a fresh clean input is flagged with probability exactly (m+1)/(n+1) ≤ α, recorded as
 * `expectedFpr`. This needs n ≥ 1/α − 1 (99 clean inputs for 1%).
 *
 * Detectors with statistics of their own (the odds test) are fitted on one part of the clean data and
 * thresholded on the other, so the threshold sees scores of inputs the statistics have not seen.
 *
 * The result is saved as detector.json beside model.json, with a fingerprint of the model's files:
 * a calibration is only valid for the weights it was made with. This file stays free of Node
 * built-ins (the browser bundle uses it); reading and writing detector.json on disk is in
 * detector-files.ts.
 */
import * as tf from '@tensorflow/tfjs';
import type { Dataset } from '../data/dataset.js';
import { logitsOf, type LogitsFn } from '../model/classifier.js';
import { OptionError, UserError } from '../util/errors.js';
import { assertValidInputs } from '../util/validate.js';
import type { Detector, DetectorConfig } from './detector.js';
import { scoreStats, type ScoreStats } from './metrics.js';
import { detectorFromConfig } from './registry.js';

export const DETECTOR_JSON = 'detector.json';
export const DETECTOR_FORMAT = 'alp-detector';
export const DETECTOR_VERSION = 1;

export interface Calibration {
  /** The requested false-positive rate α. */
  fprTarget: number;
  /** Clean scores the threshold was chosen from. */
  n: number;
  threshold: number;
  rule: 'flag when score > threshold';
  method: 'split-conformal order statistic';
  /** Clean calibration scores allowed strictly above the threshold (m). */
  allowedAbove: number;
  /** P(fresh clean input flagged) = (m+1)/(n+1) ≤ α for exchangeable continuous scores. */
  expectedFpr: number;
  /** Fraction of the calibration scores themselves above the threshold (≤ m/n). */
  calibrationFpr: number;
  scores: ScoreStats;
}

/**
 * Checks that n clean scores can calibrate FPR α; returns m, the scores allowed above the threshold.
 * `what` names where the n scores come from in the message.
 */
export function checkCalibrationSize(n: number, fpr: number, what = 'clean inputs'): number {
  if (!(fpr > 0 && fpr < 1)) throw new OptionError(`{fpr}: expected a false-positive rate in (0, 1), got ${fpr}`);
  const m = Math.floor(fpr * (n + 1) + 1e-9) - 1;
  if (m < 0) {
    throw new UserError(`calibration: ${n} ${what} are too few for a false-positive rate of ${fpr}; need at least ${Math.ceil(1 / fpr - 1)}`);
  }
  return m;
}

/** The threshold for target FPR α from clean scores (see the file comment). */
export function calibrateThreshold(clean: ArrayLike<number>, fpr: number): Calibration {
  const n = clean.length;
  const m = checkCalibrationSize(n, fpr);
  const sorted = Float64Array.from(clean).sort();
  for (const v of sorted) if (Number.isNaN(v)) throw new Error('calibration: a clean score is NaN');
  const threshold = sorted[n - 1 - m] as number;
  let above = 0;
  for (const v of sorted) if (v > threshold) above++;
  return {
    fprTarget: fpr, n, threshold, rule: 'flag when score > threshold', method: 'split-conformal order statistic',
    allowedAbove: m, expectedFpr: (m + 1) / (n + 1), calibrationFpr: above / n, scores: scoreStats(clean),
  };
}

export interface CalibratedDetector {
  detector: Detector;
  calibration: Calibration;
}

/** Whether each score is flagged under a calibration. */
export function flags(scores: ArrayLike<number>, c: Calibration): Uint8Array {
  const out = new Uint8Array(scores.length);
  for (let i = 0; i < scores.length; i++) out[i] = Number((scores[i] as number) > c.threshold);
  return out;
}

/** Examples [start, start+count) of a dataset as a [count, H, W, C] tensor. */
export function datasetTensor(ds: Dataset, start = 0, count = ds.count - start): tf.Tensor4D {
  const row = ds.shape[0] * ds.shape[1] * ds.shape[2];
  return tf.tensor4d(ds.images.subarray(start * row, (start + count) * row), [count, ds.shape[0], ds.shape[1], ds.shape[2]]);
}

/** Scores a whole dataset in batches. */
export function scoreDataset(det: Detector, f: LogitsFn, ds: Dataset, start = 0, count = ds.count - start, batchSize = 500): Float32Array {
  const out = new Float32Array(count);
  for (let i = 0; i < count; i += batchSize) {
    const size = Math.min(batchSize, count - i);
    const x = datasetTensor(ds, start + i, size);
    try {
      out.set(det.score(f, x), i);
    } finally {
      x.dispose();
    }
  }
  return out;
}

export interface CalibrateOptions {
  /** Target false-positive rate on clean inputs. */
  fpr: number;
  /** For detectors that fit statistics: the share of the clean inputs used to fit (rest: threshold). Default 0.5. */
  fitFraction?: number;
  batchSize?: number;
  /** The inputs' box, checked before scoring; null for inputs without one (a text model's embeddings). Default [0,1]. */
  bounds?: readonly [number, number] | null;
}

export interface CalibrationReport extends CalibratedDetector {
  /** Which examples of the clean set fitted statistics and which chose the threshold. */
  split: { fit: [number, number] | null; threshold: [number, number] };
  /** The clean scores of the threshold part, in order. */
  scores: Float32Array;
}

/** Fits (when needed) and calibrates a detector on clean held-out data. */
export function calibrateDetector(det: Detector, model: tf.LayersModel | LogitsFn, clean: Dataset, o: CalibrateOptions): CalibrationReport {
  assertValidInputs(clean.images, `${clean.name} calibration ${o.bounds === null ? 'inputs' : 'images'}`, o.bounds === undefined ? [0, 1] : o.bounds);
  const f = logitsOf(model);
  const frac = o.fitFraction ?? 0.5;
  if (!(frac > 0 && frac < 1)) throw new UserError(`fit fraction: expected a number in (0, 1), got ${frac}`);
  let fitRange: [number, number] | null = null;
  let start = 0;
  const nFitPlanned = det.needsFit ? Math.round(clean.count * frac) : 0;
  checkCalibrationSize(clean.count - nFitPlanned, o.fpr, det.needsFit ? `clean inputs left for the threshold (after ${nFitPlanned} to fit ${det.kind} statistics)` : 'clean inputs');
  if (det.needsFit) {
    const nFit = Math.round(clean.count * frac);
    if (nFit < 3 || clean.count - nFit < 1) throw new UserError(`calibration: ${clean.count} clean inputs are too few to fit ${det.kind} statistics and a threshold`);
    const x = datasetTensor(clean, 0, nFit);
    try {
      det.fit(f, x, clean.labels.subarray(0, nFit));
    } finally {
      x.dispose();
    }
    fitRange = [0, nFit];
    start = nFit;
  }
  const scores = scoreDataset(det, f, clean, start, clean.count - start, o.batchSize);
  return { detector: det, calibration: calibrateThreshold(scores, o.fpr), split: { fit: fitRange, threshold: [start, clean.count] }, scores };
}

// ---------------------------------------------------------------------------------------------------
// detector.json

export interface ModelFingerprint {
  modelJson: string;
  /** SHA-256 of model.json and of every weight file it lists, in manifest order. */
  sha256: string;
}

export interface DetectorFile {
  format: typeof DETECTOR_FORMAT;
  version: number;
  description: string;
  detector: DetectorConfig;
  calibration: Calibration;
  model: ModelFingerprint | null;
  /** Where the clean calibration data came from (free-form, for people). */
  data: Record<string, unknown> | null;
  created: string;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function checkCalibration(c: unknown, file: string): Calibration {
  if (!isRecord(c)) throw new UserError(`${file}: calibration: expected an object, found ${JSON.stringify(c)}`);
  for (const k of ['fprTarget', 'n', 'threshold', 'expectedFpr']) {
    const v = c[k];
    if (typeof v !== 'number' || Number.isNaN(v)) throw new UserError(`${file}: calibration.${k}: expected a number, found ${JSON.stringify(v)}`);
  }
  if (!((c['fprTarget'] as number) > 0 && (c['fprTarget'] as number) < 1)) throw new UserError(`${file}: calibration.fprTarget: expected a rate in (0, 1), found ${String(c['fprTarget'])}`);
  return c as unknown as Calibration;
}

/** A parsed detector.json: the detector rebuilt from its config, and its calibration. */
export interface ParsedDetectorFile extends CalibratedDetector {
  file: DetectorFile;
}

/**
 * Checks a detector.json's parsed JSON and rebuilds its detector. `where` names the file (a path or
 * a URL) in messages. Pure: used by loadDetector on disk and by the browser's loader over HTTP.
 */
export function parseDetectorFile(json: unknown, where: string): ParsedDetectorFile {
  if (!isRecord(json)) throw new UserError(`${where}: expected a JSON object at the top level`);
  if (json['format'] !== DETECTOR_FORMAT) throw new UserError(`${where}: format: expected '${DETECTOR_FORMAT}', found ${JSON.stringify(json['format'])}`);
  if (json['version'] !== DETECTOR_VERSION) throw new UserError(`${where}: version: expected ${DETECTOR_VERSION}, found ${JSON.stringify(json['version'])}`);
  const detector = detectorFromConfig(json['detector'], `${where}: detector`);
  if (detector.needsFit) throw new UserError(`${where}: detector: the ${detector.kind} detector has no fitted statistics (fit is null)`);
  const calibration = checkCalibration(json['calibration'], where);
  return { detector, calibration, file: json as unknown as DetectorFile };
}
