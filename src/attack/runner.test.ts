import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { logitsOf, type LogitsFn } from '../model/classifier.js';
import { trainedToyModel, tensorsOf } from '../testing/setup.js';
import { UserError } from '../util/errors.js';
import type { Attack } from './attack.js';
import { Apgd } from './apgd.js';
import { Fgsm } from './fgsm.js';
import type { AttackResult } from './gradient-attack.js';
import { Pgd } from './pgd.js';
import { allOf, misclassified, targetHit, undetected, type Criterion } from './criteria.js';
import { attackRows, runAttack, type BatchOutcome } from './runner.js';
import { Square } from './square.js';
import { LINF, type ThreatModel } from './threat-model.js';
import { Transfer } from './transfer.js';

const threat: ThreatModel = { norm: 'linf', eps: 0.1 };

/** A buggy attack: jumps far outside the ball and the box and claims success everywhere. */
class Liar implements Attack {
  readonly name = 'liar';
  readonly threat = threat;
  run(_f: LogitsFn, x: tf.Tensor, labels: tf.Tensor1D): AttackResult {
    return { adversarial: tf.tidy(() => tf.add(x, tf.mul(tf.sign(tf.sub(0.5, x)), 2))), success: new Uint8Array(labels.shape[0]).fill(1) };
  }
  describe(): Record<string, unknown> {
    return { attack: 'liar' };
  }
}

async function batch(n: number): Promise<{ f: LogitsFn; x: tf.Tensor4D; y: tf.Tensor1D }> {
  const { model, ds } = await trainedToyModel(2);
  const sub = { ...ds, count: n, images: ds.images.subarray(0, n * 36), labels: ds.labels.subarray(0, n) };
  return { f: logitsOf(model), ...tensorsOf(sub) };
}

test('the runner clips an attack that leaves the ball and the box, and trusts only a fresh forward pass', async () => {
  const { f, x, y } = await batch(32);
  const r = runAttack(new Liar(), f, x, y);
  const size = tf.tidy(() => LINF.size(tf.sub(r.adversarial, x)).dataSync() as Float32Array);
  for (const s of size) assert.ok(s <= threat.eps + 1e-6, `‖δ‖∞ = ${s}`);
  const [lo, hi] = tf.tidy(() => [tf.min(r.adversarial).dataSync()[0] as number, tf.max(r.adversarial).dataSync()[0] as number]);
  assert.ok(lo >= 0 && hi <= 1, `[${lo}, ${hi}]`);
  const pred = tf.tidy(() => f(r.adversarial).argMax(-1).dataSync() as Int32Array);
  const labels = y.dataSync() as Int32Array;
  assert.deepEqual(Array.from(r.success), Array.from(pred, (p, i) => Number(p !== labels[i])));
  // The attack claimed every example; the clipped points do not fool a trained model on all of them.
  assert.ok(r.success.reduce((a, b) => a + b, 0) < 32);
  tf.dispose([x, y, r.adversarial]);
});

test('points already inside the threat model are returned bit for bit', async () => {
  const { f, x, y } = await batch(16);
  const pgd = new Pgd({ threat, steps: 5, seed: 1 });
  const direct = pgd.run(f, x, y);
  const viaRunner = runAttack(pgd, f, x, y);
  assert.deepEqual(Array.from(viaRunner.adversarial.dataSync()), Array.from(direct.adversarial.dataSync()));
  tf.dispose([x, y, direct.adversarial, viaRunner.adversarial]);
});

test('criteria compose: misclassified and undetected needs both', async () => {
  const { f, x, y } = await batch(32);
  const pgd = new Pgd({ threat: { norm: 'linf', eps: 0.3 }, steps: 10, seed: 2 });
  const plain = runAttack(pgd, f, x, y, { criterion: misclassified });
  // A "detector" scoring each input by its mean pixel; the threshold splits the adversarial points.
  const score = (_f: LogitsFn, xa: tf.Tensor): Float32Array => tf.tidy(() => tf.mean(xa.reshape([xa.shape[0] as number, -1]), 1).dataSync() as Float32Array);
  const means = score(f, plain.adversarial);
  const tau = [...means].sort((p, q) => p - q)[16] as number;
  const both = runAttack(pgd, f, x, y, { criterion: allOf(misclassified, undetected(score, tau)) });
  const bothMeans = score(f, both.adversarial);
  for (let i = 0; i < 32; i++) {
    assert.equal(both.success[i], both.pred[i] !== y.dataSync()[i] && (bothMeans[i] as number) <= tau ? 1 : 0, `row ${i}: verified on the returned point`);
    // The search stops on a row only where both hold, so a row the plain search's point already satisfies is kept.
    if (plain.success[i] && (means[i] as number) <= tau) assert.equal(both.success[i], 1, `row ${i}`);
  }
  const nBoth = both.success.reduce((a, b) => a + b, 0);
  assert.ok(nBoth > 0 && nBoth < plain.success.reduce((a, b) => a + b, 0), `${nBoth} both`);
  assert.ok(plain.success.reduce((a, b) => a + b, 0) > 8, 'PGD at ε = 0.3 should fool many of the toy examples');
  // targetHit without targets is misclassification.
  assert.deepEqual(Array.from(runAttack(pgd, f, x, y, { criterion: targetHit }).success), Array.from(plain.success));
  tf.dispose([x, y, plain.adversarial, both.adversarial]);
});

test('the criterion drives the search: a row goes on until its point meets it, not only until it is misclassified', async () => {
  const { f, x, y } = await batch(48);
  const pgd = new Pgd({ threat: { norm: 'linf', eps: 0.3 }, steps: 10, restarts: 4, seed: 2 });
  // The attacker wants one particular wrong class per row (untargeted PGD does not aim for it).
  const nextClass: Criterion = ({ pred, labels }) => Uint8Array.from(pred, (p, i) => Number(p === ((labels[i] as number) + 1) % 4));
  const wanted = allOf(misclassified, nextClass);
  const labels = y.dataSync() as Int32Array;
  // Searching for misclassification and judging the criterion only afterwards (the runner's old way) ...
  const after = runAttack(pgd, f, x, y, { criterion: misclassified });
  const judgedAfter = after.pred.filter((p, i) => p === ((labels[i] as number) + 1) % 4).length;
  // ... finds fewer than searching for the criterion itself: runs go on for rows fooled into another class.
  const inside = runAttack(pgd, f, x, y, { criterion: wanted });
  const nInside = inside.success.reduce((a, b) => a + b, 0);
  inside.success.forEach((ok, i) => assert.equal(ok, Number(inside.pred[i] === ((labels[i] as number) + 1) % 4), `row ${i}`));
  assert.ok(nInside > judgedAfter, `criterion inside the search: ${nInside} rows; judged after a misclassification search: ${judgedAfter}`);
  tf.dispose([x, y, after.adversarial, inside.adversarial]);
});

test('attack constructors reject unknown options with the name of the option', () => {
  const cases: Array<[string, () => unknown]> = [
    ['restart', () => new Pgd({ threat, restart: 3 } as never)],
    ['los', () => new Fgsm({ threat, los: 'cw' } as never)],
    ['step', () => new Apgd({ threat, step: 10 } as never)],
    ['query', () => new Square({ threat, query: 10 } as never)],
    ['surogate', () => new Transfer({ threat, surrogate: (x: tf.Tensor) => x as tf.Tensor2D, surogate: 1 } as never)],
  ];
  for (const [key, make] of cases) {
    assert.throws(make, (e: unknown) => e instanceof UserError && e.message.includes(`'${key}'`), key);
  }
});

test('random starts are seeded per example: one batch, batches of 7 and a slice alone give the same per-example results', async () => {
  const { model, ds } = await trainedToyModel(2);
  const f = logitsOf(model);
  const n = 20, k = 9;
  const attacks: Attack[] = [
    new Pgd({ threat: { norm: 'linf', eps: 0.3 }, steps: 4, restarts: 2, seed: 3 }),
    new Pgd({ threat: { norm: 'l2', eps: 0.95 }, steps: 4, restarts: 2, seed: 3 }),
    new Apgd({ threat: { norm: 'linf', eps: 0.3 }, steps: 5, restarts: 2, loss: 'dlr', seed: 3 }),
    new Square({ threat: { norm: 'linf', eps: 0.3 }, queries: 150, restarts: 2, seed: 3 }),
  ];
  const row = 36;
  for (const attack of attacks) {
    const collect = async (ids: number[], batchSize: number): Promise<Map<number, { ok: number; data: Float32Array }>> => {
      const out = new Map<number, { ok: number; data: Float32Array }>();
      await attackRows(f, ds, ids, attack, {
        batchSize,
        onBatch: (b: BatchOutcome) => b.ids.forEach((id, j) => out.set(id, { ok: b.success[j] as number, data: b.data.slice(j * row, (j + 1) * row) })),
      });
      return out;
    };
    const all = Array.from({ length: n }, (_, i) => i);
    const whole = await collect(all, n);
    const sevens = await collect(all, 7);
    const slice = await collect(all.slice(k), n);
    const fooled = [...whole.values()].filter((v) => v.ok).length;
    // Mixed outcomes, or identical results would say little.
    assert.ok(fooled > 0 && fooled < n, `${attack.name}: ${fooled}/${n} fooled`);
    for (const id of all) {
      const a = whole.get(id)!;
      for (const [label, other] of [['batches of 7', sevens], ['the slice', slice]] as const) {
        const b = other.get(id);
        if (b === undefined) continue;
        assert.equal(b.ok, a.ok, `${attack.name}, example ${id}: success differs in ${label}`);
        // Same random start and path; only float rounding may differ, since BLAS kernels (the native
        // OpenBLAS addon) sum in a batch-size-dependent order. A differently seeded start would be ~ε away.
        const gap = Math.max(...b.data.map((v, i) => Math.abs(v - (a.data[i] as number))));
        assert.ok(gap < 1e-5, `${attack.name}, example ${id}: adversarial point differs in ${label} by ${gap}`);
      }
    }
  }
});
