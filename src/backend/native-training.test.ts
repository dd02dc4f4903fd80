/**
 * The native network in training: per layer and per model, the weight gradients of the summed
 * cross-entropy of training-mode logits against TF.js' (tf.variableGrads through model.apply with
 * training on) and against finite differences of the native forward pass, and batch normalization's
 * moving statistics after several training forward passes against tfjs-layers'.
 *
 * Tolerances: the native sums run in another order than TF.js' kernels (float64 accumulators in the
 * depthwise kernel gradient and batch norm, OpenBLAS blocking in the convolutions), and batch norm's
 * gradient through its statistics is taken in closed form where TF.js differentiates mean, square and
 * batchNorm op by op: agreement within float32 rounding of sums over a batch, 1e-4 of the model's
 * largest gradient. Finite differences: within 2% (the better of h = 1e-3 and 2e-4, the median of three random directions, float32 forward passes).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { useBackend } from '../testing/setup.js';
import { mobilenet, resnet } from '../testing/graph-models.js';
import { nativeSkip, requireNative } from '../testing/native.js';
import { crossEntropySum, inputs, labelsOf } from '../testing/native-fixtures.js';
import { layerCases, wrap } from '../testing/native-layer-cases.js';
import { Rng } from '../util/rng.js';
import { crossEntropyGradient, nativeNetworkPlan, type NativeNetwork } from './native-network.js';


/** The native weight gradients of Σ CE on training-mode logits, by variable. */
function nativeGrads(net: NativeNetwork, x: Float32Array, y: Int32Array, n: number): Map<tf.LayerVariable, Float32Array> {
  net.load();
  const z = net.trainLogits(x, n);
  const dz = new Float32Array(n * net.classes);
  crossEntropyGradient(z, y, n, net.classes, dz);
  return net.weightGradients(dz, n);
}

/** TF.js' weight gradients of the same loss (training mode: batch statistics, moving averages updated). */
function tfGrads(model: tf.LayersModel, x: Float32Array, y: Int32Array, shape: number[]): Float32Array[] {
  return tf.tidy(() => {
    const xs = tf.tensor(x, shape);
    const labels = tf.oneHot(tf.tensor1d(y, 'int32'), model.outputs[0]?.shape[1] as number);
    const vars = model.trainableWeights.map((w) => w.read() as tf.Variable);
    const { grads } = tf.variableGrads(() => {
      const z = model.apply(xs, { training: true }) as tf.Tensor2D;
      return tf.sum(tf.neg(tf.sum(tf.mul(tf.logSoftmax(z), labels), -1))) as tf.Scalar;
    }, vars);
    return vars.map((v) => Float32Array.from((grads[v.name] as tf.Tensor).dataSync() as Float32Array));
  });
}

function maxDiff(a: Float32Array, b: Float32Array): { diff: number; scale: number } {
  let diff = 0, scale = 0;
  for (let i = 0; i < a.length; i++) {
    diff = Math.max(diff, Math.abs((a[i] as number) - (b[i] as number)));
    scale = Math.max(scale, Math.abs(b[i] as number));
  }
  return { diff, scale };
}

/**
 * Along random directions v of one weight: (L(w + hv) − L(w − hv)) / 2h against g·v, relative to Σ|g·v|;
 * the median of three directions (a ReLU kink crossed by one of them does not decide).
 */
function weightFiniteDifference(net: NativeNetwork, w: tf.LayerVariable, g: Float32Array, x: Float32Array, y: Int32Array, n: number, seed: number): number {
  const base = Float32Array.from(w.read().dataSync() as Float32Array);
  const rng = new Rng(seed);
  const set = (values: Float32Array): void => {
    const t = tf.tensor(values, w.shape as number[]);
    w.write(t);
    t.dispose();
    net.load();
  };
  const errors: number[] = [];
  for (let d = 0; d < 3; d++) {
    const v = Float32Array.from(base, () => rng.next() * 2 - 1);
    const at = (step: number): number => {
      set(Float32Array.from(base, (b, i) => b + step * (v[i] as number)));
      return crossEntropySum(net.trainLogits(x, n), y, net.classes);
    };
    // Two step sizes, the better kept: a large step crosses ReLU kinks, a small one meets float32 rounding.
    const fds = [1e-3, 2e-4].map((h) => (at(h) - at(-h)) / (2 * h));
    let gv = 0, gabs = 0;
    for (let i = 0; i < g.length; i++) {
      gv += (g[i] as number) * (v[i] as number);
      gabs += Math.abs((g[i] as number) * (v[i] as number));
    }
    errors.push(Math.min(...fds.map((fd) => Math.abs(fd - gv))) / Math.max(gabs, 1e-2));
  }
  set(base);
  return errors.sort((p, q) => p - q)[1] as number;
}

/** Checks one model pair (same weights): gradients against TF.js', moving statistics, finite differences. */
function checkModel(name: string, a: tf.LayersModel, b: tf.LayersModel, shape: [number, number, number], n: number, K: number, seed: number, fd: boolean): string {
  const plan = nativeNetworkPlan(a);
  assert.ok(plan.net !== null, `${name}: runs natively (${plan.reason})`);
  const net = plan.net;
  assert.equal(net.trainingRefusal, null, `${name}: trains natively`);
  const size = shape[0] * shape[1] * shape[2];
  const x = inputs(n, size, seed);
  const y = labelsOf(n, K, seed + 1);
  const mine = nativeGrads(net, x, y, n);
  const theirs = tfGrads(b, x, y, [n, ...shape]);
  // Relative to the model's largest gradient: a weight whose gradient is zero in exact arithmetic (a conv
  // bias before batch norm, which subtracts the batch mean) has only rounding noise on either side.
  const scale = Math.max(...theirs.map((t) => maxDiff(t, t).scale));
  assert.ok(scale > 0, `${name}: a non-zero gradient`);
  let worst = 0;
  a.trainableWeights.forEach((w, i) => {
    const g = mine.get(w);
    assert.ok(g !== undefined, `${name}: a gradient for ${w.originalName}`);
    const { diff } = maxDiff(g, theirs[i] as Float32Array);
    assert.ok(diff <= 1e-4 * scale, `${name}: ${w.originalName}'s gradient differs from TF.js' by ${diff} (max |g| in the model ${scale})`);
    worst = Math.max(worst, diff / scale);
  });
  // Both passes updated the moving statistics once (the native one in its training forward pass).
  a.nonTrainableWeights.forEach((w, i) => {
    const { diff, scale } = maxDiff(w.read().dataSync() as Float32Array, b.nonTrainableWeights[i]?.read().dataSync() as Float32Array);
    assert.ok(diff <= 1e-6 * Math.max(scale, 1), `${name}: ${w.originalName} after a training pass differs from TF.js' by ${diff}`);
  });
  let fdWorst = 0;
  if (fd) {
    a.trainableWeights.forEach((w, i) => {
      const r = weightFiniteDifference(net, w, mine.get(w) as Float32Array, x, y, n, seed + 10 + i);
      assert.ok(r <= 2e-2, `${name}: finite differences disagree with ${w.originalName}'s gradient by ${r} (relative)`);
      fdWorst = Math.max(fdWorst, r);
    });
  }
  return `${name}: weight gradients within ${worst.toExponential(1)} of TF.js' (relative to the largest)${fd ? `, FD ${fdWorst.toExponential(1)}` : ''}`;
}

test('native training, per layer: weight gradients as TF.js and finite differences give them; moving statistics as tfjs-layers', { skip: nativeSkip() }, async () => {
  await useBackend();
  requireNative();
  const report: string[] = [];
  for (const [k, [name, shape, body]] of layerCases().entries()) {
    // TF.js 4.22 cannot differentiate a dilated Conv2D: covered by the model tests' finite differences below.
    if (/Conv2D dilation/.test(name)) continue;
    const a = wrap(shape, body, 100 + k), b = wrap(shape, body, 100 + k);
    const net = nativeNetworkPlan(a).net;
    assert.ok(net !== null, `${name}: runs natively`);
    if (/Dropout/.test(name)) {
      // Dropout's training noise is TF.js' generator's: the weight step stays on TF.js, and says why.
      assert.match(net.trainingRefusal ?? '', /Dropout layer '.*': its training noise is drawn by TF\.js/, `${name}: refuses training with a reason`);
      continue;
    }
    report.push(checkModel(name, a, b, shape, 6, 5, 500 + k, true));
    a.dispose();
    b.dispose();
  }
  if (process.env['ALP_NATIVE_REPORT'] === '1') console.log(report.join('\n'));
});

test('native training, dilated convolutions: weight gradients agree with finite differences', { skip: nativeSkip() }, async () => {
  await useBackend();
  requireNative();
  for (const [k, [name, shape, body]] of layerCases().entries()) {
    if (!/dilation/.test(name)) continue;
    const a = wrap(shape, body, 100 + k);
    const net = nativeNetworkPlan(a).net as NativeNetwork;
    const n = 4;
    const x = inputs(n, shape[0] * shape[1] * shape[2], 600 + k);
    const y = labelsOf(n, 5, 601 + k);
    const g = nativeGrads(net, x, y, n);
    a.trainableWeights.forEach((w, i) => {
      const r = weightFiniteDifference(net, w, g.get(w) as Float32Array, x, y, n, 700 + i);
      assert.ok(r <= 2e-2, `${name}: finite differences disagree with ${w.originalName}'s gradient by ${r}`);
    });
    a.dispose();
  }
});

test('native training, per model: ResNet and MobileNet weight gradients as TF.js\'; moving statistics after 3 passes as tfjs-layers\'', { skip: nativeSkip() }, async () => {
  await useBackend();
  requireNative();
  const make = (): Array<[string, tf.LayersModel, [number, number, number]]> => [
    ['resnet (1 block per stage, 16×16×3)', resnet({ inputShape: [16, 16, 3], numClasses: 10, seed: 1, blocks: 1, widths: [8, 16, 32] }), [16, 16, 3]],
    ['mobilenet (16×16×3)', mobilenet({ inputShape: [16, 16, 3], numClasses: 10, seed: 3, stem: 8, blocks: [[16, 1], [32, 2], [32, 1]] }), [16, 16, 3]],
  ];
  const as = make(), bs = make();
  const report: string[] = [];
  as.forEach(([name, a, shape], m) => {
    const b = (bs[m] as [string, tf.LayersModel, number[]])[1];
    // Two earlier training passes on other batches move the statistics first; the third is checked.
    for (let p = 0; p < 2; p++) {
      const x = inputs(8, shape[0] * shape[1] * shape[2], 40 + p);
      (nativeNetworkPlan(a).net as NativeNetwork).load();
      (nativeNetworkPlan(a).net as NativeNetwork).trainLogits(x, 8);
      tf.tidy(() => { b.apply(tf.tensor(x, [8, ...shape]), { training: true }); });
    }
    report.push(checkModel(name, a, b, shape, 8, 10, 900 + m, m === 0));
    a.dispose();
    b.dispose();
  });
  if (process.env['ALP_NATIVE_REPORT'] === '1') console.log(report.join('\n'));
});

test('native network: a batch of another size in between changes nothing (its buffers are reused, not reallocated)', { skip: nativeSkip() }, async () => {
  await useBackend();
  requireNative();
  const model = resnet({ inputShape: [8, 8, 3], numClasses: 10, seed: 5, blocks: 1, widths: [4, 8, 8] });
  const net = nativeNetworkPlan(model).net as NativeNetwork;
  const size = 8 * 8 * 3;
  const big = inputs(8, size, 61), small = big.slice(0, 4 * size);
  const y = Int32Array.from({ length: 8 }, (_, i) => i % 10);
  const same = (a: Float32Array, b: Float32Array, what: string): void => {
    assert.equal(a.length, b.length, what);
    for (let i = 0; i < a.length; i++) assert.ok(Object.is(a[i], b[i]), `${what}: value ${i} differs (${a[i]} vs ${b[i]})`);
  };
  // Inference (a PGD step's input gradient): 4 examples, then 8, then the same 4 again.
  net.load();
  const first = Float32Array.from(net.inputGradient(small, y.subarray(0, 4), 4));
  const eight = Float32Array.from(net.inputGradient(big, y, 8));
  same(Float32Array.from(net.inputGradient(small, y.subarray(0, 4), 4)), first, 'input gradient after a larger batch');
  same(Float32Array.from(net.inputGradient(big, y, 8)), eight, 'input gradient after a smaller batch');
  // Training (the weight step on [x; x'] alternates with the attack's batch): weight gradients by batch statistics.
  const flat = (m: Map<tf.LayerVariable, Float32Array>): Float32Array => Float32Array.from(model.trainableWeights.flatMap((w) => [...(m.get(w) ?? [])]));
  const trainSmall = flat(nativeGrads(net, small, y.subarray(0, 4), 4));
  const trainBig = flat(nativeGrads(net, big, y, 8));
  same(flat(nativeGrads(net, small, y.subarray(0, 4), 4)), trainSmall, 'weight gradients after a larger batch');
  same(flat(nativeGrads(net, big, y, 8)), trainBig, 'weight gradients after a smaller batch');
  model.dispose();
});
