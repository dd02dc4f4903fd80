/**
 * `alp detect eval --workers N`: the detectors are fitted and calibrated once, in the calling thread,
 * and sent to the workers as their configs (fitted statistics included) with their thresholds and the
 * adaptive attack's target pools; each worker evaluates slices of the test rows exactly as the
 * in-thread run does (detectPart), and the slices are joined in row order before the summary. Random
 * starts and noise are seeded per example, so the per-example results do not depend on N.
 */
import * as tf from '@tensorflow/tfjs';
import type { Dataset } from '../data/dataset.js';
import type { Detector } from '../detect/detector.js';
import {
  checkDetectionInputs, detectorSetups, joinDetectParts, prepareDetection, summariseDetection,
  type DetectEvalOptions, type DetectorSetup, type DetectPart, type ModelDetectionResult,
} from '../detect/evaluate.js';
import { logitsOf, type LogitsFn } from '../model/classifier.js';
import { checkWorkers } from './pool.js';
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
  const [start, end] = range;
  checkWorkers(workers, 'workers');
  const jobs = slices(start, end, o.batchSize ?? 250);
  const stage = `${label}: attacks (${workers} workers)`;
  let done = 0;
  onProgress?.({ stage, done, total: end - start });
  const parts = await withReplicas(model, test, { workers, ...(backend !== undefined ? { backend } : {}), ...(onPool !== undefined ? { onPool } : {}) }, undefined, async (pool) => {
    await pool.broadcast('detectSetup', setup);
    return queue(pool, jobs, (w, r) => pool.call<DetectPart>(w, 'detectSlice', { range: r }), (p) => {
      done += p.end - p.start;
      onProgress?.({ stage, done, total: end - start });
    }, signal);
  });
  return joinDetectParts(parts);
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
