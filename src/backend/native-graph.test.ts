/**
 * The native network on functional graphs and every layer it covers: per layer and per model, its
 * logits and input gradients against TF.js' (float32 tolerance, and how many values agree to the bit),
 * its gradients against finite differences of its own forward pass, PGD's iterates against
 * gradientAscent on TF.js, and the reason it gives for a model it does not cover.
 *
 * Under CI=true a missing addon fails these tests instead of skipping them (.ci/run builds it).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { useBackend } from '../testing/setup.js';
import { mobilenet, resnet } from '../testing/graph-models.js';
import { Rng } from '../util/rng.js';
import { logitsOf, nativeNetworkBehind, withNativeNetwork } from '../model/classifier.js';
import type { Attack } from '../attack/attack.js';
import { Fgsm } from '../attack/fgsm.js';
import { Pgd } from '../attack/pgd.js';
import { runAttack } from '../attack/runner.js';
import { batchNormalization } from './batch-normalization.js';
import { buildArch } from '../model/architectures.js';
import { gradientAscent } from '../attack/gradient-attack.js';
import { nativeSkip, requireNative } from '../testing/native.js';
import { inputs, labelsOf, tfGradient } from '../testing/native-fixtures.js';
import { nativeNetworkPlan, type NativeNetwork } from './native-network.js';


interface Agreement { diff: number; scale: number; exact: number }

function compare(a: Float32Array, b: Float32Array): Agreement {
  let diff = 0, scale = 0, exact = 0;
  for (let i = 0; i < a.length; i++) {
    diff = Math.max(diff, Math.abs((a[i] as number) - (b[i] as number)));
    scale = Math.max(scale, Math.abs(b[i] as number));
    if (Object.is(a[i], b[i])) exact++;
  }
  return { diff, scale, exact: exact / Math.max(a.length, 1) };
}

/** Σ CE of float32 logits, in float64. */
function loss(z: Float32Array, y: Int32Array, K: number): number {
  let s = 0;
  for (let r = 0; r < y.length; r++) {
    let m = -Infinity;
    for (let j = 0; j < K; j++) m = Math.max(m, z[r * K + j] as number);
    let e = 0;
    for (let j = 0; j < K; j++) e += Math.exp((z[r * K + j] as number) - m);
    s += m + Math.log(e) - (z[r * K + (y[r] as number)] as number);
  }
  return s;
}

/**
 * Directional finite differences of the native forward pass against its gradient: for a few random
 * directions v, (L(x + hv) − L(x − hv)) / 2h ≈ ∇L·v.
 */
function finiteDifferences(net: NativeNetwork, x: Float32Array, y: Int32Array, n: number, seed: number): number {
  const g = Float32Array.from(net.inputGradient(x, y, n));
  const rng = new Rng(seed);
  const h = 1e-3;
  let worst = 0;
  for (let d = 0; d < 3; d++) {
    const v = Float32Array.from(x, () => rng.next() * 2 - 1);
    let gv = 0, gnorm = 0;
    for (let i = 0; i < x.length; i++) {
      gv += (g[i] as number) * (v[i] as number);
      gnorm += Math.abs((g[i] as number) * (v[i] as number));
    }
    const plus = loss(net.logits(Float32Array.from(x, (xi, i) => xi + h * (v[i] as number)), n), y, net.classes);
    const minus = loss(net.logits(Float32Array.from(x, (xi, i) => xi - h * (v[i] as number)), n), y, net.classes);
    const fd = (plus - minus) / (2 * h);
    worst = Math.max(worst, Math.abs(fd - gv) / Math.max(gnorm, 1e-3));
  }
  return worst;
}

type Build = (x: tf.SymbolicTensor) => tf.SymbolicTensor;

/** A functional model: the layer(s) under test on the input, then a dense head of 5 logits. */
function wrap(shape: [number, number, number], body: Build, seed: number): tf.LayersModel {
  const input = tf.input({ shape });
  let h = body(input);
  if (h.shape.length > 2) h = tf.layers.flatten().apply(h) as tf.SymbolicTensor;
  const out = tf.layers.dense({ units: 5, kernelInitializer: tf.initializers.glorotUniform({ seed }), biasInitializer: tf.initializers.randomNormal({ seed: seed + 1, stddev: 0.1 }) }).apply(h) as tf.SymbolicTensor;
  const model = tf.model({ inputs: input, outputs: out });
  // Random biases and batch-norm parameters: fresh ones (zeros, ones) would hide a wrong formula.
  const rng = new Rng(seed + 2);
  model.setWeights(model.getWeights().map((w, i) => {
    const name = model.weights[i]?.originalName ?? '';
    if (/kernel$/.test(name)) return w;
    const positive = /gamma$|moving_variance$/.test(name);
    return tf.tensor(Float32Array.from({ length: w.size }, () => (positive ? 0.5 + rng.next() : rng.next() * 0.6 - 0.3)), w.shape);
  }));
  return model;
}

const gu = (seed: number) => tf.initializers.glorotUniform({ seed });
const conv = (o: Record<string, unknown>, seed: number): tf.layers.Layer => tf.layers.conv2d({ filters: 4, kernelSize: 3, padding: 'same', kernelInitializer: gu(seed), ...o } as Parameters<typeof tf.layers.conv2d>[0]);
const apply = (l: tf.layers.Layer, x: tf.SymbolicTensor | tf.SymbolicTensor[]): tf.SymbolicTensor => l.apply(x) as tf.SymbolicTensor;

/** Every layer and option the native network covers, each in a small model (name, input shape, body). */
function layerCases(): Array<[string, [number, number, number], Build]> {
  const act = (a: string): Build => (x) => apply(tf.layers.activation({ activation: a as 'relu' }), apply(conv({}, 40), x));
  return [
    ['Conv2D 3×3 stride 2 same, bias', [9, 9, 2], (x) => apply(conv({ strides: 2 }, 1), x)],
    ['Conv2D [2,3] strides [1,2] valid, relu, no bias', [8, 9, 3], (x) => apply(conv({ kernelSize: [2, 3], strides: [1, 2], padding: 'valid', activation: 'relu', useBias: false }, 2), x)],
    ['Conv2D dilation 2 same', [9, 9, 2], (x) => apply(conv({ dilationRate: 2 }, 3), x)],
    ['Conv2D dilation [2,1] valid, relu', [9, 8, 2], (x) => apply(conv({ dilationRate: [2, 1], padding: 'valid', activation: 'relu' }, 4), x)],
    ['DepthwiseConv2D 3×3 same, multiplier 2, bias', [7, 7, 3], (x) => apply(tf.layers.depthwiseConv2d({ kernelSize: 3, padding: 'same', depthMultiplier: 2, depthwiseInitializer: gu(5) }), x)],
    ['DepthwiseConv2D stride 2 valid, relu, no bias', [9, 9, 2], (x) => apply(tf.layers.depthwiseConv2d({ kernelSize: 3, strides: 2, padding: 'valid', activation: 'relu', useBias: false, depthwiseInitializer: gu(6) }), x)],
    ['SeparableConv2D dilation 2 same', [9, 9, 2], (x) => apply(tf.layers.separableConv2d({ filters: 3, kernelSize: 3, dilationRate: 2, padding: 'same', depthwiseInitializer: gu(7), pointwiseInitializer: gu(70) }), x)],
    ['SeparableConv2D 3×3 same, relu', [8, 8, 3], (x) => apply(tf.layers.separableConv2d({ filters: 5, kernelSize: 3, padding: 'same', activation: 'relu', depthwiseInitializer: gu(8), pointwiseInitializer: gu(9) }), x)],
    ['SeparableConv2D stride 2 valid, multiplier 2, swish', [9, 9, 2], (x) => apply(tf.layers.separableConv2d({ filters: 3, kernelSize: 3, strides: 2, padding: 'valid', depthMultiplier: 2, activation: 'swish', depthwiseInitializer: gu(10), pointwiseInitializer: gu(11) }), x)],
    ['Dense on the last axis of a Reshape', [4, 4, 3], (x) => apply(tf.layers.dense({ units: 6, activation: 'tanh', kernelInitializer: gu(12) }), apply(tf.layers.reshape({ targetShape: [16, 3] }), x))],
    ['BatchNormalization (center and scale)', [6, 6, 3], (x) => apply(tf.layers.batchNormalization({}), apply(conv({}, 13), x))],
    ['BatchNormalization without scale (alp layer)', [6, 6, 3], (x) => apply(batchNormalization({ scale: false }), apply(conv({}, 14), x))],
    ['BatchNormalization without center or scale (alp layer)', [6, 6, 3], (x) => apply(batchNormalization({ scale: false, center: false }), x)],
    ['Add (a residual: conv + identity)', [6, 6, 4], (x) => apply(tf.layers.add(), [apply(conv({ activation: 'relu' }, 15), x), x])],
    ['Multiply (conv · sigmoid gate · input)', [6, 6, 4], (x) => apply(tf.layers.multiply(), [apply(conv({}, 16), x), apply(conv({ activation: 'sigmoid' }, 17), x), x])],
    ['Concatenate (channels)', [6, 6, 2], (x) => apply(tf.layers.concatenate(), [x, apply(conv({}, 18), x)])],
    ['Concatenate (axis 1)', [5, 6, 2], (x) => apply(tf.layers.concatenate({ axis: 1 }), [x, apply(conv({ filters: 2 }, 19), x)])],
    ['MaxPooling2D 3 stride 2 same', [9, 9, 2], (x) => apply(tf.layers.maxPooling2d({ poolSize: 3, strides: 2, padding: 'same' }), apply(conv({}, 20), x))],
    ['AveragePooling2D 3 stride 2 same', [9, 9, 2], (x) => apply(tf.layers.averagePooling2d({ poolSize: 3, strides: 2, padding: 'same' }), apply(conv({}, 21), x))],
    ['AveragePooling2D 2 valid', [7, 7, 2], (x) => apply(tf.layers.averagePooling2d({ poolSize: 2, padding: 'valid' }), x)],
    ['GlobalAveragePooling2D', [5, 5, 3], (x) => apply(tf.layers.globalAveragePooling2d({}), apply(conv({ filters: 6 }, 22), x))],
    ['GlobalMaxPooling2D', [5, 5, 3], (x) => apply(tf.layers.globalMaxPooling2d({}), apply(conv({ filters: 6 }, 23), x))],
    ['ZeroPadding2D [[1,2],[0,1]]', [5, 5, 2], (x) => apply(conv({ padding: 'valid' }, 24), apply(tf.layers.zeroPadding2d({ padding: [[1, 2], [0, 1]] }), x))],
    ['a shared layer called twice (one weight, two steps)', [6, 6, 2], (x) => {
      const shared = conv({ filters: 2, activation: 'tanh' }, 25);
      return apply(shared, apply(shared, x));
    }],
    ['Dropout, Flatten', [5, 5, 2], (x) => apply(tf.layers.dropout({ rate: 0.5 }), apply(tf.layers.flatten(), x))],
    ['relu', [6, 6, 2], act('relu')],
    ['relu6', [6, 6, 2], (x) => apply(tf.layers.activation({ activation: 'relu6' }), apply(conv({ kernelInitializer: tf.initializers.randomNormal({ seed: 41, stddev: 4 }) }, 0), x))],
    ['ReLU layer with maxValue 0.5', [6, 6, 2], (x) => apply(tf.layers.reLU({ maxValue: 0.5 }), apply(conv({}, 42), x))],
    ['LeakyReLU alpha 0.2', [6, 6, 2], (x) => apply(tf.layers.leakyReLU({ alpha: 0.2 }), apply(conv({}, 43), x))],
    ['ELU layer', [6, 6, 2], (x) => apply(tf.layers.elu({}), apply(conv({}, 44), x))],
    ['elu', [6, 6, 2], act('elu')],
    ['sigmoid', [6, 6, 2], act('sigmoid')],
    ['tanh', [6, 6, 2], act('tanh')],
    ['swish', [6, 6, 2], act('swish')],
    ['gelu', [6, 6, 2], act('gelu')],
  ];
}

test('native network, per layer: logits and input gradients as TF.js computes them, and as finite differences say', { skip: nativeSkip() }, async () => {
  await useBackend();
  requireNative();
  const report: string[] = [];
  for (const [k, [name, shape, body]] of layerCases().entries()) {
    const model = wrap(shape, body, 100 + k);
    const plan = nativeNetworkPlan(model);
    assert.ok(plan.net !== null, `${name}: runs natively (${plan.reason})`);
    const net = plan.net;
    const n = 6;
    const size = shape[0] * shape[1] * shape[2];
    const x = inputs(n, size, 200 + k);
    const y = labelsOf(n, 5, 300 + k);
    net.load();
    const z = compare(Float32Array.from(net.logits(x, n)), tf.tidy(() => Float32Array.from(logitsOf(model)(tf.tensor(x, [n, ...shape])).dataSync() as Float32Array)));
    assert.ok(z.diff <= 1e-5 * Math.max(z.scale, 1), `${name}: logits differ from TF.js' by ${z.diff} (max |z| ${z.scale})`);
    // TF.js 4.22 has no gradient for a dilated Conv2D (it throws): there only finite differences judge.
    const tfCanDifferentiate = !/Conv2D dilation/.test(name);
    const g = tfCanDifferentiate ? compare(Float32Array.from(net.inputGradient(x, y, n)), tfGradient(model, x, y, [n, ...shape])) : null;
    if (g !== null) {
      assert.ok(g.scale > 0, `${name}: a non-zero gradient`);
      assert.ok(g.diff <= 1e-5 * g.scale, `${name}: input gradient differs from TF.js' by ${g.diff} (max |g| ${g.scale})`);
    }
    const fd = finiteDifferences(net, x, y, n, 400 + k);
    assert.ok(fd <= 2e-2, `${name}: finite differences disagree with the gradient by ${fd} (relative)`);
    const gText = g === null ? 'no TF.js gradient to compare' : `${(100 * g.exact).toFixed(1)}% (max diff ${g.diff.toExponential(1)} of ${g.scale.toExponential(1)})`;
    report.push(`${name}: logits ${(100 * z.exact).toFixed(1)}% bit-identical (max diff ${z.diff.toExponential(1)}), gradient ${gText}, FD ${fd.toExponential(1)}`);
    model.dispose();
  }
  if (process.env['ALP_NATIVE_REPORT'] === '1') console.log(report.join('\n'));
});

function graphModels(): Array<[string, tf.LayersModel, [number, number, number]]> {
  return [
    ['resnet (1 block per stage, 16×16×3)', resnet({ inputShape: [16, 16, 3], numClasses: 10, seed: 1, blocks: 1, widths: [8, 16, 32] }), [16, 16, 3]],
    ['resnet-20 (32×32×3)', resnet({ inputShape: [32, 32, 3], numClasses: 10, seed: 2 }), [32, 32, 3]],
    ['mobilenet (16×16×3)', mobilenet({ inputShape: [16, 16, 3], numClasses: 10, seed: 3, stem: 8, blocks: [[16, 1], [32, 2], [32, 1]] }), [16, 16, 3]],
  ];
}

test('native network, per model: a functional ResNet and MobileNet give TF.js\' logits and input gradients', { skip: nativeSkip() }, async () => {
  await useBackend();
  requireNative();
  const report: string[] = [];
  for (const [name, model, shape] of graphModels()) {
    const plan = nativeNetworkPlan(model);
    assert.ok(plan.net !== null, `${name}: runs natively (${plan.reason})`);
    const net = plan.net;
    const n = 4;
    const size = shape[0] * shape[1] * shape[2];
    const x = inputs(n, size, 7);
    const y = labelsOf(n, 10, 8);
    net.load();
    const z = compare(Float32Array.from(net.logits(x, n)), tf.tidy(() => Float32Array.from(logitsOf(model)(tf.tensor(x, [n, ...shape])).dataSync() as Float32Array)));
    const g = compare(Float32Array.from(net.inputGradient(x, y, n)), tfGradient(model, x, y, [n, ...shape]));
    assert.ok(z.diff <= 1e-5 * Math.max(z.scale, 1), `${name}: logits differ by ${z.diff}`);
    assert.ok(g.diff <= 1e-4 * g.scale, `${name}: input gradient differs by ${g.diff} (max |g| ${g.scale})`);
    const fd = finiteDifferences(net, x, y, n, 9);
    assert.ok(fd <= 2e-2, `${name}: finite differences disagree by ${fd}`);
    report.push(`${name}: logits ${(100 * z.exact).toFixed(1)}% bit-identical (max diff ${z.diff.toExponential(1)}), gradient ${(100 * g.exact).toFixed(1)}% (max diff ${g.diff.toExponential(1)} of ${g.scale.toExponential(1)}), FD ${fd.toExponential(1)}`);
    model.dispose();
  }
  if (process.env['ALP_NATIVE_REPORT'] === '1') console.log(report.join('\n'));
});

test('native network: the reason a model stays on TF.js names the first layer it does not cover', { skip: nativeSkip() }, async () => {
  await useBackend();
  requireNative();
  const cases: Array<[tf.LayersModel, RegExp]> = [
    [tf.sequential({ layers: [tf.layers.flatten({ inputShape: [4, 4, 1] }), tf.layers.dense({ units: 3, activation: 'softmax', name: 'probs' })] }), /Dense layer 'probs': activation 'softmax'/],
    [tf.sequential({ layers: [tf.layers.conv1d({ inputShape: [8, 2], filters: 2, kernelSize: 3, name: 'c1' }), tf.layers.flatten(), tf.layers.dense({ units: 3 })] }), /Conv1D layer 'c1': not covered/],
    [tf.sequential({ layers: [tf.layers.conv2d({ inputShape: [6, 6, 1], filters: 2, kernelSize: 3, activation: 'softplus', name: 'soft' }), tf.layers.flatten(), tf.layers.dense({ units: 3 })] }), /Conv2D layer 'soft': activation 'softplus'/],
    [tf.sequential({ layers: [tf.layers.depthwiseConv2d({ inputShape: [6, 6, 1], kernelSize: 3, dilationRate: 2, name: 'dw' }), tf.layers.flatten(), tf.layers.dense({ units: 3 })] }), /DepthwiseConv2D layer 'dw': dilationRate/],
  ];
  const a = tf.input({ shape: [4] });
  const two = tf.model({ inputs: a, outputs: [tf.layers.dense({ units: 3 }).apply(a) as tf.SymbolicTensor, tf.layers.dense({ units: 2 }).apply(a) as tf.SymbolicTensor] });
  cases.push([two, /2 outputs/]);
  for (const [model, why] of cases) {
    const plan = nativeNetworkPlan(model);
    assert.equal(plan.net, null);
    assert.match(plan.reason ?? '', why);
    model.dispose();
  }
});

test('native PGD iterates: the same as gradientAscent on TF.js for fast-cnn, madry-cnn, ResNet-20 and MobileNet', { skip: nativeSkip() }, async () => {
  await useBackend();
  requireNative();
  const models: Array<[string, tf.LayersModel, [number, number, number]]> = [
    ['fast-cnn', buildArch('fast-cnn', { inputShape: [28, 28, 1], numClasses: 10, seed: 5 }), [28, 28, 1]],
    ['madry-cnn', buildArch('madry-cnn', { inputShape: [28, 28, 1], numClasses: 10, seed: 6 }), [28, 28, 1]],
    ['resnet-20', resnet({ inputShape: [32, 32, 3], numClasses: 10, seed: 7 }), [32, 32, 3]],
    ['mobilenet', mobilenet({ inputShape: [32, 32, 3], numClasses: 10, seed: 8 }), [32, 32, 3]],
  ];
  const report: string[] = [];
  for (const [name, model, shape] of models) {
    const plan = nativeNetworkPlan(model);
    assert.ok(plan.net !== null, `${name}: ${plan.reason}`);
    const n = 4;
    const size = shape[0] * shape[1] * shape[2];
    const x = inputs(n, size, 21);
    const y = labelsOf(n, 10, 22);
    const rng = new Rng(23);
    const eps = 8 / 255;
    const start = Float32Array.from(x, (v) => v + (rng.next() * 2 - 1) * eps * 1.2);
    const stepSize = 2 / 255, steps = 5;
    const cfg = { threat: { norm: 'linf' as const, eps }, steps, stepSize, randomStart: false, loss: 'ce' as const, targeted: false, seed: 1 };
    const f = logitsOf(model, false);
    const tfOnly = (t: tf.Tensor): tf.Tensor2D => f(t);
    const run = (g: (t: tf.Tensor) => tf.Tensor2D): Float32Array => tf.tidy(() => Float32Array.from(gradientAscent(g, tf.tensor4d(x, [n, ...shape]), tf.tensor1d(y, 'int32'), cfg, undefined, tf.tensor4d(start, [n, ...shape])).dataSync() as Float32Array));
    const ref = run(tfOnly);
    const ours = run(withNativeNetwork(tfOnly, plan.net));
    const c = compare(ours, ref);
    report.push(`${name}: ${(100 * c.exact).toFixed(3)}% of PGD-${steps} values bit-identical`);
    assert.equal(c.exact, 1, `${name}: ${Math.round((1 - c.exact) * ours.length)} of ${ours.length} PGD values differ from gradientAscent's`);
    model.dispose();
  }
  if (process.env['ALP_NATIVE_REPORT'] === '1') console.log(report.join('\n'));
});

test('the runner with the native gradient source: PGD (CE and CW, untargeted and targeted, restarts) and FGSM give the same points and successes as with TF.js\'', { skip: nativeSkip() }, async () => {
  await useBackend();
  requireNative();
  const model = resnet({ inputShape: [16, 16, 3], numClasses: 10, seed: 11, blocks: 1, widths: [8, 16, 16] });
  const f = logitsOf(model, false);
  assert.ok(nativeNetworkBehind(f) !== null, 'logitsOf(model) carries the native network');
  const tfOnly = (t: tf.Tensor): tf.Tensor2D => f(t);
  const n = 12;
  const x = tf.tensor4d(inputs(n, 768, 31), [n, 16, 16, 3]);
  const y = tf.tensor1d(labelsOf(n, 10, 32), 'int32');
  const targets = tf.tensor1d(labelsOf(n, 10, 33), 'int32');
  const threat = { norm: 'linf' as const, eps: 0.03 };
  const attacks: Array<[string, Attack, boolean]> = [
    ['pgd ce', new Pgd({ threat, steps: 6, restarts: 2, seed: 3 }), false],
    ['pgd cw', new Pgd({ threat, steps: 6, loss: 'cw', seed: 4 }), false],
    ['pgd ce targeted', new Pgd({ threat, steps: 6, seed: 5 }), true],
    ['fgsm', new Fgsm({ threat }), false],
  ];
  let fooled = 0;
  for (const [name, attack, targeted] of attacks) {
    const o = targeted ? { targets } : {};
    const a = runAttack(attack, f, x, y, o);
    const b = runAttack(attack, tfOnly, x, y, o);
    const c = compare(Float32Array.from(a.adversarial.dataSync() as Float32Array), Float32Array.from(b.adversarial.dataSync() as Float32Array));
    assert.equal(c.exact, 1, `${name}: adversarial points differ (max ${c.diff})`);
    assert.deepEqual(a.success, b.success, `${name}: successes differ`);
    fooled += a.success.reduce((s, v) => s + v, 0);
    tf.dispose([a.adversarial, b.adversarial]);
  }
  assert.ok(fooled > 0, 'the attacks succeed somewhere (the comparison is not vacuous)');
  tf.dispose([x, y, targets]);
  model.dispose();
});
