import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { tensorsOf, toyDataset, toyModelOnce } from '../testing/setup.js';
import { logitsOf } from '../model/classifier.js';
import { Apgd } from './apgd.js';
import { Pgd } from './pgd.js';
import { Transfer } from './transfer.js';
import { LINF } from './threat-model.js';

const ds = toyDataset(256, 3);
const targetOnce = toyModelOnce({ seed: 2, train: ds, steps: 150 });
const surrogateOnce = toyModelOnce({ seed: 7, train: toyDataset(256, 11), steps: 150 });

/** The target and an independently trained surrogate (other initialisation, other training data). */
async function models(): Promise<{ target: tf.LayersModel; surrogate: tf.LayersModel }> {
  return { target: await targetOnce(), surrogate: await surrogateOnce() };
}

test('adversarial examples crafted on an independent surrogate fool the target on many examples', async () => {
  const m = await models();
  const f = logitsOf(m.target);
  const { x, y } = tensorsOf(ds);
  const eps = 0.4;
  const attack = new Transfer({ threat: { norm: 'linf', eps }, surrogate: m.surrogate, seed: 1 });
  const r = attack.run(f, x, y);
  const fooled = r.success.reduce((a, b) => a + b, 0);
  assert.ok(fooled > 0.4 * ds.count, `only ${fooled}/${ds.count} transferred`);
  // Judged on the target by a fresh forward pass; inside the ball and the box.
  const pred = tf.tidy(() => f(r.adversarial).argMax(-1).arraySync() as number[]);
  pred.forEach((p, i) => assert.equal(r.success[i] === 1, p !== ds.labels[i], `example ${i}`));
  const sizes = tf.tidy(() => LINF.size(tf.sub(r.adversarial, x)).arraySync());
  assert.ok(Math.max(...sizes) <= eps * (1 + 1e-5));
  assert.ok((tf.min(r.adversarial).dataSync()[0] as number) >= 0 && (tf.max(r.adversarial).dataSync()[0] as number) <= 1);
  // Stopping at the surrogate's decision boundary transfers worse than running all steps.
  const early = new Transfer({ threat: { norm: 'linf', eps }, surrogate: m.surrogate, seed: 1, untilFooled: true }).run(f, x, y);
  assert.ok(early.success.reduce((a, b) => a + b, 0) <= fooled);
  assert.equal(attack.describe()['attack'], 'transfer');
  tf.dispose([x, y, r.adversarial, early.adversarial]);
});

test('a transfer attack with targets counts hits of the target on the target model', async () => {
  const m = await models();
  const f = logitsOf(m.target);
  const small = toyDataset(64, 5);
  const { x, y } = tensorsOf(small);
  const t = tf.fill([small.count], 3, 'int32') as tf.Tensor1D;
  const r = new Transfer({ surrogate: m.surrogate, inner: new Pgd({ threat: { norm: 'linf', eps: 0.6 }, steps: 20, restarts: 2, seed: 2 }) }).run(f, x, y, t);
  const pred = tf.tidy(() => f(r.adversarial).argMax(-1).arraySync() as number[]);
  pred.forEach((p, i) => assert.equal(r.success[i] === 1, p === 3, `example ${i}`));
  assert.ok(r.success.reduce((a, b) => a + b, 0) > 0.5 * small.count);
  tf.dispose([x, y, t, r.adversarial]);
});

test('any attack can be the inner one; threat models must agree; clean mistakes count', async () => {
  const m = await models();
  const f = logitsOf(m.target);
  const small = toyDataset(16, 8);
  const { x, y } = tensorsOf(small);
  const inner = new Apgd({ threat: { norm: 'l2', eps: 1.5 }, steps: 10, seed: 1 });
  const r = new Transfer({ surrogate: logitsOf(m.surrogate), inner }).run(f, x, y);
  const pred = tf.tidy(() => f(r.adversarial).argMax(-1).arraySync() as number[]);
  pred.forEach((p, i) => assert.equal(r.success[i] === 1, p !== small.labels[i]));
  assert.throws(() => new Transfer({ surrogate: m.surrogate, inner, threat: { norm: 'linf', eps: 0.3 } }), /threat model/);
  assert.throws(() => new Transfer({ surrogate: m.surrogate }), /give a threat model or an inner attack/);
  // Wrong labels: the target already "misclassifies" every clean input.
  const wrong = tf.tensor1d(Array.from(small.labels, (l) => (l + 1) % 4), 'int32');
  const w = new Transfer({ threat: { norm: 'linf', eps: 0.1 }, surrogate: m.surrogate }).run(f, x, wrong);
  assert.ok(w.success.every((s) => s === 1));
  tf.dispose([x, y, wrong, r.adversarial, w.adversarial]);
});

test('transfer attacks do not leak tensors', async () => {
  const m = await models();
  const f = logitsOf(m.target);
  const { x, y } = tensorsOf(toyDataset(32, 9));
  const attacks = [
    new Transfer({ threat: { norm: 'linf', eps: 0.3 }, surrogate: m.surrogate, inner: new Pgd({ threat: { norm: 'linf', eps: 0.3 }, steps: 5, restarts: 3, seed: 1 }) }),
    new Transfer({ threat: { norm: 'l2', eps: 1 }, surrogate: m.surrogate, untilFooled: true }),
  ];
  attacks.forEach((a) => a.run(f, x, y).adversarial.dispose());
  const before = tf.memory().numTensors;
  for (let i = 0; i < 5; i++) attacks.forEach((a) => a.run(f, x, y).adversarial.dispose());
  assert.equal(tf.memory().numTensors, before);
  tf.dispose([x, y]);
});
