import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { toyDataset, trainedToyModel } from '../testing/setup.js';
import { imageDetectFixture, textDetectFixture } from '../testing/detect-fixtures.js';
import { withoutSeconds } from '../testing/without-seconds.js';
import { detectPart, detectorSetups, evaluateDetection, prepareDetection } from '../detect/evaluate.js';
import { buildDetector } from '../detect/registry.js';
import { logitsOf } from '../model/classifier.js';
import { EXIT, UserError, WorkerCrashedError } from '../util/errors.js';
import { vocabularyCandidates } from '../attack/text/candidates.js';
import { prepareTextDetection, textDetectPart } from '../detect/text-evaluate.js';
import { TINY_V } from '../testing/tiny-text.js';
import { detectPartParallel, evaluateDetectionParallel, evaluateTextDetectionParallel, textDetectPartParallel } from './detect-parallel.js';
import type { WorkerPool } from '../parallel/pool.js';

// PGD-CW and the adaptive attack on a tiny MLP; the odds detector (fitted statistics, noise) must survive the trip to a worker.
const { testSet, calib, detectors, options } = imageDetectFixture();

test('detect eval: 2 workers give exactly the per-example results (predictions, scores, fooled examples) of the in-thread run', { timeout: 120_000 }, async () => {
  const { model } = await trainedToyModel();
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

/** Pool options that kill worker 1 once the workers have finished a slice (calibration, before the pool, reports progress too). */
function killAfterFirstSlice(): { onPool: (p: WorkerPool) => void; onProgress: (e: { done: number }) => void } {
  let pool: WorkerPool | undefined;
  let killed = false;
  return {
    onPool: (p) => (pool = p),
    onProgress: (e) => {
      if (!killed && pool !== undefined && e.done > 0) {
        killed = true;
        void pool.kill(1);
      }
    },
  };
}

function assertWorkerDied(err: unknown): void {
  assert.ok(err instanceof WorkerCrashedError, `got ${String(err)}`);
  assert.equal(err.code, EXIT.worker);
  assert.match(err.message, /worker 1 died/);
}

test('detect eval: a worker killed mid-run fails it with WorkerCrashedError (exit status 8), without a hang', { timeout: 120_000 }, async () => {
  const { model } = await trainedToyModel();
  const err = await evaluateDetectionParallel(model, 'toy', '(memory)', toyDataset(30, 41), toyDataset(100, 42), [buildDetector('margin')], {
    ...options, adaptive: null, batchSize: 3, workers: 2, ...killAfterFirstSlice(),
  }).then(() => undefined, (e: unknown) => e);
  assertWorkerDied(err);
});

// Text: the tiny keyword model, HotFlip and the adaptive swap search; the candidates (embedding
// neighbours) are built again in each worker from their spec.
test('detect eval on text: 2 workers give exactly the per-message results of the in-thread run', { timeout: 120_000 }, async () => {
  const { model, target, testSet, calib, detectors: textDetectors, options: o } = await textDetectFixture();
  const prepared = prepareTextDetection(target, 'tiny', calib, textDetectors(), o);
  const calibrated = prepared.map((p) => ({ detector: p.detector, calibration: p.report.calibration }));
  const one = await textDetectPart(target, 'tiny', testSet, calibrated, o);
  const seen: number[] = [];
  const two = await textDetectPartParallel(model, 'tiny', testSet, calibrated, { ...o, workers: 2, onProgress: (e) => seen.push(e.done) });
  // The comparison bites: HotFlip and the adaptive search fooled some messages.
  assert.ok(one.plain.fooledIds.length > 0 && one.adaptive.every((a) => a.fooledIds.length > 0), JSON.stringify([one.plain.fooledIds, one.adaptive.map((a) => a.fooledIds)]));
  assert.deepEqual(two.pred, one.pred);
  assert.deepEqual(two.clean, one.clean);
  assert.deepEqual([two.plain.fooledIds, two.plain.scores], [one.plain.fooledIds, one.plain.scores]);
  assert.deepEqual(two.adaptive.map((a) => [a.fooledIds, a.scores, a.claimed, a.perStrategy]), one.adaptive.map((a) => [a.fooledIds, a.scores, a.claimed, a.perStrategy]));
  assert.deepEqual(withoutSeconds(two), withoutSeconds(one));
  // Three groups of at most 7 rows: 0, then after each, up to all 20.
  assert.deepEqual([seen.length, seen[0], seen[seen.length - 1]], [4, 0, 20]);

  // evaluateTextDetectionParallel is this part between the calibration and the summary the in-thread
  // run shares (runTextDetection), and a dead worker surfaces through the same slicesParallel as above.
  // A hand-built candidate set cannot be built again in a worker: said before any worker starts.
  await assert.rejects(evaluateTextDetectionParallel(target, 'tiny', '(memory)', testSet, calib, textDetectors(), { ...o, adaptive: null, candidates: vocabularyCandidates(TINY_V), workers: 2 }),
    (e: unknown) => e instanceof UserError && /^candidates: workers build the vocabulary candidate set again from its spec/.test(e.message));
});
