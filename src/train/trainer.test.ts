import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, writeFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { tempDir } from '../testing/files.js';
import { toyDataset, useBackend } from '../testing/setup.js';
import { buildArch } from '../model/architectures.js';
import { METHODS, resolveConfig, type TrainConfig } from './config.js';
import { dataDefaults } from './data-defaults.js';
import { CHECKPOINT_FILE, trainModel } from './trainer.js';
import { loadCheckpoint } from './checkpoint.js';
import { CorruptFileError, DivergedError, EXIT } from '../util/errors.js';
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

/** Index and size of the first differing float (bit patterns), or undefined when identical. */
function firstDifference(a: Float32Array[], b: Float32Array[]): string | undefined {
  for (let i = 0; i < a.length; i++) {
    const ai = new Uint32Array((a[i] as Float32Array).slice().buffer), bi = new Uint32Array((b[i] as Float32Array).slice().buffer);
    for (let j = 0; j < ai.length; j++) {
      if (ai[j] !== bi[j]) return `weight ${i}[${j}]: ${(a[i] as Float32Array)[j]} vs ${(b[i] as Float32Array)[j]}`;
    }
  }
  return undefined;
}

// Every method the config offers, under both optimizers, interrupted three times and resumed each
// time in a fresh model and optimizer: the final weights must be bit for bit those of the uninterrupted
// run. The stops (after steps 2, 8, 13) are where tfjs' recomputed pow(β, t+1) differs from Adam's
// accumulated β powers on the wasm backend (β₂ at t = 2, β₁ at 8 and 13), so an optimizer state that
// loses them fails here.
for (const method of METHODS) {
  for (const optimizer of ['adam', 'sgd'] as const) {
    test(`${method}/${optimizer}: a run interrupted three times and resumed ends with bit-identical weights`, async (t) => {
      await useBackend();
      const dir = tempDir(t, 'alp-resume-');
      const c = { ...config(method), optimizer, noise: method === 'lsq' || method === 'clp' ? 0.2 : 0 };
      const straight = buildArch('mlp', { inputShape: [6, 6, 1], numClasses: 4, seed: c.seed });
      await trainModel(straight, data, val, c);

      let resumed = buildArch('mlp', { inputShape: [6, 6, 1], numClasses: 4, seed: c.seed });
      let state = await trainModel(resumed, data, val, c, { checkpointDir: dir, stopAfterSteps: 2 });
      for (const [more, at] of [[6, 8], [5, 13]] as const) {
        resumed.dispose();
        resumed = buildArch('mlp', { inputShape: [6, 6, 1], numClasses: 4, seed: 999 });
        state = await trainModel(resumed, data, val, c, { checkpointDir: dir, resume: true, stopAfterSteps: more });
        assert.equal(state.step, at);
        assert.equal(state.done, false);
      }
      resumed.dispose();
      resumed = buildArch('mlp', { inputShape: [6, 6, 1], numClasses: 4, seed: 999 });
      const final = await trainModel(resumed, data, val, c, { checkpointDir: dir, resume: true });
      assert.equal(final.step, 18);
      assert.equal(final.done, true);
      assert.equal(final.epochs.length, 3);
      assert.equal(firstDifference(weightsOf(straight), weightsOf(resumed)), undefined);
      straight.dispose();
      resumed.dispose();
    });
  }
}

test('resuming with a different configuration is refused, naming the field', async (t) => {
  await useBackend();
  const dir = tempDir(t, 'alp-resume-');
  const c = config('alp');
  await trainModel(buildArch('mlp', { inputShape: [6, 6, 1], numClasses: 4, seed: 1 }), data, null, c, { checkpointDir: dir, stopAfterSteps: 2 });
  const other = { ...c, eps: 0.1 };
  await assert.rejects(
    trainModel(buildArch('mlp', { inputShape: [6, 6, 1], numClasses: 4, seed: 1 }), data, null, other, { checkpointDir: dir, resume: true }),
    /cannot resume with a different configuration \(eps: checkpoint 0.2, now 0.1\)/,
  );
  // The optimizer and learning rate shape the weights too (their state would not even fit).
  await assert.rejects(
    trainModel(buildArch('mlp', { inputShape: [6, 6, 1], numClasses: 4, seed: 1 }), data, null, { ...c, optimizer: 'sgd', lr: 0.1 }, { checkpointDir: dir, resume: true }),
    /cannot resume with a different configuration \(optimizer: checkpoint "adam", now "sgd"; lr: checkpoint 0.01, now 0.1\)/,
  );
  // Validation settings may change.
  const ok = await trainModel(buildArch('mlp', { inputShape: [6, 6, 1], numClasses: 4, seed: 1 }), data, null, { ...c, evalAttackSteps: 1 }, { checkpointDir: dir, resume: true, stopAfterSteps: 1 });
  assert.equal(ok.step, 3);
});

test('a corrupt checkpoint is a clear error, and a failed write keeps the previous one', async (t) => {
  await useBackend();
  const dir = tempDir(t, 'alp-ckpt-');
  const path = join(dir, CHECKPOINT_FILE);
  writeFileSync(path, 'not a checkpoint at all');
  assert.throws(() => loadCheckpoint(path), /not an alp checkpoint \(expected magic ALPCKPT1/);
  const c = config('standard');
  await trainModel(buildArch('mlp', { inputShape: [6, 6, 1], numClasses: 4, seed: 1 }), data, null, c, { checkpointDir: dir, stopAfterSteps: 2 });
  const good = readFileSync(path);
  writeFileSync(path, good.subarray(0, good.length - 10));
  assert.throws(() => loadCheckpoint(path), /checkpoint data has \d+ bytes, expected \d+/);
  // One weight changed after the write: same size, still finite, still parses; the checksum says no.
  const flipped = Buffer.from(good);
  flipped.writeFloatLE(flipped.readFloatLE(flipped.length - 400) + 0.5, flipped.length - 400);
  writeFileSync(path, flipped);
  assert.throws(() => loadCheckpoint(path), (e: unknown) => e instanceof CorruptFileError && e.code === EXIT.corrupt && /checkpoint is corrupt \(its SHA-256 checksum does not match/.test(e.message));
  await assert.rejects(
    trainModel(buildArch('mlp', { inputShape: [6, 6, 1], numClasses: 4, seed: 1 }), data, null, c, { checkpointDir: dir, resume: true }),
    CorruptFileError,
  );
  writeFileSync(path, good);
  assert.equal(loadCheckpoint(path).state !== undefined, true);
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

test('--attack-loss: ce or cw for the methods whose twins ascend a loss of our choosing; refused, naming why, elsewhere', () => {
  assert.equal(resolveConfig('mnist-robust', { method: 'alp', attackLoss: 'cw' }).attackLoss, 'cw');
  assert.equal(resolveConfig(undefined, { method: 'pgd-at' }).attackLoss, undefined); // absent: cross-entropy
  // Named, it is the same config as absent (a resume with --attack-loss ce continues a run that never named it).
  assert.deepEqual(resolveConfig('mnist-robust', { method: 'alp', attackLoss: 'ce' }), resolveConfig('mnist-robust', { method: 'alp' }));
  assert.throws(() => resolveConfig(undefined, { method: 'trades', attackLoss: 'cw' }), /attackLoss.*expected ce for method trades/);
  assert.throws(() => resolveConfig(undefined, { method: 'alp', attackLoss: 'dlr' as never }), /attackLoss.*expected ce or cw, got "dlr"/);
  assert.throws(() => resolveConfig(undefined, { method: 'alp', textAdversary: 'swap', attackLoss: 'cw' }), /attackLoss.*HotFlip/);
});

test('a new ε (given, or the data kind\'s) scales the preset\'s PGD step with it, unless a step size is given', () => {
  assert.ok(Math.abs(resolveConfig('quick', { eps: 0.1 }).attackStepSize - 0.025) < 1e-12);
  assert.equal(resolveConfig('quick', {}).attackStepSize, 0.075);
  assert.equal(resolveConfig('quick', { eps: 0.1, attackStepSize: 0.05 }).attackStepSize, 0.05);
  const spam = resolveConfig('spam', { eps: 1 });
  assert.ok(Math.abs(spam.attackStepSize - 0.25) < 1e-12 && spam.eps === 1);
  // The data kind's ε under a preset that sets only a step (quick's 0.075, chosen for ε = 0.3): the same ratio.
  const close = (a: number, b: number): boolean => Math.abs(a - b) < 1e-12;
  const rgb = dataDefaults('image', [32, 32, 3]).fields;
  const quickRgb = resolveConfig('quick', {}, rgb);
  assert.ok(quickRgb.eps === 8 / 255 && close(quickRgb.attackStepSize, 2 / 255), `quick on RGB: ε ${quickRgb.eps}, step ${quickRgb.attackStepSize}`);
  assert.ok(close(resolveConfig('quick', { eps: 16 / 255 }, rgb).attackStepSize, 4 / 255));
  assert.ok(close(resolveConfig(undefined, { eps: 16 / 255 }, rgb).attackStepSize, 4 / 255));
  assert.equal(resolveConfig(undefined, {}, rgb).attackStepSize, 2 / 255);
  const text = dataDefaults('text', [128, 1, 1]).fields;
  assert.ok(close(resolveConfig('quick', {}, text).attackStepSize, 0.125) && resolveConfig('quick', {}, text).eps === 0.5);
  assert.ok(close(resolveConfig('quick', {}, dataDefaults('audio', [8000, 1, 1]).fields).attackStepSize, 0.00125));
  assert.equal(resolveConfig('quick', { eps: 0.1, attackStepSize: 0.05 }, rgb).attackStepSize, 0.05);
});

test('invalid training options name the option, the value and what is allowed', () => {
  assert.throws(() => resolveConfig(undefined, { method: 'magic' as TrainConfig['method'] }), /ConfigError: method: expected one of standard, pgd-at, alp, clp, lsq, trades, fgsm-rs, got "magic"/);
  assert.throws(() => resolveConfig(undefined, { eps: 1.2 }), /eps: expected a number ≥ 0 inside the \[0,1\] box/);
  assert.throws(() => resolveConfig(undefined, { batchSize: 0 }), /ConfigError: batchSize: expected an integer ≥ 2, got 0/);
  assert.throws(() => resolveConfig('nope', {}), /preset: expected one of quick, madry-mnist, mnist-robust, spam, spoken-digits, got 'nope'/);
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

test('divergence is a DivergedError (exit 4), names no CLI flag, and leaves a loadable checkpoint from before it', async (t) => {
  await useBackend();
  const dir = tempDir(t, 'alp-diverge-');
  const c = { ...config('standard'), schedule: 'constant' as const, lr: 1e30 };
  let step = -1;
  await assert.rejects(
    trainModel(buildArch('mlp', { inputShape: [6, 6, 1], numClasses: 4, seed: 1 }), data, null, c, { checkpointDir: dir, checkpointEvery: 1 }),
    (e: unknown) => {
      const m = e instanceof DivergedError ? /training diverged (?:at|by) step (\d+)/.exec(e.message) : null;
      step = m !== null ? Number(m[1]) : -1;
      return m !== null && (e as DivergedError).code === EXIT.diverged && !/--/.test((e as Error).message);
    },
  );
  assert.ok(step >= 1 && step <= 18, `step ${step}`);
  // Whatever checkpoint exists is complete, finite (loadCheckpoint checks) and from before the divergence.
  if (existsSync(join(dir, CHECKPOINT_FILE))) {
    const ck = loadCheckpoint<{ step: number }>(join(dir, CHECKPOINT_FILE));
    assert.ok(ck.state.step < step, `checkpoint at step ${ck.state.step}, divergence at ${step}`);
    tf.dispose(ck.model);
    tf.dispose(ck.optimizer.map((t) => t.tensor));
  }
});
