import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { tensorsOf, toyDataset, useBackend, trainedToyModel } from '../testing/setup.js';
import { logitsOf, type LogitsFn } from '../model/classifier.js';
import { Rng } from '../util/rng.js';
import { Square, squareL2Pattern, squareP } from './square.js';
import { L2, LINF } from './threat-model.js';

const ds = toyDataset(256, 3);
async function trained(): Promise<tf.LayersModel> {
  return (await trainedToyModel(2)).model;
}

/**
 * The model as a black box: logits come back through a plain array, so no gradient can flow through
 * them, and every row queried is counted.
 */
function blackBox(f: LogitsFn): { f: LogitsFn; rows: () => number } {
  let rows = 0;
  return {
    f: (x) => {
      rows += x.shape[0] as number;
      const z = tf.tidy(() => f(x));
      const out = tf.tensor2d(z.dataSync() as Float32Array, z.shape);
      z.dispose();
      return out;
    },
    rows: () => rows,
  };
}

test('the p schedule halves p_init at the paper\'s fractions of the budget', () => {
  assert.equal(squareP(0.8, 0, 1000), 0.8);
  assert.equal(squareP(0.8, 1, 1000), 0.8); // 10/10000 of the budget: not yet
  assert.equal(squareP(0.8, 2, 1000), 0.4);
  assert.equal(squareP(0.8, 10, 1000), 0.2); // 100
  assert.equal(squareP(0.8, 50, 1000), 0.1); // 500: p/8 up to and including 500, p/16 after
  assert.equal(squareP(0.8, 51, 1000), 0.05);
  assert.equal(squareP(0.8, 300, 1000), 0.8 / 64);
  assert.equal(squareP(0.8, 999, 1000), 0.8 / 512);
  assert.equal(squareP(0.8, 5000, 10000), 0.8 / 128);
});

test("without rescaling, p follows AutoAttack's p_selection at fixed iteration counts", () => {
  // Expected values read off fra31/auto-attack autoattack/square.py (p_selection, resc_schedule=False):
  // p_init up to 10, then halved strictly after 10, 50, 200, 500, 1000, 2000, 4000, 6000, 8000.
  const table: Array<[number, number]> = [
    [0, 1], [10, 1], [11, 2], [50, 2], [51, 4], [200, 4], [201, 8], [500, 8], [501, 16], [1000, 16], [1001, 32],
    [2000, 32], [2001, 64], [4000, 64], [4001, 128], [4999, 128], [6000, 128], [6001, 256], [8000, 256], [8001, 512], [20000, 512],
  ];
  for (const [it, div] of table) assert.equal(squareP(0.8, it, 5000, false), 0.8 / div, `iteration ${it}`);
  // The budget does not stretch it: 1000 queries end at p_init/16, not p_init/512.
  assert.equal(squareP(0.8, 999, 1000, false), 0.8 / 16);
});

test('Square records a fixed schedule in its settings, and only then', () => {
  const fixed = new Square({ threat: { norm: 'linf', eps: 0.3 }, queries: 5000, pInit: 0.8, rescaleSchedule: false });
  assert.equal(fixed.describe()['schedule'], 'fixed');
  assert.equal(new Square({ threat: { norm: 'linf', eps: 0.3 } }).describe()['schedule'], undefined);
});

test('the L2 update pattern has unit norm and opposite-signed halves', () => {
  for (const s of [1, 3, 5, 8]) {
    const p = squareL2Pattern(s, new Rng(s));
    const norm = Math.sqrt(p.reduce((a, v) => a + v * v, 0));
    assert.ok(Math.abs(norm - 1) < 1e-5, `s=${s}: norm ${norm}`);
    if (s > 1) {
      assert.ok(p.some((v) => v > 0) && p.some((v) => v < 0), `s=${s}: both signs`);
    }
  }
});

for (const [norm, eps] of [['linf', 0.35], ['l2', 1.5]] as const) {
  test(`${norm} Square fools most of the toy model at ε=${eps} from forward passes alone, within its query budget`, async () => {
    const m = await trained();
    const { x, y } = tensorsOf(ds);
    const box = blackBox(logitsOf(m));
    const clean = tf.tidy(() => tf.sum(tf.equal(logitsOf(m)(x).argMax(-1), y).toInt()).dataSync()[0] as number);
    const queries = 300;
    const r = new Square({ threat: { norm, eps }, queries, seed: 1 }).run(box.f, x, y);
    const robust = r.success.reduce((a, b) => a + (1 - b), 0);
    assert.ok(robust < 0.2 * clean, `robust ${robust} vs clean ${clean}`);
    // One clean query, then at most `queries` per example, and fooled examples stop being queried.
    assert.ok(box.rows() <= ds.count * (queries + 1), `${box.rows()} rows queried`);
    assert.ok(box.rows() < 0.5 * ds.count * queries, `fooled examples should stop early (${box.rows()} rows)`);
    tf.dispose([x, y, r.adversarial]);
  });
}

test('multi-channel images: each channel stays inside the ball and the box', async () => {
  await useBackend();
  // A fixed random linear classifier on 5x7x3 images: enough to exercise the NHWC indexing.
  const wts = tf.randomNormal([5 * 7 * 3, 3], 0, 1, 'float32', 3);
  const f: LogitsFn = (x) => tf.matMul(x.reshape([x.shape[0] as number, -1]), wts) as tf.Tensor2D;
  const x = tf.randomUniform([12, 5, 7, 3], 0, 1, 'float32', 4);
  const y = tf.tidy(() => f(x).argMax(-1) as tf.Tensor1D);
  for (const [norm, eps] of [['linf', 0.05], ['l2', 0.5]] as const) {
    const r = new Square({ threat: { norm, eps }, queries: 50, seed: 2 }).run(f, x, y);
    const geo = norm === 'linf' ? LINF : L2;
    const sizes = tf.tidy(() => geo.size(tf.sub(r.adversarial, x)).arraySync());
    assert.ok(Math.max(...sizes) <= eps * (1 + 1e-5), `${norm}: ${Math.max(...sizes)}`);
    assert.ok((tf.min(r.adversarial).dataSync()[0] as number) >= 0 && (tf.max(r.adversarial).dataSync()[0] as number) <= 1);
    const pred = tf.tidy(() => f(r.adversarial).argMax(-1).arraySync() as number[]);
    const labels = y.arraySync();
    pred.forEach((p, i) => assert.equal(r.success[i] === 1, p !== labels[i]));
    assert.ok(r.success.some((v) => v === 1), `${norm}: a random linear model should be fooled somewhere`);
    r.adversarial.dispose();
  }
  tf.dispose([wts, x, y]);
});

test('a signal of one row (an audio clip) gets segments covering the fraction p of it, not single samples', async () => {
  await useBackend();
  // Two classes scored by the clip's mean: fooling it takes many samples moved together.
  const n = 200;
  const queried: Float32Array[] = [];
  const f: LogitsFn = (x) => {
    queried.push(Float32Array.from(x.dataSync() as Float32Array));
    return tf.tidy(() => {
      const m = tf.mean(x.reshape([x.shape[0] as number, -1]), 1, true);
      return tf.concat([tf.zerosLike(m), tf.mul(tf.sub(m, 0.5), 20)], 1) as tf.Tensor2D;
    });
  };
  const x = tf.fill([1, 1, n, 1], 0.45);
  const y = tf.tensor1d([0], 'int32');
  const r = new Square({ threat: { norm: 'linf', eps: 0.1 }, queries: 40, pInit: 0.8, rescaleSchedule: false, seed: 5 }).run(f, x, y);
  // Each proposal sets one window to a single ±ε: the samples it changes lie in one segment whose
  // length follows p (0.8·200 = 160 samples at first), where a square on a one-row input is one sample.
  const changed = queried.slice(1).map((q, i) => {
    const before = queried[i] as Float32Array;
    let k = 0;
    for (let j = 0; j < n; j++) if (q[j] !== before[j]) k++;
    return k;
  });
  assert.ok(Math.max(...changed) > 20, `samples changed per proposal: ${changed.join(' ')}`);
  // Moving the mean from 0.45 past 0.5 needs most samples at +ε: segments get there within 40 queries.
  assert.equal(r.success[0], 1, 'the clip should be fooled');
  tf.dispose([x, y, r.adversarial]);
});

test('Square refuses non-image inputs and bad options with clear messages', async () => {
  const m = await trained();
  const x = tf.zeros([2, 36]);
  const y = tf.tensor1d([0, 1], 'int32');
  assert.throws(() => new Square({ threat: { norm: 'linf', eps: 0.1 } }).run(logitsOf(m), x, y), /expected images \[B,H,W,C\]/);
  assert.throws(() => new Square({ threat: { norm: 'linf', eps: 0.1 }, queries: 0 }), /Square queries/);
  tf.dispose([x, y]);
});
