import { test } from 'node:test';
import assert from 'node:assert/strict';
import { configForSteps, measurePace, stepsForBudget } from './budget.js';
import { resolveConfig } from '../train/config.js';
import { toyDataset, useBackend } from '../testing/setup.js';
import { UserError } from '../util/errors.js';
import { installNativeNetwork } from '../backend/native-network.js';
import { nativeApi } from '../backend/native-kernels.js';

test('configForSteps meets the step count: whole epochs when they fit, else a share of the pool', () => {
  const c = resolveConfig('quick', { method: 'alp', batchSize: 50 });
  const steps = (x: { epochs: number; trainSize: number; batchSize: number }): number => x.epochs * Math.floor(x.trainSize / x.batchSize);
  // 1000 examples = 20 steps an epoch.
  const a = configForSteps(c, 1000, 60);
  assert.deepEqual([a.epochs, a.trainSize], [3, 1000]);
  const b = configForSteps(c, 1000, 7); // less than an epoch: one epoch over the first 350
  assert.deepEqual([b.epochs, b.trainSize], [1, 350]);
  const d = configForSteps(c, 1000, 45); // 2.25 epochs → 3 epochs of 15 steps
  assert.deepEqual([d.epochs, d.trainSize], [3, 750]);
  for (const s of [1, 7, 19, 20, 21, 45, 99, 1234]) {
    const r = configForSteps(c, 1000, s);
    assert.ok(steps(r) >= s && steps(r) < s + r.epochs, `${s} steps → ${steps(r)}`);
  }
  assert.throws(() => configForSteps(c, 1000, 0), UserError);
  // A pool that is not a multiple of the batch: 610 examples are 12 whole batches of 50.
  for (const s of [5, 12, 13, 40]) {
    const r = configForSteps(c, 610, s);
    assert.ok(r.trainSize <= 610 && r.trainSize % 50 === 0 && steps(r) >= s && steps(r) < s + r.epochs, `${s} → ${JSON.stringify([r.epochs, r.trainSize])}`);
  }
  assert.throws(() => configForSteps(c, 30, 5), /larger than the 30/);
  assert.equal(stepsForBudget({ secondsPerStep: 0.25, stepsTimed: 5 }, 10), 40);
  assert.throws(() => stepsForBudget({ secondsPerStep: 0.25, stepsTimed: 5 }, 0), /seconds > 0/);
});

test('measurePace times real steps: a PGD-10 method is slower per step than standard training', async () => {
  await useBackend();
  const ds = toyDataset(400);
  const base = { arch: 'mlp' as const, dataset: 'toy', batchSize: 32, epochs: 1, valSize: 0, eps: 0.1, attackStepSize: 0.025 };
  const std = await measurePace(resolveConfig(undefined, { ...base, method: 'standard' }), ds, null, 10);
  // On this tiny mlp the native network makes the ten attack passes nearly free (microseconds each), so
  // they would not show against the training pass's fixed cost: time them through TF.js.
  installNativeNetwork(null);
  let alp;
  try {
    alp = await measurePace(resolveConfig(undefined, { ...base, method: 'alp', attackSteps: 10 }), ds, null, 10);
  } finally {
    installNativeNetwork(nativeApi());
  }
  assert.equal(std.stepsTimed, 8);
  assert.ok(std.secondsPerStep > 0 && alp.secondsPerStep > 0);
  // Ten extra forward-backward passes per step: slower, by how much depends on the load (1.5-2.5x seen).
  assert.ok(alp.secondsPerStep > std.secondsPerStep, `alp ${alp.secondsPerStep} s/step vs standard ${std.secondsPerStep}`);
});
