import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { logitsOf, type LogitsFn } from '../model/classifier.js';
import { trainedToyModel } from '../testing/setup.js';
import {
  checkBlackBoxVsWhiteBox, checkDeterminism, checkEpsGrowth, checkGradients, checkLogits, checkMoreIterations, checkSingleStep, checkWeakAttackGap,
} from './diagnostics.js';

// Each masking diagnostic must be able to fail: every test below gives it the evidence of a masked or
// broken model and expects it to say so, and gives it a healthy counterpart that it must pass.

const threat = { norm: 'linf' as const, eps: 0.3 };

test('softmax-output fails on probabilities, passes on logits', async () => {
  const { model, ds } = await trainedToyModel(2);
  const f = logitsOf(model);
  const probs: LogitsFn = (x) => tf.tidy(() => tf.softmax(f(x)) as tf.Tensor2D);
  assert.equal(checkLogits(probs, ds, undefined).status, 'fail');
  assert.equal(checkLogits(f, ds, 'softmax').status, 'fail');
  assert.equal(checkLogits(f, ds, 'linear').status, 'pass');
});

test('stochastic-forward warns on a randomised forward pass', async () => {
  const { model, ds } = await trainedToyModel(2);
  const f = logitsOf(model);
  let k = 0;
  const noisy: LogitsFn = (x) => tf.tidy(() => f(tf.add(x, tf.randomNormal(x.shape, 0, 0.05, 'float32', ++k))) as tf.Tensor2D);
  assert.equal(checkDeterminism(noisy, ds).status, 'warn');
  assert.equal(checkDeterminism(f, ds).status, 'pass');
});

test('gradient-norms fails when the input gradient is zero (a quantising input layer)', async () => {
  const { model, ds } = await trainedToyModel(2);
  const f = logitsOf(model);
  // round() has zero gradient almost everywhere: the classic shattered-gradient defence.
  const quantised: LogitsFn = (x) => tf.tidy(() => f(tf.div(tf.round(tf.mul(x, 8)), 8)) as tf.Tensor2D);
  const r = checkGradients(quantised, ds);
  assert.equal(r.status, 'fail', r.detail);
  assert.equal(checkGradients(f, ds).status, 'pass');
});

test('eps-to-zero fails when accuracy stays high at a large radius', () => {
  const masked = [{ eps: 0, robustAccuracy: 0.99 }, { eps: 0.3, robustAccuracy: 0.9 }, { eps: 0.9, robustAccuracy: 0.6 }];
  assert.equal(checkEpsGrowth(masked, threat).status, 'fail');
  const healthy = [{ eps: 0, robustAccuracy: 0.99 }, { eps: 0.3, robustAccuracy: 0.9 }, { eps: 0.9, robustAccuracy: 0 }];
  assert.equal(checkEpsGrowth(healthy, threat).status, 'pass');
});

test('more-steps-restarts fails when a stronger PGD finds much more than a weak one', async () => {
  const { model, ds } = await trainedToyModel(2);
  const f = logitsOf(model);
  // At ε = 0.3 one PGD step leaves about half the toy examples robust and 20 steps × 2 restarts about a
  // fifth: the single step is far from converged. The same budget twice is the control.
  const r = await checkMoreIterations(f, ds, threat, { n: 64, weak: [1, 1], strong: [20, 2], seed: 1 });
  assert.equal(r.status, 'fail', r.detail);
  const ok = await checkMoreIterations(f, ds, threat, { n: 64, weak: [20, 2], strong: [20, 2], seed: 1 });
  assert.equal(ok.status, 'pass', ok.detail);
});

test('black-box-beats-white-box fails when Square or transfer fool what gradient attacks missed', () => {
  const steps = (square: number): Array<{ attack: string; fooledHere: number }> => [
    { attack: 'pgd-linf-ce-20x1', fooledHere: 40 }, { attack: 'square-linf-300x1', fooledHere: square },
  ];
  assert.equal(checkBlackBoxVsWhiteBox(steps(10), 100).status, 'fail');
  assert.equal(checkBlackBoxVsWhiteBox(steps(1), 100).status, 'warn');
  assert.equal(checkBlackBoxVsWhiteBox(steps(0), 100).status, 'pass');
  assert.equal(checkBlackBoxVsWhiteBox([{ attack: 'pgd-linf-ce-20x1', fooledHere: 40 }], 100).status, 'warn');
});

test('fgsm-vs-pgd fails when one step beats many', () => {
  assert.equal(checkSingleStep(0.2, 0.5).status, 'fail');
  assert.equal(checkSingleStep(0.5, 0.2).status, 'pass');
  assert.equal(checkSingleStep(undefined, 0.2).status, 'warn');
});

test('weak-attack-gap fails when plain PGD overstates the cascade by more than 10 points', () => {
  const weak = (acc: number): { steps: number; restarts: number; robustAccuracy: number } => ({ steps: 20, restarts: 1, robustAccuracy: acc });
  const r = checkWeakAttackGap(weak(0.5), 0.2, 300);
  assert.equal(r.status, 'fail');
  assert.match(r.detail, /overstate robustness by 30\.0 points/);
  assert.equal(checkWeakAttackGap(weak(0.25), 0.2, 300).status, 'warn');
  assert.equal(checkWeakAttackGap(weak(0.21), 0.2, 300).status, 'pass');
});
