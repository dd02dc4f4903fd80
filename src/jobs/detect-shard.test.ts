import { test } from 'node:test';
import assert from 'node:assert/strict';
import { trainedToyModel } from '../testing/setup.js';
import { imageDetectFixture, textDetectFixture } from '../testing/detect-fixtures.js';
import { withoutSeconds } from '../testing/without-seconds.js';
import type { ModelDetectionResult } from '../detect/evaluate.js';
import { shardRange, shardRecord } from '../artifacts/shard.js';
import { UserError } from '../util/errors.js';
import { detectImageModel, detectTextModel, type DetectModelRun } from './detect-eval.js';
import { mergeDetectModels, type DetectEvalShard } from './detect-shard.js';

/** The shards' files' `shard` fields, as `alp detect eval --shard K/N` writes them. */
function shardsOf(runs: DetectModelRun[], n: number, unit: number, fprs: number[]): Array<{ file: string; shard: DetectEvalShard }> {
  return runs.map((r, k) => {
    const model = r.shard;
    assert.ok(model !== undefined);
    const shard = { ...shardRecord({ index: k + 1, count: runs.length }, n, 'run', undefined, unit), fprs, models: [model] };
    return { file: `shard-${k + 1}.json`, shard: JSON.parse(JSON.stringify(shard)) as DetectEvalShard };
  });
}

test('shards cut whole groups of rows when a unit is given, and tile the rows', () => {
  assert.deepEqual([1, 2, 3].map((index) => shardRange(24, { index, count: 3 }, 7)), [[0, 7], [7, 14], [14, 24]]);
  assert.deepEqual([1, 2, 3].map((index) => shardRange(10, { index, count: 3 })), [[0, 3], [3, 6], [6, 10]]);
});

test('detect eval: the shards, merged, give exactly the unsharded result (images; one shard in workers)', { timeout: 180_000 }, async () => {
  const { model } = await trainedToyModel();
  const { testSet, calib, detectors, options: o } = imageDetectFixture();
  const job = { label: 'toy', path: '(memory)', weightsHash: 'h', workers: 1 };
  const whole = await detectImageModel(model, testSet, calib, detectors(), o, job);
  assert.ok(whole.shard === undefined);
  // The comparison bites: attacks fool examples and detectors flag some.
  assert.ok(whole.result.detectors.every((d) => d.attacks.every((a) => a.fooled > 0)), JSON.stringify(withoutSeconds(whole.result.detectors.map((d) => d.attacks.map((a) => a.fooled)))));
  const runs: DetectModelRun[] = [];
  for (const index of [1, 2, 3]) {
    const range = shardRange(testSet.count, { index, count: 3 }, 7);
    runs.push(await detectImageModel(model, testSet, calib, detectors(), o, { ...job, range, workers: index === 3 ? 2 : 1 }));
  }
  // Each shard's own numbers are over its rows.
  assert.deepEqual(runs.map((r) => r.result.testExamples), [7, 7, 10]);
  const merged = mergeDetectModels(shardsOf(runs, testSet.count, 7, o.fprs ?? []));
  assert.deepEqual(withoutSeconds(merged), withoutSeconds([whole.result]));
  // A shard calibrated on other data is refused, naming its file.
  const shards = shardsOf(runs, testSet.count, 7, o.fprs ?? []);
  const det = shards[1]?.shard.models[0]?.detectors[0];
  assert.ok(det !== undefined);
  det.calibration = { ...det.calibration, threshold: det.calibration.threshold + 1 };
  assert.throws(() => mergeDetectModels(shards), (e: unknown) => e instanceof UserError && /^shard-2\.json: field shard\.models\[0\]\.detectors\[0\]\.calibration\.threshold: .*shards calibrated on other data or settings/.test(e.message));
});

test('detect eval on text: the shards, merged, give exactly the unsharded result (claimed and verified recounted)', { timeout: 180_000 }, async () => {
  const { target, testSet, calib, detectors, options: o } = await textDetectFixture();
  const job = { label: 'tiny', path: '(memory)', weightsHash: null, workers: 1 };
  const whole: ModelDetectionResult = (await detectTextModel(target, testSet, calib, detectors(), o, job)).result;
  assert.ok(whole.detectors.every((d) => d.attacks.every((a) => a.fooled > 0)));
  const runs: DetectModelRun[] = [];
  for (const index of [1, 2]) runs.push(await detectTextModel(target, testSet, calib, detectors(), o, { ...job, range: shardRange(testSet.count, { index, count: 2 }, 7) }));
  const merged = mergeDetectModels(shardsOf(runs, testSet.count, 7, o.fprs ?? []));
  assert.deepEqual(withoutSeconds(merged), withoutSeconds([whole]));
});
