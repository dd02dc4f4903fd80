import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { buildArch } from '../model/architectures.js';
import { keywordTexts, tinyTextModel, tinyTokens, TINY_L } from '../testing/tiny-text.js';
import { UserError } from '../util/errors.js';
import { buildDetector, calibrateTextDetector, evaluateTextDetection, rateAbove, scoreDataset, textDetectorSettings, textDetectorTarget } from './index.js';

test('text detection from the library in a few lines: target from the loaded model, calibrate, evaluate', async () => {
  const { model } = await tinyTextModel();
  const target = textDetectorTarget(model);

  // The space the detectors score: the model's own logits, from the messages' embeddings.
  const held = keywordTexts(300, 32);
  const embedded = target.embed(held);
  assert.deepEqual(embedded.shape, [TINY_L, target.split.dim, 1]);
  assert.equal(embedded.vocabulary, undefined);
  const direct = tf.tidy(() => (model.predict(tf.tensor2d(held.images.subarray(0, 8 * TINY_L), [8, TINY_L])) as tf.Tensor).arraySync() as number[][]);
  const viaHead = tf.tidy(() => target.head(tf.tensor4d(embedded.images.subarray(0, 8 * TINY_L * target.split.dim), [8, TINY_L, target.split.dim, 1])).arraySync() as number[][]);
  direct.forEach((row, i) => row.forEach((v, j) => assert.ok(Math.abs(v - (viaHead[i]?.[j] as number)) < 1e-4, `logit ${i},${j}: ${v} vs ${viaHead[i]?.[j]}`)));
  assert.equal(target.bounds, null);

  // Calibrated on clean messages as token ids, its FPR holds on other clean messages.
  const det = buildDetector('margin', textDetectorSettings({ seed: 0 }));
  const cal = calibrateTextDetector(target, det, keywordTexts(200, 31), { fpr: 0.1 });
  const fpr = rateAbove(scoreDataset(det, target.head, embedded), cal.calibration.threshold);
  assert.ok(fpr > 0.1 - 0.06 && fpr < 0.1 + 0.06, `held-out FPR ${fpr}`);

  // Candidates over the data's vocabulary keep how they were built (what workers rebuild them from).
  const near = target.candidates({ kind: 'neighbours', neighbours: 3 }, tinyTokens);
  assert.deepEqual(near.spec, { kind: 'neighbours', neighbours: 3 });
  assert.equal(near.of(5)?.length, 3);
  assert.throws(() => target.candidates({ kind: 'vocabulary' }, undefined), (e: unknown) => e instanceof UserError && /candidates: the vocabulary candidate set needs the dataset's vocabulary/.test(e.message));

  // The evaluation takes the target (or the model itself) and attacks with real word swaps.
  const testSet = keywordTexts(30, 3), calib = keywordTexts(60, 21);
  const o = { budget: { k: 1 }, candidates: target.candidates({ kind: 'vocabulary' }, testSet.vocabulary), seed: 1, operatingFpr: 0.1, adaptive: null };
  const r = await evaluateTextDetection(target, 'tiny', '(memory)', testSet, calib, [buildDetector('margin', textDetectorSettings({ seed: 0 }))], o);
  assert.ok(r.cleanAccuracy > 0.7, `clean ${r.cleanAccuracy}`);
  const [hot] = r.detectors[0]?.attacks ?? [];
  assert.equal(hot?.attack, 'hotflip-1');
  assert.ok((hot?.fooled ?? 0) > 0, 'HotFlip fools some messages');
  const fromModel = await evaluateTextDetection(model, 'tiny', '(memory)', testSet, calib, [buildDetector('margin', textDetectorSettings({ seed: 0 }))], o);
  const noTime = (x: unknown): unknown => JSON.parse(JSON.stringify(x, (k, v: unknown) => (/seconds/i.test(k) ? undefined : v)));
  assert.deepEqual(noTime(fromModel), noTime(r));

  // An image model has no target: one line saying why.
  assert.throws(() => textDetectorTarget(buildArch('mlp', { inputShape: [6, 6, 1], numClasses: 4, seed: 1 })), (e: unknown) => e instanceof UserError && /no Embedding layer; only text models are split at their embedding/.test(e.message));
});
