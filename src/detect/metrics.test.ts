import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Rng } from '../util/rng.js';
import { calibrateThreshold } from './calibrate.js';
import { rateAbove, rocAuc, rocCurve, scoreStats, tprAtFpr } from './metrics.js';

function bruteAuc(neg: number[], pos: number[]): number {
  let s = 0;
  for (const p of pos) for (const n of neg) s += p > n ? 1 : p === n ? 0.5 : 0;
  return s / (pos.length * neg.length);
}

function gaussians(rng: Rng, n: number, mean = 0): Float64Array {
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const u = 1 - rng.next(), v = rng.next();
    out[i] = mean + Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  }
  return out;
}

test('ROC-AUC: perfect, reversed, all tied, and ties against the pairwise definition', () => {
  assert.equal(rocAuc([1, 2, 3], [4, 5]), 1);
  assert.equal(rocAuc([4, 5], [1, 2, 3]), 0);
  assert.equal(rocAuc([1, 1], [1, 1, 1]), 0.5);
  assert.ok(Number.isNaN(rocAuc([], [1])));
  const rng = new Rng(3);
  for (let trial = 0; trial < 20; trial++) {
    // Coarse values make many ties.
    const neg = Array.from({ length: 37 }, () => Math.round(rng.next() * 6));
    const pos = Array.from({ length: 23 }, () => Math.round(rng.next() * 6 + 1));
    assert.ok(Math.abs(rocAuc(neg, pos) - bruteAuc(neg, pos)) < 1e-12);
  }
  assert.throws(() => rocAuc([NaN], [1]), /NaN/);
});

test('TPR at FPR uses a threshold with at most ⌊fpr·n⌋ negatives above it', () => {
  const neg = Array.from({ length: 100 }, (_, i) => i);
  const pos = [50, 94, 94.5, 96, 200];
  const p = tprAtFpr(neg, pos, 0.05);
  assert.equal(p.threshold, 94);
  assert.equal(p.fpr, 0.05);
  assert.equal(p.tpr, 3 / 5);
  assert.equal(tprAtFpr(neg, pos, 0).threshold, 99);
  assert.equal(rateAbove([1, 2, 3], 2), 1 / 3);
  const roc = rocCurve(neg, pos);
  assert.equal(roc.fpr[0], 0);
  assert.equal(roc.tpr[roc.tpr.length - 1], 1);
  assert.ok(roc.fpr.length <= 101);
  const s = scoreStats([1, 2, 3, 4]);
  assert.equal(s.mean, 2.5);
  assert.equal(s.p50, 2.5);
});

test('calibration: order statistic, conformal expected FPR, and too few examples', () => {
  const scores = Array.from({ length: 99 }, (_, i) => i);
  const c = calibrateThreshold(scores, 0.01);
  assert.equal(c.threshold, 98); // m = 0: nothing above the largest clean score
  assert.equal(c.expectedFpr, 1 / 100);
  assert.equal(c.calibrationFpr, 0);
  const c5 = calibrateThreshold(Array.from({ length: 199 }, (_, i) => i), 0.05);
  assert.equal(c5.allowedAbove, 9);
  assert.equal(c5.threshold, 189);
  assert.ok(c5.expectedFpr <= 0.05);
  assert.throws(() => calibrateThreshold(Array.from({ length: 50 }, (_, i) => i), 0.01), /too few for a false-positive rate of 0.01; need at least 99/);
  assert.throws(() => calibrateThreshold([1, 2, 3], 1.5), / fpr: expected a false-positive rate in \(0, 1\)/);
});

test('calibration hits the requested FPR on fresh clean scores within sampling error', () => {
  const rng = new Rng(11);
  for (const fpr of [0.01, 0.05, 0.1]) {
    const n = 2000, fresh = 20000, reps = 10;
    let sum = 0;
    for (let r = 0; r < reps; r++) {
      const c = calibrateThreshold(gaussians(rng, n), fpr);
      const got = rateAbove(gaussians(rng, fresh), c.threshold);
      // One repetition: the calibrated threshold's own error plus the test sample's.
      const sd1 = Math.sqrt(fpr * (1 - fpr) * (1 / n + 1 / fresh));
      assert.ok(Math.abs(got - c.expectedFpr) < 4 * sd1, `fpr ${fpr}: got ${got}, expected ${c.expectedFpr} ± ${4 * sd1}`);
      sum += got;
    }
    const mean = sum / reps;
    const sd = Math.sqrt(fpr * (1 - fpr) * (1 / n + 1 / fresh) / reps);
    assert.ok(Math.abs(mean - fpr) < 4 * sd + 1 / (n + 1), `fpr ${fpr}: mean over ${reps} calibrations ${mean}`);
  }
});
