/**
 * The native network against TF.js on the same model: the input gradient of the summed cross-entropy,
 * PGD's iterates, and training's adversarial examples must be what TF.js computes (training runs,
 * data-parallel equivalence and --resume rely on it), and models it cannot run exactly must be refused.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { useBackend } from '../testing/setup.js';
import { Rng } from '../util/rng.js';
import { buildArch } from '../model/architectures.js';
import { logitsOf, nativeNetworkBehind, withNativeNetwork } from '../model/classifier.js';
import { gradientAscent } from '../attack/gradient-attack.js';
import { makeAdversarial } from '../train/methods.js';
import { DEFAULTS, type TrainConfig } from '../train/config.js';
import { nativeApi } from './native-kernels.js';
import { nativeSkip, requireNative } from '../testing/native.js';
import { inputs, labelsOf, tfGradient } from '../testing/native-fixtures.js';
import { installNativeNetwork, nativeNetworkOf } from './native-network.js';


function maxAbsDiff(a: Float32Array, b: Float32Array): { diff: number; scale: number } {
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < a.length; i++) {
    diff = Math.max(diff, Math.abs((a[i] as number) - (b[i] as number)));
    scale = Math.max(scale, Math.abs(b[i] as number));
  }
  return { diff, scale };
}

/** Models the native network runs: the architectures alp trains, and the layer options it covers. */
function supported(): Array<[string, tf.LayersModel, number[]]> {
  const custom = tf.sequential({
    layers: [
      tf.layers.conv2d({ inputShape: [9, 9, 2], filters: 5, kernelSize: 3, strides: 1, padding: 'valid', useBias: false, activation: 'linear', kernelInitializer: tf.initializers.glorotUniform({ seed: 3 }) }),
      tf.layers.activation({ activation: 'relu' }),
      tf.layers.conv2d({ filters: 4, kernelSize: [2, 3], strides: [2, 1], padding: 'same', activation: 'relu', kernelInitializer: tf.initializers.glorotUniform({ seed: 4 }), biasInitializer: tf.initializers.randomNormal({ seed: 5 }) }),
      // Overlapping windows with padding: ties and out-of-bounds positions.
      tf.layers.maxPooling2d({ poolSize: 3, strides: 2, padding: 'same' }),
      tf.layers.flatten(),
      tf.layers.dropout({ rate: 0.5 }),
      tf.layers.dense({ units: 7, activation: 'relu', kernelInitializer: tf.initializers.glorotUniform({ seed: 6 }), biasInitializer: tf.initializers.randomNormal({ seed: 7 }) }),
      tf.layers.dense({ units: 3, useBias: false, kernelInitializer: tf.initializers.glorotUniform({ seed: 8 }) }),
    ],
  });
  return [
    ['fast-cnn', buildArch('fast-cnn', { inputShape: [28, 28, 1], numClasses: 10, seed: 2 }), [28, 28, 1]],
    ['mlp', buildArch('mlp', { inputShape: [12, 12, 1], numClasses: 10, seed: 3 }), [12, 12, 1]],
    ['madry-cnn (max pooling)', buildArch('madry-cnn', { inputShape: [28, 28, 1], numClasses: 10, seed: 4 }), [28, 28, 1]],
    // The smooth activations on the addon's vectorised loops (NATIVE_ACTIVATION_KINDS).
    ['wide-cnn, swish', buildArch('wide-cnn', { inputShape: [28, 28, 1], numClasses: 10, seed: 5, activation: 'swish' }), [28, 28, 1]],
    ['fast-cnn, gelu', buildArch('fast-cnn', { inputShape: [28, 28, 1], numClasses: 10, seed: 6, activation: 'gelu' }), [28, 28, 1]],
    ['mlp, elu', buildArch('mlp', { inputShape: [12, 12, 1], numClasses: 10, seed: 7, activation: 'elu' }), [12, 12, 1]],
    ['valid padding, no bias, overlapping padded pooling, Activation and Dropout layers', custom, [9, 9, 2]],
  ];
}

test('native network: the input gradient of the summed cross-entropy is the one TF.js computes', { skip: nativeSkip() }, async () => {
  await useBackend();
  requireNative();
  for (const [name, model, shape] of supported()) {
    const net = nativeNetworkOf(model);
    assert.ok(net !== null, `${name}: runs natively`);
    const n = 13;
    const size = shape.reduce((a, b) => a * b, 1);
    const x = inputs(n, size, 11);
    const y = labelsOf(n, net.classes, 12);
    net.load();
    const ours = Float32Array.from(net.inputGradient(x, y, n));
    const ref = tfGradient(model, x, y, [n, ...shape]);
    const { diff, scale } = maxAbsDiff(ours, ref);
    assert.ok(scale > 0, `${name}: a non-zero gradient`);
    assert.ok(diff <= 1e-6 * scale, `${name}: max |native − TF.js| = ${diff}, max |g| = ${scale}`);
    const logits = tf.tidy(() => logitsOf(model)(tf.tensor(x, [n, ...shape])).dataSync() as Float32Array);
    const z = maxAbsDiff(net.logits(x, n), logits);
    assert.ok(z.diff <= 1e-6 * z.scale, `${name}: logits differ by ${z.diff}`);
    model.dispose();
  }
});

test('native network: reads the weights the model has now (after an update), not those it was built with', { skip: nativeSkip() }, async () => {
  await useBackend();
  requireNative();
  const model = buildArch('mlp', { inputShape: [6, 6, 1], numClasses: 4, seed: 1 });
  const net = nativeNetworkOf(model);
  assert.ok(net !== null);
  const x = inputs(5, 36, 3);
  const y = labelsOf(5, 4, 4);
  net.load();
  const before = Float32Array.from(net.inputGradient(x, y, 5));
  model.setWeights(model.getWeights().map((w, i) => tf.tidy(() => tf.mul(w, i % 2 === 0 ? 1.5 : -1))));
  net.load();
  const after = Float32Array.from(net.inputGradient(x, y, 5));
  const ref = tfGradient(model, x, y, [5, 6, 6, 1]);
  assert.ok(maxAbsDiff(after, before).diff > 0, 'the gradient changed with the weights');
  const { diff, scale } = maxAbsDiff(after, ref);
  assert.ok(diff <= 1e-6 * scale, `after the update: max diff ${diff}`);
  model.dispose();
});

/** The model's logits with TF.js' own gradients (a wrapper carries no native network). */
const tfOnly = (model: tf.LayersModel) => {
  const f = logitsOf(model, false);
  return (x: tf.Tensor) => f(x);
};

test('native PGD: the same iterates in gradientAscent with the native network as its gradient source as with TF.js\'; training examples are unchanged by the native path', { skip: nativeSkip() }, async () => {
  await useBackend();
  requireNative();
  const model = buildArch('fast-cnn', { inputShape: [28, 28, 1], numClasses: 10, seed: 5 });
  const net = nativeNetworkOf(model);
  assert.ok(net !== null);
  const n = 16;
  const x = inputs(n, 784, 21);
  const y = labelsOf(n, 10, 22);
  const rng = new Rng(23);
  // A start that leaves the ball and the box in places: the first projection matters.
  const start = Float32Array.from(x, (v) => v + (rng.next() * 2 - 1) * 0.35);
  const eps = 0.3;
  const cfg = { threat: { norm: 'linf' as const, eps }, steps: 7, stepSize: 0.075, randomStart: false, loss: 'ce' as const, targeted: false, seed: 1 };
  assert.ok(nativeNetworkBehind(logitsOf(model, false)) !== null, 'logitsOf carries the native network');
  assert.equal(nativeNetworkBehind(tfOnly(model)), null);
  const run = (f: (x: tf.Tensor) => tf.Tensor2D): Float32Array => tf.tidy(() => Float32Array.from(gradientAscent(f, tf.tensor4d(x, [n, 28, 28, 1]), tf.tensor1d(y, 'int32'), cfg, undefined, tf.tensor4d(start, [n, 28, 28, 1])).dataSync() as Float32Array));
  const ref = run(tfOnly(model));
  const ours = run(withNativeNetwork(tfOnly(model), net));
  let same = 0;
  for (let i = 0; i < ours.length; i++) {
    if (Object.is(ours[i], ref[i])) same++;
    assert.ok(Math.abs((ours[i] as number) - (x[i] as number)) <= eps + 1e-6 && (ours[i] as number) >= 0 && (ours[i] as number) <= 1, `element ${i} left the ball or the box`);
  }
  assert.equal(same, ours.length, `${ours.length - same} of ${ours.length} values differ from gradientAscent's`);

  // makeAdversarial, as the trainer calls it, with and without the native network.
  const c: TrainConfig = { ...DEFAULTS, method: 'alp', norm: 'linf', eps, attackSteps: 5, attackStepSize: 0.1 };
  const twins: Record<string, Float32Array> = {};
  for (const [method, attackLoss] of [['alp', 'ce'], ['fgsm-rs', 'ce'], ['alp', 'cw']] as const) {
    const s = { x: tf.tensor4d(x, [n, 28, 28, 1]), y: tf.tensor1d(y, 'int32'), eps, seed: 9, rowSeeds: Int32Array.from({ length: n }, (_, i) => 100 + i) };
    const viaTf = makeAdversarial(method, tfOnly(model), s, { ...c, attackLoss }) as tf.Tensor4D;
    const viaNative = makeAdversarial(method, tfOnly(model), s, { ...c, attackLoss }, net) as tf.Tensor4D;
    twins[`${method} ${attackLoss}`] = viaNative.dataSync() as Float32Array;
    assert.deepEqual(viaNative.shape, viaTf.shape);
    const a = viaNative.dataSync() as Float32Array;
    const b = viaTf.dataSync() as Float32Array;
    let differ = 0;
    for (let i = 0; i < a.length; i++) if (!Object.is(a[i], b[i])) differ++;
    assert.equal(differ, 0, `${method} (${attackLoss}): ${differ} values differ between the native and the TF.js path`);
    tf.dispose([s.x, s.y, viaTf, viaNative]);
  }
  // --attack-loss cw changes the twins (same start, another ascent direction).
  const ce = twins['alp ce'] as Float32Array, cw = twins['alp cw'] as Float32Array;
  assert.ok(ce.some((v, i) => v !== cw[i]), 'CW-margin twins equal the CE twins');
  model.dispose();
});

test('native network: models it does not cover are left to TF.js (null), and so is everything without the addon', async () => {
  await useBackend();
  // The layers it covers and the reasons it gives otherwise: native-graph.test.ts.
  const refused: Array<[string, tf.LayersModel]> = [
    ['softmax output', tf.sequential({ layers: [tf.layers.flatten({ inputShape: [4, 4, 1] }), tf.layers.dense({ units: 3, activation: 'softmax' })] })],
    ['a recurrent layer', tf.sequential({ layers: [tf.layers.simpleRNN({ inputShape: [4, 4], units: 3 })] })],
  ];
  for (const [what, model] of refused) {
    assert.equal(nativeNetworkOf(model), null, `${what}: must not run natively`);
    model.dispose();
  }
  const fast = buildArch('fast-cnn', { inputShape: [28, 28, 1], numClasses: 10, seed: 1 });
  installNativeNetwork(null);
  try {
    assert.equal(nativeNetworkOf(fast), null, 'without the addon');
  } finally {
    installNativeNetwork(nativeApi());
  }
  if (nativeApi() !== null) assert.ok(nativeNetworkOf(fast) !== null, 'fast-cnn runs natively with the addon');
  fast.dispose();
});
