/**
 * The native weight step against TF.js' (opt.minimize of the same stepLoss): a few training steps of
 * every adversarial method on the ResNet and MobileNet fixtures, from the same weights and on the same
 * adversarial examples, leave the same weights and batch-norm moving statistics; and trainModel takes
 * the native path when it can (ALP_NO_NATIVE_WEIGHT_STEP=1 keeps it on TF.js) with the same result.
 *
 * Tolerance: the gradients agree within float32 rounding (native-training.test.ts: ≤ 3e-5 of the
 * largest), momentum SGD moves each weight by lr × that, and three steps add up such differences:
 * weights within 1e-5 of the largest weight of their tensor (the steps themselves move weights by
 * ~1e-2, so a wrong gradient term is three orders of magnitude above the tolerance).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { useBackend } from '../testing/setup.js';
import { mobilenet, resnet } from '../testing/graph-models.js';
import { nativeSkip, requireNative } from '../testing/native.js';
import { inputs, labelsOf } from '../testing/native-fixtures.js';
import { logitsOf } from '../model/classifier.js';
import { nativeNetworkOf } from '../backend/native-network.js';
import { resolveConfig, type Method, type TrainConfig } from './config.js';
import { makeAdversarial } from './methods.js';
import { makeOptimizer, stepInputs, stepLoss } from './replica.js';
import { namedGradients, nativeWeightStep, trainingPathOf, weightStepNetwork } from './native-step.js';
import { trainModel } from './trainer.js';

function config(method: Method): TrainConfig {
  return resolveConfig(undefined, {
    method, arch: 'mlp', epochs: 1, batchSize: 8, eps: 0.1, attackSteps: 2, attackStepSize: 0.05,
    lr: 0.05, optimizer: 'sgd', schedule: 'constant', evalEvery: 0, evalAttackSteps: 2, seed: 3,
  });
}

function closeWeights(a: tf.LayersModel, b: tf.LayersModel, what: string): number {
  let worst = 0;
  a.weights.forEach((w, i) => {
    const x = w.read().dataSync() as Float32Array, y = b.weights[i]?.read().dataSync() as Float32Array;
    let diff = 0, scale = 0;
    for (let j = 0; j < x.length; j++) {
      diff = Math.max(diff, Math.abs((x[j] as number) - (y[j] as number)));
      scale = Math.max(scale, Math.abs(y[j] as number));
    }
    assert.ok(diff <= 1e-5 * Math.max(scale, 1e-3), `${what}: ${w.originalName} differs from TF.js' by ${diff} (max |w| ${scale})`);
    worst = Math.max(worst, diff / Math.max(scale, 1e-3));
  });
  return worst;
}

const fixtures = (): Array<[string, () => tf.LayersModel]> => [
  ['resnet', () => resnet({ inputShape: [12, 12, 3], numClasses: 4, seed: 5, blocks: 1, widths: [4, 8, 8] })],
  ['mobilenet', () => mobilenet({ inputShape: [12, 12, 3], numClasses: 4, seed: 6, stem: 4, blocks: [[8, 1], [8, 2]] })],
];

test('native weight step: three steps of every method leave TF.js\' weights and moving statistics', { skip: nativeSkip() }, async () => {
  await useBackend();
  requireNative();
  const shape: [number, number, number] = [12, 12, 3];
  const report: string[] = [];
  for (const [name, make] of fixtures()) {
    for (const method of ['standard', 'pgd-at', 'alp', 'trades'] as Method[]) {
      const c = config(method);
      const a = make(), b = make();
      const net = weightStepNetwork(nativeNetworkOf(a));
      assert.ok(net !== null, `${name}: the weight step runs natively`);
      const vars = a.trainableWeights.map((w) => w.read() as tf.Variable);
      const varsB = b.trainableWeights.map((w) => w.read() as tf.Variable);
      const optA = makeOptimizer(c), optB = makeOptimizer(c);
      for (let step = 0; step < 3; step++) {
        const x = inputs(8, 12 * 12 * 3, 50 + step);
        const y = labelsOf(8, 4, 60 + step);
        const ids = Int32Array.from({ length: 8 }, (_, i) => i + 8 * step);
        // The same adversarial examples for both (crafted on a's weights): the weight step is under test.
        const { input, s } = stepInputs(x, y, ids, shape, c, step, c.eps, null);
        const xAdv = makeAdversarial(method, logitsOf(a), s, c);
        const r = nativeWeightStep(net, a, s, xAdv, c);
        const named = namedGradients(vars, r.grads);
        optA.applyGradients(named);
        const kept: Record<string, tf.Scalar> = {};
        const cost = optB.minimize(stepLoss(c, logitsOf(b, true), null, input, s, xAdv, kept), true, varsB);
        const tfLoss = cost?.dataSync()[0] as number;
        assert.ok(Math.abs(r.loss - tfLoss) <= 1e-5 * Math.max(1, Math.abs(tfLoss)), `${name} ${method}: loss ${r.loss} vs TF.js' ${tfLoss}`);
        assert.deepEqual(Object.keys(r.parts).sort(), Object.keys(kept).sort(), `${name} ${method}: the same named terms`);
        tf.dispose([input, s.x, s.y, ...(xAdv ? [xAdv] : []), cost ?? [], ...named.map((g) => g.tensor), ...Object.values(kept)]);
      }
      report.push(`${name} ${method}: weights within ${closeWeights(a, b, `${name} ${method}`).toExponential(1)} of TF.js' after 3 steps`);
      optA.dispose();
      optB.dispose();
      a.dispose();
      b.dispose();
    }
  }
  if (process.env['ALP_NATIVE_REPORT'] === '1') console.log(report.join('\n'));
});

test('trainModel takes the native weight step when it can, with TF.js\' result; the path says so', { skip: nativeSkip() }, async () => {
  await useBackend();
  requireNative();
  const data = { name: 'random', images: inputs(32, 12 * 12 * 3, 9), labels: labelsOf(32, 4, 10), count: 32, shape: [12, 12, 3] as [number, number, number], numClasses: 4 };
  const c = { ...config('alp'), epochs: 1 };
  const make = (fixtures()[0] as [string, () => tf.LayersModel])[1];
  const a = make(), b = make();
  assert.deepEqual(trainingPathOf(a).weightStep, { path: 'native', reason: null });
  await trainModel(a, data, null, c);
  process.env['ALP_NO_NATIVE_WEIGHT_STEP'] = '1';
  try {
    assert.deepEqual(trainingPathOf(b).weightStep, { path: 'tfjs', reason: 'turned off by ALP_NO_NATIVE_WEIGHT_STEP=1' });
    await trainModel(b, data, null, c);
  } finally {
    delete process.env['ALP_NO_NATIVE_WEIGHT_STEP'];
  }
  // Four steps, and the attacks see each path's own (slightly different) weights: looser than above.
  closeWeights(a, b, 'trainModel alp');
  a.dispose();
  b.dispose();
});
