import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { toyDataset, trainedToyModel } from '../testing/setup.js';
import { detectPart, detectorSetups, evaluateDetection, prepareDetection, type DetectEvalOptions } from '../detect/evaluate.js';
import { buildDetector } from '../detect/registry.js';
import { OddsAreOddDetector } from '../detect/odds-are-odd.js';
import { logitsOf } from '../model/classifier.js';
import { EXIT, WorkerCrashedError } from '../util/errors.js';
import { detectPartParallel, evaluateDetectionParallel } from './detect-parallel.js';
import type { WorkerPool } from './pool.js';

// PGD-CW and the adaptive attack on a tiny MLP; the odds detector (fitted statistics, noise) must survive the trip to a worker.
const options: DetectEvalOptions = {
  threat: { norm: 'linf', eps: 0.3 }, attacks: ['fgsm', 'pgd-cw'], steps: 5, restarts: 1, seed: 3, fprs: [0.05], operatingFpr: 0.1,
  adaptive: { steps: 4, lambdas: [0, 10], eotSamples: 4, checkEvery: 2 }, batchSize: 7,
};
const detectors = () => [buildDetector('margin'), new OddsAreOddDetector({ samples: 8, seed: 1 })];
const withoutSeconds = <T>(p: T): T => JSON.parse(JSON.stringify(p, (k, v: unknown) => (/seconds/i.test(k) ? undefined : v))) as T;

test('detect eval: 2 workers give exactly the per-example results (predictions, scores, fooled examples) of the in-thread run', { timeout: 120_000 }, async () => {
  const { model } = await trainedToyModel();
  const testSet = toyDataset(24, 41);
  const calib = toyDataset(100, 42);
  const f = logitsOf(model);
  const prepared = prepareDetection(f, 'toy', calib, detectors(), options);
  const setups = detectorSetups(prepared);
  const one = await detectPart(f, 'toy', testSet, prepared.map((p) => ({ detector: p.detector, calibration: p.report.calibration, pool: p.pool })), options);
  const before = tf.memory().numTensors;
  const seen: number[] = [];
  const two = await detectPartParallel(model, 'toy', testSet, setups, { ...options, workers: 2, onProgress: (e) => seen.push(e.done) });
  assert.equal(tf.memory().numTensors, before, 'tensors leaked in the main thread');
  // The comparison bites: attacks fooled some examples, the adaptive attack found some, and the detectors flag some.
  assert.ok(one.plain.every((a) => a.fooledIds.length > 0) && one.adaptive.every((a) => a.fooledIds.length > 0), JSON.stringify(withoutSeconds(one.plain.map((a) => a.fooledIds))));
  assert.ok(prepared[1]?.pool.count !== undefined && prepared[1].pool.count > 0);
  assert.deepEqual(two.pred, one.pred);
  assert.deepEqual(two.clean, one.clean);
  assert.deepEqual(two.plain.map((a) => [a.fooledIds, a.scores]), one.plain.map((a) => [a.fooledIds, a.scores]));
  assert.deepEqual(two.adaptive.map((a) => [a.fooledIds, a.scores, a.perStrategy]), one.adaptive.map((a) => [a.fooledIds, a.scores, a.perStrategy]));
  assert.deepEqual(withoutSeconds(two), withoutSeconds(one));
  // Progress counts rows over all workers: 0, then after each of the 4 slices, up to all 24.
  assert.deepEqual([seen.length, seen[0], seen[seen.length - 1]], [5, 0, 24]);

  // The whole evaluation (calibration in this thread, then the workers): the same report but for timings
  // (the adaptive attack, compared above, left out to keep this short).
  const quick = { ...options, adaptive: null };
  const inThread = await evaluateDetection(model, 'toy', '(memory)', testSet, calib, detectors(), quick);
  const parallel = await evaluateDetectionParallel(model, 'toy', '(memory)', testSet, calib, detectors(), { ...quick, workers: 2 });
  assert.ok(inThread.detectors.every((d) => d.attacks.length === 2 && d.attacks.some((a) => a.fooled > 0)));
  assert.deepEqual(withoutSeconds(parallel), withoutSeconds(inThread));
});

test('detect eval: a worker killed mid-run fails it with WorkerCrashedError (exit status 8), without a hang', { timeout: 120_000 }, async () => {
  const { model } = await trainedToyModel();
  let pool: WorkerPool | undefined;
  let killed = false;
  const err = await evaluateDetectionParallel(model, 'toy', '(memory)', toyDataset(30, 41), toyDataset(100, 42), [buildDetector('margin')], {
    ...options, adaptive: null, batchSize: 3, workers: 2, onPool: (p) => (pool = p),
    onProgress: (e) => {
      // Once the workers have finished a slice (calibration, before the pool, reports progress too).
      if (!killed && pool !== undefined && e.done > 0) {
        killed = true;
        void pool?.kill(1);
      }
    },
  }).then(() => undefined, (e: unknown) => e);
  assert.ok(err instanceof WorkerCrashedError, `got ${String(err)}`);
  assert.equal(err.code, EXIT.worker);
  assert.match(err.message, /worker 1 died/);
});
