/**
 * The detect-eval job for one model: serial, in workers, or one shard of the test rows. The detectors are
 * fitted and calibrated here, once, on the whole calibration set; the test rows (all of them, or the
 * shard's) are evaluated in this thread or split over worker replicas; the result is the same per-example
 * computation every way (see jobs/detect-parallel.ts and jobs/detect-shard.ts).
 */
import type * as tf from '@tensorflow/tfjs';
import type { Dataset } from '../data/dataset.js';
import type { Detector } from '../detect/detector.js';
import {
  checkDetectionInputs, detectorSetups, detectPart, evaluateDetection, prepareDetection, summariseDetection, type DetectEvalOptions, type ModelDetectionResult,
} from '../detect/evaluate.js';
import { evaluateTextDetection, prepareTextDetection, summariseTextDetection, textDetectPart, type TextDetectEvalOptions } from '../detect/text-evaluate.js';
import type { TextDetectorTarget } from '../detect/text-target.js';
import { logitsOf } from '../model/classifier.js';
import { UserError } from '../util/errors.js';
import { detectPartParallel, evaluateDetectionParallel, evaluateTextDetectionParallel, textDetectPartParallel } from './detect-parallel.js';
import { rebasePart, shardModel, shardRows, type DetectShardModel } from './detect-shard.js';

export interface DetectModelJob {
  label: string;
  path: string;
  weightsHash: string | null;
  /** Worker threads for the test rows (1: this thread). */
  workers: number;
  /** A shard's rows [start, end) of the test set; absent: all of them. */
  range?: readonly [number, number];
}

/** The model's result (a shard's: over its rows only) and, for a shard, what `alp merge` joins. */
export interface DetectModelRun {
  result: ModelDetectionResult;
  shard?: DetectShardModel;
}

/** One image or audio model. */
export async function detectImageModel(
  model: tf.LayersModel, test: Dataset, calib: Dataset, detectors: Detector[], o: DetectEvalOptions, j: DetectModelJob,
): Promise<DetectModelRun> {
  const withHash = (r: ModelDetectionResult): ModelDetectionResult => ({ ...r, weightsHash: j.weightsHash });
  if (j.range === undefined) {
    const r = j.workers > 1
      ? await evaluateDetectionParallel(model, j.label, j.path, test, calib, detectors, { ...o, workers: j.workers })
      : await evaluateDetection(model, j.label, j.path, test, calib, detectors, o);
    return { result: withHash(r) };
  }
  checkDetectionInputs(test, calib);
  const f = logitsOf(model);
  const prepared = prepareDetection(f, j.label, calib, detectors, o);
  const part = j.workers > 1
    ? await detectPartParallel(model, j.label, test, detectorSetups(prepared), { ...o, workers: j.workers }, j.range)
    : await detectPart(f, j.label, test, prepared.map((p) => ({ detector: p.detector, calibration: p.report.calibration, pool: p.pool })), o, j.range);
  const own = withHash(summariseDetection(j.label, j.path, shardRows(test, part), prepared, rebasePart(part), o));
  return { result: own, shard: shardModel(own, part, test, prepared, j.weightsHash) };
}

/** One text model: real word swaps on token ids (workers rebuild the candidate set from its spec). */
export async function detectTextModel(
  target: TextDetectorTarget, test: Dataset, calib: Dataset, detectors: Detector[], o: TextDetectEvalOptions, j: DetectModelJob,
): Promise<DetectModelRun> {
  const withHash = (r: ModelDetectionResult): ModelDetectionResult => ({ ...r, weightsHash: j.weightsHash });
  const parallel = { ...o, workers: j.workers };
  if (j.range === undefined) {
    const r = j.workers > 1
      ? await evaluateTextDetectionParallel(target, j.label, j.path, test, calib, detectors, parallel)
      : await evaluateTextDetection(target, j.label, j.path, test, calib, detectors, o);
    return { result: withHash(r) };
  }
  if (test.vocabulary === undefined || calib.vocabulary === undefined) throw new UserError(`${test.name}: text detection needs token ids (a text dataset)`);
  const prepared = prepareTextDetection(target, j.label, calib, detectors, o);
  const calibrated = prepared.map((p) => ({ detector: p.detector, calibration: p.report.calibration }));
  const part = j.workers > 1
    ? await textDetectPartParallel(target.model, j.label, test, calibrated, parallel, j.range)
    : await textDetectPart(target, j.label, test, calibrated, o, j.range);
  const own = withHash(summariseTextDetection(target, j.label, j.path, shardRows(test, part), prepared, rebasePart(part), o));
  return { result: own, shard: shardModel(own, part, test, prepared, j.weightsHash) };
}
