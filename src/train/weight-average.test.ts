import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { tempDir } from '../testing/files.js';
import { toyDataset, useBackend } from '../testing/setup.js';
import { assertUserError, runAlp } from '../testing/cli.js';
import { buildArch } from '../model/architectures.js';
import { resolveConfig, type Method, type TrainConfig } from './config.js';
import { CHECKPOINT_FILE, quickEval, trainModel } from './trainer.js';
import { loadCheckpoint } from './checkpoint.js';
import { startInThread } from './data-parallel.js';
import { startWorkerReplicas } from './train-replicas.js';
import { averageDecay } from './weight-average.js';

const data = toyDataset(96, 5);
const val = toyDataset(32, 6);

function config(method: Method, emaDecay?: number): TrainConfig {
  return resolveConfig(undefined, {
    method, arch: 'mlp', epochs: 2, batchSize: 16, eps: 0.2, attackSteps: 3, attackStepSize: 0.1,
    lr: 0.01, schedule: 'cosine', epsRampEpochs: 1, evalEvery: 0, evalAttackSteps: 3, seed: 7, emaDecay,
  });
}

const mlp = (seed = 7): tf.LayersModel => buildArch('mlp', { inputShape: [6, 6, 1], numClasses: 4, seed });
const weights = (m: tf.LayersModel): Float32Array[] => m.getWeights().map((w) => Float32Array.from(w.dataSync() as Float32Array));
const bits = (ws: Float32Array[]): Uint32Array[] => ws.map((w) => new Uint32Array(Float32Array.from(w).buffer));

function maxDiff(a: Float32Array[], b: Float32Array[]): number {
  let d = 0;
  a.forEach((x, i) => x.forEach((v, j) => (d = Math.max(d, Math.abs(v - ((b[i] as Float32Array)[j] as number))))));
  return d;
}

test('the decay warms up as (1 + t) / (10 + t) and then holds the configured value', () => {
  assert.equal(averageDecay(0.999, 0), 0.1);
  assert.equal(averageDecay(0.999, 8), 0.5);
  assert.equal(averageDecay(0.9, 80), 0.9);
  assert.equal(averageDecay(0.999, 1e6), 0.999);
});

test('the saved model is the moving average of the raw weights, step by step; training itself is untouched', async (t) => {
  await useBackend();
  const dir = tempDir(t, 'alp-ema-');
  const d = 0.8;
  // The average recomputed here in float64 from the raw weights after every step (in this thread the
  // model holds the raw weights while training runs).
  const m = mlp();
  let avg: Float64Array[] = weights(m).map((w) => Float64Array.from(w));
  const state = await trainModel(m, data, val, config('alp', d), {
    checkpointDir: dir,
    onProgress: (p) => {
      const k = averageDecay(d, p.step - 1);
      avg = weights(m).map((w, i) => Float64Array.from(w, (v, j) => k * ((avg[i] as Float64Array)[j] as number) + (1 - k) * v));
    },
  });
  assert.equal(state.step, 12);
  const final = weights(m);
  const off = maxDiff(final, avg.map((a) => Float32Array.from(a)));
  assert.ok(off < 1e-5, `the model is not the average of the trajectory: max difference ${off}`);

  // The checkpoint keeps the raw weights (to resume from) and the average beside them; the raw weights
  // are those of the same run without averaging, bit for bit.
  const plain = mlp();
  await trainModel(plain, data, val, config('alp'));
  const ck = loadCheckpoint<unknown>(join(dir, CHECKPOINT_FILE));
  const raw = ck.model.map((x) => Float32Array.from(x.dataSync() as Float32Array));
  assert.deepEqual(bits(raw), bits(weights(plain)), 'averaging changed the training trajectory');
  assert.deepEqual(bits(ck.average.map((x) => Float32Array.from(x.dataSync() as Float32Array))), bits(final));
  assert.ok(maxDiff(raw, final) > 1e-3, 'the average equals the last weights: nothing was averaged');

  // Validation ran on the average: the last point is the final model's quickEval.
  const c = config('alp', d);
  const q = quickEval(m, val, c, c.evalAttackSteps, c.seed);
  const last = state.evals[state.evals.length - 1];
  assert.deepEqual([last?.cleanAcc, last?.robustAcc], [q.clean, q.robust]);
  tf.dispose([...ck.model, ...ck.optimizer.map((o) => o.tensor), ...ck.average]);
  m.dispose();
  plain.dispose();
});

for (const workers of [1, 2] as const) {
  test(`averaging with ${workers} replica(s): a run interrupted twice and resumed ends with the bit-identical average`, async (t) => {
    await useBackend();
    const dir = tempDir(t, 'alp-ema-resume-');
    const c = config('alp', 0.9);
    const parallel = workers > 1 ? { workers, startReplicas: startInThread } : {};
    const straight = mlp();
    const whole = await trainModel(straight, data, val, c, parallel);
    let m = mlp();
    await trainModel(m, data, val, c, { ...parallel, checkpointDir: dir, stopAfterSteps: 3 });
    m.dispose();
    m = mlp(999);
    const mid = await trainModel(m, data, val, c, { ...parallel, checkpointDir: dir, resume: true, stopAfterSteps: 5 });
    assert.equal(mid.step, 8);
    m.dispose();
    m = mlp(999);
    const end = await trainModel(m, data, val, c, { ...parallel, checkpointDir: dir, resume: true });
    assert.equal(end.done, true);
    assert.deepEqual(bits(weights(m)), bits(weights(straight)));
    assert.deepEqual(end.evals, whole.evals, 'validation points differ');
    m.dispose();
    straight.dispose();
  });
}

test('averaging with 2 replicas tracks averaging in this thread (standard training: no attack, so only summation order differs)', async () => {
  await useBackend();
  const c = config('standard', 0.9);
  const one = mlp();
  await trainModel(one, data, null, c);
  const two = mlp();
  await trainModel(two, data, null, c, { workers: 2, startReplicas: startInThread });
  const d = maxDiff(weights(one), weights(two));
  assert.ok(d < 1e-5, `N=2 vs N=1 average: max difference ${d}`);
});

test('averaging on 2 worker threads: bit-identical to 2 replicas in one thread (the average crosses the thread boundary)', async () => {
  await useBackend();
  const c = config('alp', 0.9);
  const inThread = mlp();
  await trainModel(inThread, data, null, c, { workers: 2, startReplicas: startInThread });
  const threads = mlp();
  await trainModel(threads, data, null, c, { workers: 2, startReplicas: startWorkerReplicas });
  assert.deepEqual(bits(weights(threads)), bits(weights(inThread)));
  const raw = mlp();
  await trainModel(raw, data, null, config('alp'), { workers: 2, startReplicas: startInThread });
  assert.ok(maxDiff(weights(raw), weights(threads)) > 1e-3, 'the model left behind is not the average');
  assert.equal(process.getActiveResourcesInfo().filter((r) => /worker|messageport/i.test(r)).length, 0);
});

test('--ema-decay: a value outside [0, 1) is refused, naming the option', (t) => {
  assertUserError(['train', '--method', 'alp', '--ema-decay', '1', '--out', join(tempDir(t, 'alp-never-'), 'x')], /--ema-decay: expected a number in \[0, 1\) \(0: no averaging\), got 1/);
});

test('alp train --ema-decay: the header says the weights are averaged, and train.json records the decay', (t) => {
  const out = join(tempDir(t, 'alp-ema-cli-'), 'run');
  const r = runAlp(['train', '--method', 'standard', '--preset', 'quick', '--epochs', '1', '--train-size', '128', '--val-size', '0', '--workers', '1', '--ema-decay', '0.9', '--out', out]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout + r.stderr, /alp train: standard on mnist, fast-cnn, 1 epoch\(s\), weights averaged \(decay 0\.9\), backend/);
  assert.equal((JSON.parse(readFileSync(join(out, 'train.json'), 'utf8')) as { config: TrainConfig }).config.emaDecay, 0.9);
});
