/**
 * Image detection trusts nothing an attack says about its own points: the adaptive attack's success is
 * the runner's criterion inside the search, and every returned input is scored again with the real
 * detector. Controls: a lying attack (claims undetected points the detector flags) and the adaptive
 * attack searched for misclassification only.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import type { Attack } from '../attack/attack.js';
import { allOf, misclassified, undetected } from '../attack/criteria.js';
import type { AttackResult } from '../attack/gradient-attack.js';
import { runAttack } from '../attack/runner.js';
import type { ThreatModel } from '../attack/threat-model.js';
import { logitsOf, type LogitsFn } from '../model/classifier.js';
import { tensorsOf, toyDataset, trainedToyModel } from '../testing/setup.js';
import { AdaptiveDetectorAttack } from './adaptive.js';
import { calibrateDetector, type Calibration } from './calibrate.js';
import { scoreStats } from './metrics.js';
import type { Detector } from './detector.js';
import { summarise } from './detection-result.js';
import { runAdaptiveAttack } from './scored-attacks.js';

const wide: ThreatModel = { norm: 'linf', eps: 1 };

/** Returns, for each row, another row of the batch of a different class, and says it evaded the detector. */
class LyingAttack implements Attack<AttackResult & { fooled: Uint8Array; scores: Float32Array; foundIn: Int32Array }> {
  readonly name = 'liar';
  readonly threat = wide;
  run(_f: LogitsFn, x: tf.Tensor, labels: tf.Tensor1D): AttackResult & { fooled: Uint8Array; scores: Float32Array; foundIn: Int32Array } {
    const y = labels.dataSync();
    const n = y.length;
    const other = Int32Array.from({ length: n }, (_, i) => {
      for (let k = 1; k < n; k++) if (y[(i + k) % n] !== y[i]) return (i + k) % n;
      return i;
    });
    return {
      adversarial: tf.tidy(() => tf.gather(x, tf.tensor1d(other, 'int32'))),
      success: new Uint8Array(n).fill(1), fooled: new Uint8Array(n).fill(1), scores: new Float32Array(n), foundIn: new Int32Array(n),
    };
  }
  describe(): Record<string, unknown> {
    return { attack: 'liar' };
  }
}

/** Flags every input. */
const flagsAll: Detector = {
  kind: 'margin', name: 'flags-all', needsFit: false,
  fit: () => undefined,
  score: (_f, x) => new Float32Array(x.shape[0] as number).fill(1),
  surrogate: () => ({ prepare: () => undefined, value: (x) => tf.zeros([x.shape[0] as number]), dispose: () => undefined }),
  noise: () => [],
  describe: () => ({ kind: 'margin' }),
};

test('a lying adaptive attack does not lower the detection rate: its points are scored with the real detector', async () => {
  const { model } = await trainedToyModel(2);
  const f = logitsOf(model);
  const test = toyDataset(40, 61);
  const ids = Array.from({ length: 40 }, (_, i) => i);
  const cal: Calibration = {
    fprTarget: 0.05, n: 40, threshold: 0.5, rule: 'flag when score > threshold', method: 'split-conformal order statistic',
    allowedAbove: 1, expectedFpr: 0.05, calibrationFpr: 0, scores: scoreStats(new Float32Array(40)),
  };
  const r = runAdaptiveAttack(f, test, ids, new LyingAttack(), flagsAll, 0.5, ['liar'], 16);
  assert.ok(r.fooledIds.length > 10, `the swapped rows fool the model on ${r.fooledIds.length} rows`);
  assert.deepEqual(Array.from(r.scores), r.fooledIds.map(() => 1), 'real scores, not the attack\'s zeros');
  assert.deepEqual(r.perStrategy, {}, 'nothing broken: every fooled point is flagged');
  const correct = new Uint8Array(40).fill(1);
  const s = summarise('liar', true, {}, 40, r.fooledIds, r.scores, new Float32Array(40), cal, [0.05], correct, 40, 0);
  assert.equal(s.summary.calibrated.detectionRate, 1);
  assert.equal(s.summary.calibrated.undetectedSuccessRate, 0);
});

/** A "detector" that flags bright inputs: its score is the mean pixel, differentiable for the attacker. */
const meanOf = (x: tf.Tensor): tf.Tensor1D => tf.mean(tf.reshape(x, [x.shape[0] as number, -1]), 1);
const brightness: Detector = {
  kind: 'margin', name: 'brightness', needsFit: false,
  fit: () => undefined,
  score: (_f, x) => tf.tidy(() => meanOf(x).dataSync() as Float32Array),
  surrogate: () => ({ prepare: () => undefined, value: meanOf, dispose: () => undefined }),
  noise: () => [],
  describe: () => ({ kind: 'margin' }),
};

test('the adaptive attack is a search of the runner, driven by misclassified AND undetected on the real detector', async () => {
  const { model } = await trainedToyModel(2);
  const f = logitsOf(model);
  const cal = calibrateDetector(brightness, model, toyDataset(300, 71), { fpr: 0.5 }).calibration;
  const { x, y } = tensorsOf(toyDataset(48, 72));
  const attack = new AdaptiveDetectorAttack(brightness, cal, { threat: { norm: 'linf', eps: 0.3 }, steps: 20, lambdas: [0, 10], checkEvery: 1, seed: 3 });
  // No loop of its own: it supplies single runs (one per strategy) to the runner's search.
  assert.equal(typeof attack.single, 'function');
  assert.equal(attack.runs(), 2);
  const labels = y.dataSync() as Int32Array;
  // The search stops on a row at the first point that is misclassified and at or under the threshold.
  const own = runAttack(attack, f, x, y);
  const ownScores = brightness.score(f, own.adversarial);
  own.success.forEach((ok, i) => assert.equal(ok, Number(own.pred[i] !== labels[i] && (ownScores[i] as number) <= cal.threshold), `row ${i}`));
  // Control: the same attack searched for misclassification alone stops at the first misclassified
  // point, flagged or not, and never reaches the strategy that aims below the threshold.
  const misOnly = runAttack(attack, f, x, y, { criterion: misclassified });
  const misScores = brightness.score(f, misOnly.adversarial);
  const after = misOnly.success.filter((ok, i) => ok && (misScores[i] as number) <= cal.threshold).length;
  const inside = own.success.reduce((a, b) => a + b, 0);
  assert.ok(inside > after, `criterion inside the search: ${inside} rows; judged after: ${after}`);
  tf.dispose([x, y, own.adversarial, misOnly.adversarial]);
});

test('the adaptive attack ranks the points its criterion flagged with the scores the criterion computed: same result, fewer scorings', async () => {
  const { model } = await trainedToyModel(2);
  const f = logitsOf(model);
  let scored = 0;
  const counting: Detector = { ...brightness, score: (g, x) => ((scored += x.shape[0] as number), brightness.score(g, x)) };
  const cal = calibrateDetector(brightness, model, toyDataset(300, 71), { fpr: 0.5 }).calibration;
  const { x, y } = tensorsOf(toyDataset(48, 72));
  const attack = new AdaptiveDetectorAttack(counting, cal, { threat: { norm: 'linf', eps: 0.3 }, steps: 20, lambdas: [0, 10], checkEvery: 2, seed: 3 });
  scored = 0;
  const own = runAttack(attack, f, x, y);
  const ownScored = scored;
  // The same criterion built afresh: the attack cannot reuse its scores and scores the flagged rows itself.
  scored = 0;
  const fresh = runAttack(attack, f, x, y, { criterion: allOf(misclassified, undetected((g, xs) => counting.score(g, xs), cal.threshold)) });
  assert.deepEqual(Array.from(fresh.success), Array.from(own.success));
  assert.deepEqual(Array.from(fresh.adversarial.dataSync()), Array.from(own.adversarial.dataSync()));
  assert.ok(ownScored < scored, `rows scored: ${ownScored} reusing the criterion's scores, ${scored} without`);
  tf.dispose([x, y, own.adversarial, fresh.adversarial]);
});
