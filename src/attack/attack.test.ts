import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { tensorsOf, toyDataset, useBackend, trainedToyModel } from '../testing/setup.js';
import { logitsOf } from '../model/classifier.js';
import { crossEntropy } from '../loss/cross-entropy.js';
import { Fgsm } from './fgsm.js';
import { Pgd } from './pgd.js';
import { gradientAscent } from './gradient-attack.js';
import { L2, LINF, validateThreatModel } from './threat-model.js';

const ds = toyDataset(256, 3);
async function trained(): Promise<tf.LayersModel> {
  return (await trainedToyModel(2)).model;
}

test('the tiny model is trained (attacks are tested against something that works)', async () => {
  const m = await trained();
  const { x, y } = tensorsOf(ds);
  const acc = tf.tidy(() => tf.mean(tf.equal(logitsOf(m)(x).argMax(-1), y).toFloat()).dataSync()[0] as number);
  assert.ok(acc > 0.95, `accuracy ${acc}`);
  tf.dispose([x, y]);
});

test('random starts are inside the ball; L2 projection shrinks only what is outside', async () => {
  await useBackend();
  const d = L2.randomStart([8, 4, 4, 1], 0.5, 1);
  const s = L2.size(d).arraySync();
  assert.ok(Math.max(...s) <= 0.5 + 1e-6);
  const big = tf.fill([2, 3], 2);
  const p = L2.size(L2.project(big, 1)).arraySync();
  assert.ok(Math.abs((p[0] as number) - 1) < 1e-5);
  const small = tf.fill([1, 3], 0.01);
  assert.deepEqual(L2.project(small, 1).arraySync(), small.arraySync());
  const u = LINF.randomStart([4, 10], 0.1, 2).arraySync() as number[][];
  assert.ok(u.flat().every((v) => Math.abs(v) <= 0.1));
  tf.dispose([d, big, small]);
});

test('loss after PGD ≥ after FGSM ≥ clean loss on a trained model', async () => {
  const m = await trained();
  const f = logitsOf(m);
  const { x, y } = tensorsOf(ds);
  const threat = { norm: 'linf' as const, eps: 0.15 };
  const fg = new Fgsm({ threat }).run(f, x, y);
  const pgd = gradientAscent(f, x, y, { threat, steps: 20, stepSize: 0.02, randomStart: false, loss: 'ce', targeted: false, seed: 1 });
  const [lc, lf, lp] = [x, fg.adversarial, pgd].map((t) => tf.tidy(() => crossEntropy(f(t), y).arraySync()));
  assert.ok((lf as number) > (lc as number), `fgsm ${lf} vs clean ${lc}`);
  assert.ok((lp as number) >= (lf as number), `pgd ${lp} vs fgsm ${lf}`);
  tf.dispose([x, y, fg.adversarial, pgd]);
});

test('repeated attack steps do not leak tensors', async () => {
  const m = await trained();
  const f = logitsOf(m);
  const { x, y } = tensorsOf(toyDataset(32, 9));
  const pgd = new Pgd({ threat: { norm: 'l2', eps: 1 }, steps: 5, restarts: 3, loss: 'cw', seed: 1 });
  pgd.run(f, x, y).adversarial.dispose();
  const before = tf.memory().numTensors;
  for (let i = 0; i < 20; i++) pgd.run(f, x, y).adversarial.dispose();
  for (let i = 0; i < 20; i++) gradientAscent(f, x, y, { threat: { norm: 'linf', eps: 0.1 }, steps: 5, stepSize: 0.03, randomStart: true, loss: 'ce', targeted: false, seed: i }).dispose();
  assert.equal(tf.memory().numTensors, before);
  tf.dispose([x, y]);
});

test('threat models outside the input box are rejected with a clear message', () => {
  assert.throws(() => validateThreatModel({ norm: 'linf', eps: 1.5 }, 784), / eps: 1.5 is outside the \[0,1\] input box/);
  assert.throws(() => validateThreatModel({ norm: 'linf', eps: -0.1 }, 784), /expected a finite number ≥ 0/);
  assert.throws(() => validateThreatModel({ norm: 'l2', eps: 40 }, 784), /outside the \[0,1\] input box for l2/);
  assert.doesNotThrow(() => validateThreatModel({ norm: 'l2', eps: 2 }, 784));
});

test('NaN or out-of-box inputs are refused before attacking', async () => {
  const m = await trained();
  const f = logitsOf(m);
  const pgd = new Pgd({ threat: { norm: 'linf', eps: 0.1 }, steps: 2 });
  const y = tf.tensor1d([0, 1], 'int32');
  const bad = tf.tensor4d([...new Array(36).fill(0.5), NaN, ...new Array(35).fill(0.5)], [2, 6, 6, 1]);
  assert.throws(() => pgd.run(f, bad, y), /attack input: input value at flat index 36 is NaN/);
  const big = tf.fill([2, 6, 6, 1], 255);
  assert.throws(() => pgd.run(f, big, y), /inputs must be scaled to \[0,1\]/);
  tf.dispose([y, bad, big]);
});

test('attacks are backend-agnostic: cpu and wasm give the same PGD iterates', async () => {
  const m = await trained();
  const run = async (backend: string): Promise<Float32Array> => {
    await tf.setBackend(backend);
    const { x, y } = tensorsOf(toyDataset(16, 21));
    const adv = gradientAscent(logitsOf(m), x, y, { threat: { norm: 'l2', eps: 1 }, steps: 5, stepSize: 0.3, randomStart: false, loss: 'cw', targeted: false, seed: 1 });
    const out = adv.dataSync() as Float32Array;
    tf.dispose([x, y, adv]);
    return out;
  };
  const a = await run('cpu');
  const b = await run('wasm');
  await tf.setBackend('wasm');
  let maxDiff = 0;
  for (let i = 0; i < a.length; i++) maxDiff = Math.max(maxDiff, Math.abs((a[i] as number) - (b[i] as number)));
  assert.ok(maxDiff < 1e-4, `cpu vs wasm differ by ${maxDiff}`);
});

test('a threat model with another box, or none (embeddings), is honoured by PGD, APGD and Square', async () => {
  const m = await trained();
  const { x, y } = tensorsOf(ds);
  const f = logitsOf(m);
  // Inputs near the top of [0,1]: the unit box would clip upward moves; a wider box or none must not.
  const xHigh = tf.tidy(() => tf.add(tf.mul(x, 0.2), 0.9));
  const { Apgd } = await import('./apgd.js');
  const { Square } = await import('./square.js');
  for (const bounds of [null, [-2, 3] as const]) {
    const threat = { norm: 'linf' as const, eps: 0.4, bounds };
    for (const attack of [new Pgd({ threat, steps: 5, seed: 1 }), new Apgd({ threat, steps: 10, seed: 1 }), new Square({ threat, queries: 50, seed: 1 })]) {
      const r = attack.run(f, xHigh, y);
      const hi = tf.max(r.adversarial).dataSync()[0] as number;
      const size = tf.max(tf.abs(tf.sub(r.adversarial, xHigh))).dataSync()[0] as number;
      assert.ok(size <= 0.4 + 1e-5, `${attack.name}: ‖δ‖∞ ${size}`);
      assert.ok(hi > 1.01, `${attack.name} with bounds ${JSON.stringify(bounds)}: max ${hi} was clipped to the unit box`);
      tf.dispose(r.adversarial);
    }
  }
  // The default is still [0,1]: these inputs are refused, and in-box ones stay in the box.
  assert.throws(() => new Pgd({ threat: { norm: 'linf', eps: 0.4 }, steps: 5, seed: 1 }).run(f, xHigh, y), /inputs must be scaled to \[0,1\]/);
  const r = new Pgd({ threat: { norm: 'linf', eps: 0.4 }, steps: 5, seed: 1 }).run(f, x, y);
  assert.ok((tf.max(r.adversarial).dataSync()[0] as number) <= 1 + 1e-7);
  // No box: validation accepts any radius.
  assert.doesNotThrow(() => validateThreatModel({ norm: 'linf', eps: 5, bounds: null }, 36));
  assert.throws(() => validateThreatModel({ norm: 'linf', eps: 5 }, 36), /outside the \[0,1\] input box/);
  tf.dispose([x, y, xHigh, r.adversarial]);
});
