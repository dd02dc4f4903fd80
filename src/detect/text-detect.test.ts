import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { buildDetectionReport, writeDetectEvalArtifact } from '../artifacts/detect-eval.js';
import { readDetection } from '../report/detection.js';
import { vocabularyCandidates } from '../attack/text/candidates.js';
import { embedDataset } from '../model/text.js';
import { keywordTexts, tinyTextModel, TINY_L, TINY_V } from '../testing/tiny-text.js';
import { UserError } from '../util/errors.js';
import { AdaptiveSwapAttack, embedIds, headLogits } from './adaptive-swaps.js';
import { calibrateDetector, scoreDataset } from './calibrate.js';
import { logitDiscrepancyFromConfig } from './logit-discrepancy.js';
import { rateAbove } from './metrics.js';
import { buildDetector, detectorFromConfig } from './registry.js';
import { evaluateTextDetection, textDetectorSettings } from './text-evaluate.js';

/** Cheap settings for the tiny model: few noise draws, a short inner attack. */
const settings = textDetectorSettings({ seed: 3, samples: 8, adversarial: { norm: 'l2', eps: 0.5, steps: 2 } });

test('text detectors calibrated on clean embedded messages keep their false-positive rate on held-out clean messages', async () => {
  const { split } = await tinyTextModel();
  const f = headLogits(split);
  const calib = embedDataset(keywordTexts(200, 31), split);
  const held = embedDataset(keywordTexts(400, 32), split);
  for (const kind of ['margin', 'logit-discrepancy']) {
    const det = buildDetector(kind, settings);
    const r = calibrateDetector(det, f, calib, { fpr: 0.1, bounds: null });
    const fpr = rateAbove(scoreDataset(det, f, held), r.calibration.threshold);
    // Binomial spread on 400 messages is 1.5 points; the conformal rule targets ≤ 10%.
    assert.ok(fpr <= 0.1 + 0.045 && fpr >= 0.1 - 0.06, `${kind}: held-out FPR ${fpr}`);
  }
  // Noise in embedding space is not clipped: the config says so and survives a round trip.
  const ld = buildDetector('logit-discrepancy', settings);
  assert.equal(ld.describe()['box'], false);
  assert.deepEqual(detectorFromConfig(JSON.parse(JSON.stringify(ld.describe()))).describe(), ld.describe());
  assert.match(ld.name, /no box/);
  // Embedded messages are not in [0,1]: calibrating them as images is refused, by name.
  assert.throws(() => calibrateDetector(buildDetector('margin'), f, calib, { fpr: 0.1 }), /calibration images: input value .* must be scaled to \[0,1\]/);
});

test('detect eval on text: HotFlip swaps and the adaptive swap search; adaptive is never weaker, and what it breaks holds on the real message', async () => {
  const { model, split, words } = await tinyTextModel();
  const testSet = keywordTexts(40, 3), calib = keywordTexts(60, 21);
  const candidates = vocabularyCandidates(TINY_V);
  const k = 1;
  const r = await evaluateTextDetection(model, 'tiny', 'mem', testSet, calib, ['margin', 'logit-discrepancy'].map((d) => buildDetector(d, settings)), {
    budget: { k }, candidates, seed: 1, operatingFpr: 0.1, adaptive: { lambdas: [1, 10], probe: 4, eotSamples: 4 },
  });
  assert.equal(r.testExamples, 40);
  assert.ok(r.cleanAccuracy > 0.7, `clean ${r.cleanAccuracy}`);
  // The artifact says it is text, and the report reads it so.
  const dir = mkdtempSync(join(tmpdir(), 'alp-textdet-'));
  const file = join(dir, 'detect-eval.json');
  writeDetectEvalArtifact(file, buildDetectionReport([r], { modality: 'text', threat: { kind: 'word swaps', swaps: k, fraction: null, candidates: 'vocabulary', beam: 1 } }));
  const back = readDetection(file);
  assert.equal(back.modality, 'text');
  assert.equal(back.swaps, k);
  assert.deepEqual(back.rows.map((row) => [row.detector, row.strongestNonAdaptive, row.adaptive !== null]), [['margin', `hotflip-${k}`, true], ['logit-discrepancy', `hotflip-${k}`, true]]);
  rmSync(dir, { recursive: true, force: true });
  const L = TINY_L;
  for (const d of r.detectors) {
    assert.deepEqual(d.attacks.map((a) => [a.attack, a.adaptive]), [[`hotflip-${k}`, false], [`adaptive-swaps-${k}`, true]]);
    const [plain, adaptive] = d.attacks as [typeof d.attacks[0], typeof d.attacks[0]];
    assert.ok(plain.fooled > 0, 'HotFlip fools some messages of the tiny model');
    assert.ok(adaptive.robustOrDetectedAccuracy <= plain.robustOrDetectedAccuracy + 1e-12, `${d.kind}: adaptive ${adaptive.robustOrDetectedAccuracy} vs plain ${plain.robustOrDetectedAccuracy}`);
    assert.equal(adaptive.config['claimed'], adaptive.config['verified'], 'every message the search claims is verified');
    // The bookkeeping: correct and not broken = robust or detected.
    const broken = Math.round(adaptive.calibrated.undetectedSuccessRate * adaptive.attacked);
    assert.ok(Math.abs(adaptive.robustOrDetectedAccuracy - (adaptive.attacked - broken) / 40) < 1e-9);
    assert.ok(d.worstCaseRobustOrDetectedAccuracy <= adaptive.robustOrDetectedAccuracy + 1e-12);
    assert.equal(d.config['box'], d.kind === 'margin' ? undefined : false);
  }

  // One message through the attack directly: an evading result is within the budget, legal, misclassified and unflagged.
  const det = buildDetector('margin');
  const f = headLogits(split);
  const cal = calibrateDetector(det, f, embedDataset(calib, split), { fpr: 0.1, bounds: null }).calibration;
  const attack = new AdaptiveSwapAttack(split, words, det, cal, { budget: { k: 2 }, candidates, lambdas: [1, 10], probe: 4 });
  let evaded = 0;
  for (let m = 0; m < 40; m++) {
    const orig = Int32Array.from(testSet.images.subarray(m * L, (m + 1) * L));
    const y = testSet.labels[m] as number;
    const res = attack.run(orig, y, m);
    if (!res.evaded) continue;
    evaded++;
    const changed = [...res.ids].filter((v, i) => v !== orig[i]);
    assert.ok(changed.length >= 1 && changed.length <= 2);
    for (let i = 0; i < L; i++) if (res.ids[i] !== orig[i]) assert.ok(candidates.allows(orig[i] as number, res.ids[i] as number));
    const x = embedIds(split, res.ids, 1);
    const pred = tf.tidy(() => tf.argMax(f(x), 1).dataSync()[0]);
    assert.notEqual(pred, y);
    assert.ok((det.score(f, x)[0] as number) <= cal.threshold);
    x.dispose();
  }
  assert.ok(evaded > 0, 'the adaptive search breaks the margin detector on some message');
});

test('text detection: bad options are named', async () => {
  const { model, split, words } = await tinyTextModel();
  const det = buildDetector('margin');
  const cal = calibrateDetector(det, headLogits(split), embedDataset(keywordTexts(30, 5), split), { fpr: 0.1, bounds: null }).calibration;
  const candidates = vocabularyCandidates(TINY_V);
  assert.throws(() => new AdaptiveSwapAttack(split, words, det, cal, { budget: { k: 1 }, candidates, lambdas: [0] }), (e: unknown) => e instanceof UserError && /adaptive lambdas: expected numbers > 0 for text/.test(e.message));
  assert.throws(() => new AdaptiveSwapAttack(split, words, det, cal, { budget: { k: 1 }, candidates, probe: 0 }), (e: unknown) => e instanceof UserError && /adaptive probe: expected an integer ≥ 1, got 0/.test(e.message));
  assert.throws(() => logitDiscrepancyFromConfig({ kind: 'logit-discrepancy', box: true }, 'detector.json: detector'), (e: unknown) => e instanceof UserError && /^detector.json: detector.box: expected false/.test(e.message));
  const images = { name: 'toy', images: new Float32Array(4 * TINY_L), labels: new Int32Array(4), count: 4, shape: [TINY_L, 1, 1] as [number, number, number], numClasses: 2 };
  await assert.rejects(evaluateTextDetection(model, 't', 'm', images, images, [det], { budget: { k: 1 }, candidates, seed: 0 }), (e: unknown) => e instanceof UserError && /toy: text detection needs token ids/.test(e.message));
});
