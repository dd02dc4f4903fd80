import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { toyDataset, useBackend } from '../testing/setup.js';
import { buildArch } from '../model/architectures.js';
import { resolveConfig, type TrainConfig } from './config.js';
import { CHECKPOINT_FILE, trainModel } from './trainer.js';
import { loadCheckpoint } from './checkpoint.js';
import { learningRate, trainingEps } from './schedule.js';

const data = toyDataset(96, 5);
const val = toyDataset(32, 6);

function config(method: TrainConfig['method']): TrainConfig {
  return resolveConfig(undefined, {
    method, arch: 'mlp', epochs: 3, batchSize: 16, eps: 0.2, attackSteps: 3, attackStepSize: 0.1,
    lr: 0.01, schedule: 'cosine', epsRampEpochs: 1, evalEvery: 0, evalAttackSteps: 3, seed: 7,
  });
}

function weightsOf(m: tf.LayersModel): Float32Array[] {
  return m.getWeights().map((w) => w.dataSync() as Float32Array);
}

for (const method of ['alp', 'trades', 'standard'] as const) {
  test(`${method}: a run interrupted and resumed ends with the same weights as an uninterrupted one`, async () => {
    await useBackend();
    const dir = mkdtempSync(join(tmpdir(), 'alp-resume-'));
    try {
      const c = config(method);
      const straight = buildArch('mlp', { inputShape: [6, 6, 1], numClasses: 4, seed: c.seed });
      await trainModel(straight, data, val, c);

      // Interrupt mid-epoch (step 8 of 18), then resume in a fresh model and optimizer.
      const first = buildArch('mlp', { inputShape: [6, 6, 1], numClasses: 4, seed: c.seed });
      const partial = await trainModel(first, data, val, c, { checkpointDir: dir, stopAfterSteps: 8 });
      assert.equal(partial.step, 8);
      assert.equal(partial.done, false);
      const resumed = buildArch('mlp', { inputShape: [6, 6, 1], numClasses: 4, seed: 999 });
      const final = await trainModel(resumed, data, val, c, { checkpointDir: dir, resume: true });
      assert.equal(final.step, 18);
      assert.equal(final.done, true);
      const a = weightsOf(straight);
      const b = weightsOf(resumed);
      for (let i = 0; i < a.length; i++) {
        const ai = a[i] as Float32Array, bi = b[i] as Float32Array;
        let maxDiff = 0;
        for (let j = 0; j < ai.length; j++) maxDiff = Math.max(maxDiff, Math.abs((ai[j] as number) - (bi[j] as number)));
        assert.ok(maxDiff < 1e-5, `weight ${i} differs by ${maxDiff}`);
      }
      assert.equal(final.epochs.length, 3);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
}

test('resuming with a different configuration is refused, naming the field', async () => {
  await useBackend();
  const dir = mkdtempSync(join(tmpdir(), 'alp-resume-'));
  try {
    const c = config('alp');
    await trainModel(buildArch('mlp', { inputShape: [6, 6, 1], numClasses: 4, seed: 1 }), data, null, c, { checkpointDir: dir, stopAfterSteps: 2 });
    const other = { ...c, eps: 0.1 };
    await assert.rejects(
      trainModel(buildArch('mlp', { inputShape: [6, 6, 1], numClasses: 4, seed: 1 }), data, null, other, { checkpointDir: dir, resume: true }),
      /cannot resume with a different configuration \(eps: checkpoint 0.2, now 0.1\)/,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a corrupt checkpoint is a clear error, and a failed write keeps the previous one', async () => {
  await useBackend();
  const dir = mkdtempSync(join(tmpdir(), 'alp-ckpt-'));
  try {
    const path = join(dir, CHECKPOINT_FILE);
    writeFileSync(path, 'not a checkpoint at all');
    assert.throws(() => loadCheckpoint(path), /not an alp checkpoint \(expected magic ALPCKPT1/);
    const c = config('standard');
    await trainModel(buildArch('mlp', { inputShape: [6, 6, 1], numClasses: 4, seed: 1 }), data, null, c, { checkpointDir: dir, stopAfterSteps: 2 });
    const good = readFileSync(path);
    writeFileSync(path, good.subarray(0, good.length - 10));
    assert.throws(() => loadCheckpoint(path), /checkpoint data has \d+ bytes, expected \d+/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('schedules: cosine decays to 0, step decays ×0.1 at the given fractions, ε ramps linearly', () => {
  const c = resolveConfig(undefined, { lr: 1, schedule: 'cosine', eps: 0.3, epsRampEpochs: 2 });
  assert.equal(learningRate(c, 0, 100), 1);
  assert.ok(Math.abs(learningRate(c, 50, 100) - 0.5) < 1e-12);
  assert.ok(learningRate(c, 100, 100) < 1e-12);
  const s = { ...c, schedule: 'step' as const, lrDecayAt: [0.5, 0.75] };
  assert.equal(learningRate(s, 49, 100), 1);
  assert.ok(Math.abs(learningRate(s, 50, 100) - 0.1) < 1e-12);
  assert.ok(Math.abs(learningRate(s, 80, 100) - 0.01) < 1e-12);
  assert.ok(Math.abs(trainingEps(c, 9, 10) - 0.15) < 1e-12);
  assert.equal(trainingEps(c, 100, 10), 0.3);
});

test('invalid training options name the option, the value and what is allowed', () => {
  assert.throws(() => resolveConfig(undefined, { method: 'magic' as TrainConfig['method'] }), /--method: expected one of standard, pgd-at, alp, clp, lsq, trades, fgsm-rs, got "magic"/);
  assert.throws(() => resolveConfig(undefined, { eps: 1.2 }), /--eps: expected a number ≥ 0 inside the \[0,1\] box/);
  assert.throws(() => resolveConfig(undefined, { batchSize: 0 }), /--batch-size: expected an integer ≥ 2, got 0/);
  assert.throws(() => resolveConfig('nope', {}), /--preset: expected one of quick, madry-mnist, spam, spoken-digits, got 'nope'/);
});

test('training steps do not leak tensors, for every method', async () => {
  await useBackend();
  for (const method of ['standard', 'pgd-at', 'alp', 'clp', 'lsq', 'trades', 'fgsm-rs'] as const) {
    const c = { ...config(method), epochs: 1, noise: method === 'lsq' ? 0.3 : 0 };
    const m = buildArch('mlp', { inputShape: [6, 6, 1], numClasses: 4, seed: 1 });
    await trainModel(m, data, null, { ...c, epochs: 1 });
    const before = tf.memory().numTensors;
    await trainModel(m, data, null, { ...c, epochs: 2 });
    assert.equal(tf.memory().numTensors, before, `${method} leaked ${tf.memory().numTensors - before} tensors`);
    m.dispose();
  }
});
