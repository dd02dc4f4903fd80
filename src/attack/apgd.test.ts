import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { tensorsOf, toyDataset, useBackend, trainedToyModel } from '../testing/setup.js';
import { logitsOf } from '../model/classifier.js';
import { buildSuite, ATTACK_NAMES, type AttackName } from '../eval/suite.js';
import { evaluateRobustness } from '../eval/evaluate.js';
import { Apgd, apgdCheckpointFractions, apgdCheckpoints } from './apgd.js';
import { dlr, dlrTargeted } from './dlr.js';
import { Pgd } from './pgd.js';
import { Square } from './square.js';

const ds = toyDataset(256, 3);
async function trained(): Promise<tf.LayersModel> {
  return (await trainedToyModel(2)).model;
}

function robustCount(success: Uint8Array): number {
  return success.reduce((a, b) => a + (1 - b), 0);
}

test('checkpoints follow p0 = 0, p1 = 0.22, p_{j+1} = p_j + max(p_j − p_{j−1} − 0.03, 0.06)', () => {
  const p = apgdCheckpointFractions();
  const expected = [0, 0.22, 0.41, 0.57, 0.7, 0.8, 0.87, 0.93, 0.99];
  assert.equal(p.length, expected.length);
  p.forEach((v, j) => assert.ok(Math.abs(v - (expected[j] as number)) < 1e-9, `p_${j} = ${v}`));
  for (let j = 1; j + 1 < p.length; j++) {
    const step = Math.max((p[j] as number) - (p[j - 1] as number) - 0.03, 0.06);
    assert.ok(Math.abs((p[j + 1] as number) - (p[j] as number) - step) < 1e-9);
  }
  assert.deepEqual(apgdCheckpoints(100), [0, 22, 41, 57, 70, 80, 87, 93, 99]);
  // ⌈p_j·N⌉, duplicates merged: 0, ⌈2.2⌉, ⌈4.1⌉, ⌈5.7⌉, 7, 8, ⌈8.7⌉, ⌈9.3⌉, ⌈9.9⌉.
  assert.deepEqual(apgdCheckpoints(10), [0, 3, 5, 6, 7, 8, 9, 10]);
  assert.deepEqual(apgdCheckpoints(1), [0, 1]);
});

test('the step size starts at 2ε and is only ever halved, and only at checkpoints', async () => {
  const m = await trained();
  const { x, y } = tensorsOf(toyDataset(32, 12));
  const eps = 0.2;
  const steps = 20;
  const checkpoints = new Set(apgdCheckpoints(steps));
  const trace: [number, Float32Array][] = [];
  const r = new Apgd({ threat: { norm: 'linf', eps }, steps, seed: 1, onStep: (k, eta) => trace.push([k, eta]) }).run(logitsOf(m), x, y);
  assert.equal(trace.length, steps - 1, 'one report per update but the last (nothing is fooled at this ε)');
  let prev: Float32Array = new Float32Array(32).fill(2 * eps);
  let halvings = 0;
  for (const [k, eta] of trace) {
    eta.forEach((v, i) => {
      const before = prev[i] as number;
      if (v === before) return;
      assert.ok(checkpoints.has(k), `step size of example ${i} changed at ${k}, not a checkpoint`);
      assert.ok(Math.abs(v - before / 2) < 1e-9, `example ${i}: ${before} → ${v} is not a halving`);
      halvings++;
    });
    prev = eta;
  }
  assert.ok(halvings > 0, 'some step size should have been halved');
  tf.dispose([x, y, r.adversarial]);
});

test('DLR losses match a hand-computed example, are shift/scale invariant and differentiable', async () => {
  await useBackend();
  // Sorted logits: 4 (class 1), 3 (class 3), 2 (class 2), 1 (class 0).
  const z = tf.tensor2d([[1, 4, 2, 3], [1, 4, 2, 3]]);
  const y = tf.tensor1d([0, 1], 'int32');
  const v = dlr(z, y).arraySync();
  assert.ok(Math.abs((v[0] as number) - 1.5) < 1e-6, `y=0: −(1−4)/(4−2) = 1.5, got ${v[0]}`);
  assert.ok(Math.abs((v[1] as number) + 0.5) < 1e-6, `y=1: −(4−3)/(4−2) = −0.5, got ${v[1]}`);
  const t = tf.tensor1d([3, 3], 'int32');
  const vt = dlrTargeted(z, y, t).arraySync();
  assert.ok(Math.abs((vt[0] as number) - 0.8) < 1e-6, `y=0,t=3: −(1−3)/(4−(2+1)/2) = 0.8, got ${vt[0]}`);
  assert.ok(Math.abs((vt[1] as number) + 0.4) < 1e-6, `y=1,t=3: −(4−3)/(4−1.5) = −0.4, got ${vt[1]}`);
  const zs = tf.tidy(() => tf.add(tf.mul(z, 3), 7) as tf.Tensor2D);
  const vs = dlr(zs, y).arraySync();
  v.forEach((a, i) => assert.ok(Math.abs(a - (vs[i] as number)) < 1e-5));
  // Gradient of f = (z1 − z0)/(z1 − z2) for y = 0: (−0.5, −0.25, 0.75, 0).
  const one = tf.tensor2d([[1, 4, 2, 3]]);
  const y0 = tf.tensor1d([0], 'int32');
  const g = tf.grad((zz: tf.Tensor) => tf.sum(dlr(zz as tf.Tensor2D, y0)))(one).arraySync() as number[][];
  [-0.5, -0.25, 0.75, 0].forEach((e, j) => assert.ok(Math.abs((g[0]?.[j] as number) - e) < 1e-5, `∂/∂z${j} = ${g[0]?.[j]}, expected ${e}`));
  tf.tidy(() => {
    assert.throws(() => dlrTargeted(tf.tensor2d([[1, 2, 3]]), tf.tensor1d([0], 'int32'), tf.tensor1d([1], 'int32')), /at least 4 classes/);
    assert.throws(() => dlr(tf.tensor2d([[1, 2]]), tf.tensor1d([0], 'int32')), /at least 3 classes/);
  });
  tf.dispose([z, y, t, zs, one, y0]);
});

for (const [norm, eps] of [['linf', 0.3], ['l2', 1.0]] as const) {
  test(`${norm}: APGD's robust accuracy ≤ PGD's with the same budget (within 1 example)`, async () => {
    const m = await trained();
    const f = logitsOf(m);
    const { x, y } = tensorsOf(ds);
    const budget = { threat: { norm, eps }, steps: 10, restarts: 1, seed: 1 };
    const pgd = new Pgd({ ...budget, loss: 'ce' }).run(f, x, y);
    const apgd = new Apgd({ ...budget, loss: 'ce' }).run(f, x, y);
    const rp = robustCount(pgd.success), ra = robustCount(apgd.success);
    assert.ok(ra <= rp + 1, `APGD-CE ${ra} robust vs PGD-CE ${rp}`);
    assert.ok(rp > 0 && rp < ds.count, `ε should leave PGD partly successful (${rp})`);
    tf.dispose([x, y, pgd.adversarial, apgd.adversarial]);
  });
}

test('APGD-T over the top-k wrong classes beats the untargeted DLR run; more targets never hurt', async () => {
  const m = await trained();
  const f = logitsOf(m);
  const { x, y } = tensorsOf(ds);
  const threat = { norm: 'linf' as const, eps: 0.3 };
  const untargeted = new Apgd({ threat, steps: 10, loss: 'dlr', seed: 1 }).run(f, x, y);
  const t1 = new Apgd({ threat, steps: 10, loss: 'dlr-targeted', targetClasses: 1, seed: 1 }).run(f, x, y);
  const t9 = new Apgd({ threat, steps: 10, loss: 'dlr-targeted', seed: 1 }).run(f, x, y);
  const [ru, r1, r9] = [untargeted, t1, t9].map((r) => robustCount(r.success)) as [number, number, number];
  assert.ok(r9 <= r1, `9 targets (capped at 3) ${r9} vs 1 target ${r1}`);
  assert.ok(r9 <= ru + 1, `APGD-T ${r9} vs APGD-DLR ${ru}`);
  tf.dispose([x, y, untargeted.adversarial, t1.adversarial, t9.adversarial]);
});

test('an already misclassified clean input counts as its own adversarial example', async () => {
  const m = await trained();
  const f = logitsOf(m);
  const small = toyDataset(8, 7);
  const { x } = tensorsOf(small);
  // Wrong labels: every clean prediction is already a success, and the input is returned untouched.
  const wrong = tf.tensor1d(Array.from(small.labels, (l) => (l + 1) % 4), 'int32');
  const r = new Apgd({ threat: { norm: 'linf', eps: 0.1 }, steps: 5, seed: 1 }).run(f, x, wrong);
  assert.ok(r.success.every((s) => s === 1));
  assert.deepEqual(Array.from(r.adversarial.dataSync()), Array.from(x.dataSync()));
  tf.dispose([x, wrong, r.adversarial]);
});

test('the suite builds the new attack names and keeps the old ones', () => {
  for (const name of ['fgsm', 'pgd-ce', 'pgd-cw', 'apgd-ce', 'apgd-dlr', 'square']) assert.ok((ATTACK_NAMES as readonly string[]).includes(name), name);
  const suite = buildSuite({ threat: { norm: 'linf', eps: 0.3 }, attacks: ['fgsm', 'pgd-ce', 'pgd-cw', 'apgd-ce', 'apgd-dlr', 'square'], steps: 20, restarts: 1, seed: 0 });
  assert.deepEqual(suite.map((a) => a.describe()['attack']), ['fgsm', 'pgd', 'pgd', 'apgd', 'apgd', 'square']);
  const [, , , ce, t, sq] = suite;
  assert.ok(ce instanceof Apgd && ce.loss === 'ce' && ce.steps === 20);
  assert.ok(t instanceof Apgd && t.loss === 'dlr-targeted' && t.targetClasses === 9);
  assert.ok(sq instanceof Square && sq.queries === 1000);
  assert.throws(() => buildSuite({ threat: { norm: 'linf', eps: 0.3 }, attacks: ['autoattack' as AttackName], steps: 1, restarts: 1, seed: 0 }), /expected names from .*apgd-dlr/);
  assert.throws(() => new Apgd({ threat: { norm: 'linf', eps: 0.3 }, steps: 0 }), /APGD steps/);
});

test('the new suite attacks pass the evaluator\'s independent ball, box and prediction checks', async () => {
  const m = await trained();
  const small = toyDataset(32, 13);
  const suite = buildSuite({ threat: { norm: 'linf', eps: 0.3 }, attacks: ['pgd-ce', 'apgd-ce', 'apgd-dlr', 'square'], steps: 10, restarts: 1, seed: 0 });
  const r = await evaluateRobustness(m, small, suite);
  assert.equal(r.attacks.length, 4);
  for (const a of r.attacks) {
    assert.ok(a.maxPerturbation <= 0.3 * (1 + 1e-5), `${a.name}: ${a.maxPerturbation}`);
    // An attack that did nothing would leave robust = clean; each of these fools most of the toy model.
    assert.ok(a.robustAccuracy < r.cleanAccuracy - 0.3, `${a.name}: clean ${r.cleanAccuracy}, robust ${a.robustAccuracy}`);
  }
  // APGD-T (targeted DLR) is the strongest of these on a 4-class problem, where maximising CE can
  // spread probability over the wrong classes without crossing the decision boundary.
  const pgd = r.attacks[0]?.robustAccuracy as number;
  const apgdT = r.attacks[2]?.robustAccuracy as number;
  assert.ok(apgdT <= pgd + 1 / small.count, `APGD-T ${apgdT} vs PGD ${pgd}`);
});
