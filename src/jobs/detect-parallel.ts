/**
 * `alp detect eval --workers N`: the detectors are fitted and calibrated once, in the calling thread,
 * and sent to the workers as their configs (fitted statistics included) with their thresholds and the
 * adaptive attack's target pools; each worker evaluates slices of the test rows exactly as the
 * in-thread run does (detectPart), and the slices are joined in row order before the summary. Random
 * starts and noise are seeded per example, so the per-example results do not depend on N.
 *
 * Text models the same way (textDetectPart): each worker splits its replica at the Embedding layer
 * and builds the word-swap candidate set again from its spec (the same words: the replica's weights
 * and the vocabulary are exactly the original's); the searches are seeded by the message's row.
 */
import * as tf from '@tensorflow/tfjs';
import type { Dataset } from '../data/dataset.js';
import type { Detector } from '../detect/detector.js';
import {
  checkDetectionInputs, detectorSetups, joinDetectParts, prepareDetection, summariseDetection,
  type DetectEvalOptions, type DetectorSetup, type DetectPart, type ModelDetectionResult,
} from '../detect/evaluate.js';
import { joinTextDetectParts, runTextDetection, type CalibratedTextDetectors, type TextDetectEvalOptions, type TextDetectPart } from '../detect/text-evaluate.js';
import type { TextDetectorTarget } from '../detect/text-target.js';
import type { Calibration } from '../detect/calibrate.js';
import type { DetectorConfig } from '../detect/detector.js';
import type { CandidateSpec } from '../attack/text/candidates.js';
import { logitsOf, type LogitsFn } from '../model/classifier.js';
import { UserError } from '../util/errors.js';
import { checkWorkers } from '../parallel/pool.js';
import { queue, slices, withReplicas, type ParallelOptions } from './evaluate-parallel.js';

/** DetectEvalOptions as a worker gets them: without the callbacks and the signal, which stay here. */
export type DetectTaskOptions = Omit<DetectEvalOptions, 'onProgress' | 'signal'>;

/** What a worker keeps for a detection run (sent once, after the model). */
export interface DetectSetupPayload {
  label: string;
  detectors: DetectorSetup[];
  options: DetectTaskOptions;
}

/**
 * Options of the parallel detection: the pool's and the detection's own. The slices are the in-thread
 * run's groups of `batchSize` rows, whatever N: that is what makes the results identical.
 */
export type DetectParallelOptions = DetectEvalOptions & Pick<ParallelOptions, 'workers' | 'backend' | 'onPool'>;

/**
 * detectPart of the test rows [start, end), computed by `o.workers` workers from prepared detectors
 * (detectorSetups of prepareDetection). Progress (`onProgress`) counts the rows finished by all workers
 * (every attack done on them); aborting `signal` hands out no more slices, lets the ones in flight
 * finish and fails with InterruptedError. A worker that dies fails it with WorkerCrashedError.
 */
export async function detectPartParallel(
  model: tf.LayersModel | LogitsFn, label: string, test: Dataset, detectors: DetectorSetup[], o: DetectParallelOptions,
  range: readonly [number, number] = [0, test.count],
): Promise<DetectPart> {
  const { workers, backend, onPool, onProgress, signal, ...task } = o;
  const setup: DetectSetupPayload = { label, detectors, options: task };
  return joinDetectParts(await slicesParallel<DetectPart>(model, test, o, { setup: 'detectSetup', payload: setup, slice: 'detectSlice' }, `${label}: attacks (${workers} workers)`, range, o.batchSize ?? 250));
}

/**
 * Sends the setup to every worker, then hands out the groups of `size` rows of `range` as slices;
 * progress counts the rows finished by all workers.
 */
async function slicesParallel<P extends { start: number; end: number }>(
  model: tf.LayersModel | LogitsFn, test: Dataset, o: Pick<ParallelOptions, 'workers' | 'backend' | 'onPool' | 'signal'> & Pick<DetectEvalOptions, 'onProgress'>,
  tasks: { setup: string; payload: unknown; slice: string }, stage: string, range: readonly [number, number], size: number,
): Promise<P[]> {
  const { workers, backend, onPool, onProgress, signal } = o;
  const [start, end] = range;
  checkWorkers(workers, 'workers');
  const jobs = slices(start, end, size);
  let done = 0;
  onProgress?.({ stage, done, total: end - start });
  return withReplicas(model, test, { workers, ...(backend !== undefined ? { backend } : {}), ...(onPool !== undefined ? { onPool } : {}) }, undefined, async (pool) => {
    await pool.broadcast(tasks.setup, tasks.payload);
    return queue(pool, jobs, (w, r) => pool.call<P>(w, tasks.slice, { range: r }), (p) => {
      done += p.end - p.start;
      onProgress?.({ stage, done, total: end - start });
    }, signal);
  });
}

/** evaluateDetection with the test rows split over `o.workers` workers (the detectors are calibrated here, once). */
export async function evaluateDetectionParallel(
  model: tf.LayersModel | LogitsFn, label: string, modelPath: string, test: Dataset, calibration: Dataset, detectors: Detector[], o: DetectParallelOptions,
): Promise<ModelDetectionResult> {
  checkDetectionInputs(test, calibration);
  const prepared = prepareDetection(logitsOf(model), label, calibration, detectors, o);
  const part = await detectPartParallel(model, label, test, detectorSetups(prepared), o);
  return summariseDetection(label, modelPath, test, prepared, part, o);
}

/** TextDetectEvalOptions as a worker gets them: the candidate set as its spec, without the callbacks and the signal. */
export type TextDetectTaskOptions = Omit<TextDetectEvalOptions, 'onProgress' | 'signal' | 'candidates'> & { candidates: CandidateSpec };

/** What a worker keeps for a text detection run (sent once, after the model). */
export interface TextDetectSetupPayload {
  label: string;
  detectors: Array<{ config: DetectorConfig; calibration: Calibration }>;
  options: TextDetectTaskOptions;
}

export type TextDetectParallelOptions = TextDetectEvalOptions & Pick<ParallelOptions, 'workers' | 'backend' | 'onPool'>;

/**
 * textDetectPart of the test messages [start, end), computed by `o.workers` workers from calibrated
 * detectors, in the in-thread run's groups of `batchSize` rows. Progress, interruption and a dying
 * worker as for images (detectPartParallel).
 */
export async function textDetectPartParallel(
  model: tf.LayersModel, label: string, test: Dataset, detectors: CalibratedTextDetectors, o: TextDetectParallelOptions,
  range: readonly [number, number] = [0, test.count],
): Promise<TextDetectPart> {
  const { workers, backend, onPool, onProgress, signal, candidates, ...task } = o;
  if (candidates.spec === undefined) {
    throw new UserError(`candidates: workers build the ${candidates.kind} candidate set again from its spec, and this one has none; build it with buildCandidates or the target's candidates() (or use workers: 1)`);
  }
  const setup: TextDetectSetupPayload = {
    label, detectors: detectors.map((d) => ({ config: d.detector.describe(), calibration: d.calibration })), options: { ...task, candidates: candidates.spec },
  };
  const parts = await slicesParallel<TextDetectPart>(model, test, o, { setup: 'textDetectSetup', payload: setup, slice: 'textDetectSlice' }, `${label}: word-swap attacks (${workers} workers)`, range, o.batchSize ?? 100);
  return joinTextDetectParts(parts);
}

/**
 * evaluateTextDetection with the test messages split over `o.workers` workers: the detectors are
 * calibrated here, once, and the per-message results are those of the in-thread run.
 */
export function evaluateTextDetectionParallel(
  model: tf.LayersModel | TextDetectorTarget, label: string, modelPath: string, test: Dataset, calibration: Dataset, detectors: Detector[], o: TextDetectParallelOptions,
): Promise<ModelDetectionResult> {
  return runTextDetection(model, label, modelPath, test, calibration, detectors, o, (t, calibrated) => textDetectPartParallel(t.model, label, test, calibrated, o));
}
