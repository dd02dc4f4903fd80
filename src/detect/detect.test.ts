import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { tensorsOf, toyDataset, toyModelOnce, useBackend } from '../testing/setup.js';
import { buildArch } from '../model/architectures.js';
import { logitsOf } from '../model/classifier.js';
import { saveModel } from '../model/io.js';
import { calibrateDetector, scoreDataset } from './calibrate.js';
import { loadDetector, saveDetector } from './detector-files.js';
import { buildDetectionReport } from '../artifacts/detect-eval.js';
import { evaluateDetection } from './evaluate.js';
import { buildDetector, detectorFromConfig } from './registry.js';
import { rateAbove } from './metrics.js';
import { OddsAreOddDetector } from './odds-are-odd.js';
import { LogitDiscrepancyDetector } from './logit-discrepancy.js';
import { AdaptiveDetectorAttack } from './adaptive.js';
import { runAttack } from '../attack/runner.js';

const tmp = mkdtempSync(join(tmpdir(), 'alp-detect-'));
process.on('exit', () => rmSync(tmp, { recursive: true, force: true }));

const train = toyDataset(512, 1);
const trained = toyModelOnce({ seed: 2, train, steps: 150 });

test('calibrated thresholds hit the requested FPR on held-out clean data (within sampling error)', async () => {
  const m = await trained();
  const f = logitsOf(m);
  const calib = toyDataset(1000, 21);
  const heldOut = toyDataset(2000, 22);
  const fpr = 0.1;
  for (const det of [buildDetector('margin'), new OddsAreOddDetector({ samples: 32, seed: 5 }), new LogitDiscrepancyDetector({ samples: 8, adversarial: { norm: 'linf', eps: 0.1, steps: 2 }, seed: 5 })]) {
    const r = calibrateDetector(det, m, calib, { fpr });
    const nThr = r.split.threshold[1] - r.split.threshold[0];
    const got = rateAbove(scoreDataset(det, f, heldOut), r.calibration.threshold);
    // Error of the calibrated threshold (nThr scores) plus that of the held-out sample.
    const sd = Math.sqrt(fpr * (1 - fpr) * (1 / nThr + 1 / heldOut.count));
    assert.ok(Math.abs(got - r.calibration.expectedFpr) < 3 * sd, `${det.name}: held-out FPR ${got}, expected ${r.calibration.expectedFpr} ± ${3 * sd}`);
    if (det.kind === 'odds') assert.deepEqual(r.split.fit, [0, 500]);
  }
});

test('detector.json round trip rebuilds the same scores and notices a changed model', async () => {
  const m = await trained();
  const f = logitsOf(m);
  const dir = join(tmp, 'model');
  await saveModel(m, dir);
  const det = new OddsAreOddDetector({ samples: 16, noise: [{ dist: 'gaussian', eps: 0.1 }, { dist: 'uniform', eps: 0.05 }], seed: 3 });
  const r = calibrateDetector(det, m, toyDataset(300, 31), { fpr: 0.05 });
  const path = saveDetector(dir, r, { modelPath: dir, data: { note: 'toy' } });
  assert.equal(path, join(dir, 'detector.json'));
  const loaded = loadDetector(dir, dir);
  assert.deepEqual(loaded.warnings, []);
  assert.equal(loaded.calibration.threshold, r.calibration.threshold);
  const { x } = tensorsOf(toyDataset(20, 32));
  assert.deepEqual(Array.from(loaded.detector.score(f, x)), Array.from(det.score(f, x)));
  // Scores do not depend on how inputs are batched.
  const one = tf.slice(x, 3, 1);
  assert.ok(Math.abs((det.score(f, one)[0] as number) - (det.score(f, x)[3] as number)) < 1e-4);
  tf.dispose([x, one]);
  // Every detector kind survives describe() → detectorFromConfig().
  for (const kind of ['margin', 'max-softmax', 'logit-discrepancy']) {
    const d = buildDetector(kind, { seed: 4 });
    assert.deepEqual(detectorFromConfig(d.describe()).describe(), d.describe());
  }
  // Different weights: a warning, not silence.
  const other = join(tmp, 'model2');
  await saveModel(buildArch('mlp', { inputShape: [6, 6, 1], numClasses: 4, seed: 9 }), other);
  writeFileSync(join(other, 'detector.json'), readFileSync(path));
  assert.match(loadDetector(other, other).warnings[0] ?? '', /model's files changed since this detector was calibrated/);
});

test('an adaptive attack lowers the detection rate compared with the non-adaptive attack (tiny model)', async () => {
  const m = await trained();
  const test = toyDataset(120, 41);
  const calib = toyDataset(400, 42);
  const r = await evaluateDetection(m, 'toy', '(memory)', test, calib, [new OddsAreOddDetector({ samples: 32, seed: 1 })], {
    threat: { norm: 'linf', eps: 0.3 }, attacks: ['pgd-cw'], steps: 20, restarts: 1, seed: 1, fprs: [0.01, 0.05], operatingFpr: 0.05,
    adaptive: { steps: 20, lambdas: [1, 10], eotSamples: 8, checkEvery: 5 }, batchSize: 120,
  });
  const d = r.detectors[0];
  assert.ok(d !== undefined);
  const plain = d.attacks.find((a) => !a.adaptive);
  const adaptive = d.attacks.find((a) => a.adaptive);
  assert.ok(plain !== undefined && adaptive !== undefined);
  assert.ok(plain.fooled > 10, `PGD fooled only ${plain.fooled}`);
  assert.ok(plain.calibrated.detectionRate > 0.2, `non-adaptive detection rate ${plain.calibrated.detectionRate}: the detector should catch plain PGD`);
  assert.ok(adaptive.calibrated.detectionRate < plain.calibrated.detectionRate,
    `adaptive detection rate ${adaptive.calibrated.detectionRate} vs non-adaptive ${plain.calibrated.detectionRate}`);
  assert.ok(adaptive.calibrated.undetectedSuccessRate > plain.calibrated.undetectedSuccessRate);
  assert.ok(adaptive.robustOrDetectedAccuracy <= plain.robustOrDetectedAccuracy);
  // The per-example worst case: below clean accuracy (the attacks break something the detector misses), and no
  // lower than the union bound over the attacks' broken examples (it must not count an example twice).
  assert.ok(d.worstCaseRobustOrDetectedAccuracy < r.cleanAccuracy, `worst case ${d.worstCaseRobustOrDetectedAccuracy} vs clean ${r.cleanAccuracy}`);
  const brokenSum = d.attacks.reduce((s, a) => s + (r.cleanAccuracy - a.robustOrDetectedAccuracy), 0);
  assert.ok(d.worstCaseRobustOrDetectedAccuracy >= r.cleanAccuracy - brokenSum - 1e-9);
  // The report is self-describing JSON.
  const report = JSON.parse(JSON.stringify(buildDetectionReport([r], { dataset: 'toy' }))) as ReturnType<typeof buildDetectionReport>;
  assert.equal(report.schema, 'alp.detect-eval/2');
  assert.ok(typeof report.fields['rocAuc'] === 'string');
  assert.equal(report.sideBySide[0]?.strongestNonAdaptive, plain.attack);
  assert.ok(report.sideBySide[0]?.adaptive !== null);
  process.stderr.write(`tiny toy setting (6x6 inputs, 4 classes, MLP): ${JSON.stringify(report.sideBySide)}\n`);
});

test('detectors and configs reject bad settings with clear messages', async () => {
  await useBackend();
  assert.throws(() => buildDetector('bogus'), /detector: expected one of logit-discrepancy, odds, max-softmax, margin, got 'bogus'/);
  assert.throws(() => new OddsAreOddDetector({ samples: 1 }), /odds samples: expected an integer ≥ 2/);
  assert.throws(() => new OddsAreOddDetector({ noise: [{ dist: 'gaussian', eps: 2 }] }), /eps: expected a number in \(0, 1\)/);
  assert.throws(() => detectorFromConfig({ kind: 'odds', fit: { numClasses: 4, settings: [{ mean: [[0]], std: [[1]] }], counts: [] } }, 'd.json'), /d.json: odds fit.settings\[0\].mean: expected a 4×4 matrix/);
  assert.throws(() => detectorFromConfig({ kind: 'margin', extra: 1 }, 'd.json'), /d.json: unknown field extra/);
  assert.throws(() => detectorFromConfig({ kind: 'nope' }, 'd.json'), /d.json.kind: expected one of/);
  const { x } = tensorsOf(toyDataset(4, 1));
  const f = logitsOf(await trained());
  assert.throws(() => new OddsAreOddDetector().score(f, x), /not fitted/);
  x.dispose();
  const bad = join(tmp, 'bad');
  rmSync(bad, { recursive: true, force: true });
  assert.throws(() => loadDetector(bad), /no such file; calibrate first/);
  writeFileSync(join(tmp, 'notjson.json'), '{');
  assert.throws(() => loadDetector(join(tmp, 'notjson.json')), /expected JSON, could not parse it/);
  writeFileSync(join(tmp, 'wrongformat.json'), JSON.stringify({ format: 'x' }));
  assert.throws(() => loadDetector(join(tmp, 'wrongformat.json')), /format: expected 'alp-detector'/);
  writeFileSync(join(tmp, 'unfitted.json'), JSON.stringify({ format: 'alp-detector', version: 1, detector: { kind: 'odds', fit: null }, calibration: {} }));
  assert.throws(() => loadDetector(join(tmp, 'unfitted.json')), /has no fitted statistics/);
});

test('scoring and the adaptive attack do not leak tensors', async () => {
  const m = await trained();
  const f = logitsOf(m);
  const calib = toyDataset(200, 51);
  const { x, y } = tensorsOf(toyDataset(12, 52));
  for (const det of [new OddsAreOddDetector({ samples: 8 }), new LogitDiscrepancyDetector({ samples: 4, adversarial: { norm: 'linf', eps: 0.1, steps: 2 } })]) {
    const cal = calibrateDetector(det, m, calib, { fpr: 0.1 });
    const pool = { x: calib.images.slice(0, 36 * 40), logits: tf.tidy(() => f(tf.tensor4d(calib.images.slice(0, 36 * 40), [40, 6, 6, 1])).dataSync() as Float32Array), labels: calib.labels.slice(0, 40), count: 40 };
    const attack = new AdaptiveDetectorAttack(det, cal.calibration, { threat: { norm: 'linf', eps: 0.3 }, steps: 3, lambdas: [0, 1], eotSamples: 4, checkEvery: 1 }, pool);
    runAttack(attack, f, x, y).adversarial.dispose();
    const before = tf.memory().numTensors;
    for (let i = 0; i < 2; i++) {
      det.score(f, x);
      runAttack(attack, f, x, y).adversarial.dispose();
    }
    assert.equal(tf.memory().numTensors, before, det.name);
  }
  tf.dispose([x, y]);
});
