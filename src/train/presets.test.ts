import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { buildArch } from '../model/architectures.js';
import { toyDataset, useBackend } from '../testing/setup.js';
import { checkPreset, ConfigError, PRESETS, PRESET_NAMES, resolveConfig } from './config.js';
import { trainModel } from './trainer.js';

const paramsOf = (m: tf.LayersModel): number => m.countParams();

test('every preset is a valid, coherent config on its own, and its network builds with logits out', async () => {
  await useBackend();
  for (const name of PRESET_NAMES) {
    const c = checkPreset(name);
    if (c.dataset !== 'mnist') continue;
    const m = buildArch(c.arch, { inputShape: [28, 28, 1], numClasses: 10, seed: 1 });
    const y = tf.tidy(() => m.predict(tf.zeros([2, 28, 28, 1])) as tf.Tensor);
    assert.deepEqual(y.shape, [2, 10], name);
    y.dispose();
    m.dispose();
  }
});

test('a broken preset is refused with the preset and the field named', () => {
  const quick = PRESETS.quick;
  const bad = (config: object): { description: string; config: object } => ({ description: 'x', config: { ...quick.config, ...config } });
  assert.throws(() => checkPreset('quick', bad({ attackStepSize: 0.01 })), (e: unknown) => e instanceof ConfigError && e.field === 'attackStepSize' && /preset quick: .*10 × 0\.01 = 0\.1 < 0\.3/.test(e.message));
  assert.throws(() => checkPreset('quick', bad({ epsRampEpochs: 4 })), (e: unknown) => e instanceof ConfigError && /epsRampEpochs: preset quick: .*< 4 epochs/.test(e.message));
  assert.throws(() => checkPreset('quick', bad({ attackStart: 'vertex', norm: 'l2', eps: 1.5, attackStepSize: 0.375 })), (e: unknown) => e instanceof ConfigError && /^attackStart: preset quick: expected uniform for method alp under l2/.test(e.message));
  assert.throws(() => checkPreset('quick', bad({ activation: 'tanh' as 'relu' })), (e: unknown) => e instanceof ConfigError && /^activation: preset quick: expected one of relu, swish, gelu, elu/.test(e.message));
  assert.throws(() => checkPreset('quick', bad({ arch: 'resnet-50' })), (e: unknown) => e instanceof ConfigError && /^arch: preset quick: expected one of/.test(e.message));
  // Options given with a preset may still change anything (a smoke test with 2 PGD steps is fine).
  assert.equal(resolveConfig('quick', { attackSteps: 2 }).attackSteps, 2);
});

test('mnist-robust: ALP for ε = 0.3, trained at 0.35 on the wider network, and it trains', async () => {
  await useBackend();
  const c = resolveConfig('mnist-robust', { method: 'alp' });
  // The record run of 2026-12-07 (docs/experiments.md, run 7): these values are what its card's command resolves to.
  assert.deepEqual([c.dataset, c.norm, c.eps, c.attackStepSize, c.epochs, c.epsRampEpochs, c.arch, c.method], ['mnist', 'linf', 0.35, 0.0875, 28, 3, 'wide-cnn', 'alp']);
  const o = { inputShape: [28, 28, 1] as [number, number, number], numClasses: 10, seed: 1 };
  const wide = buildArch('wide-cnn', o);
  const fast = buildArch('fast-cnn', o);
  assert.ok(paramsOf(wide) > 4 * paramsOf(fast), `wide-cnn ${paramsOf(wide)} vs fast-cnn ${paramsOf(fast)} parameters`);
  fast.dispose();
  wide.dispose();
  // Two ALP steps of the preset on toy data: the loss is finite and the weights move.
  const ds = toyDataset(256);
  const m = buildArch(c.arch, { inputShape: ds.shape, numClasses: ds.numClasses, seed: c.seed });
  const before = Array.from(m.getWeights()[0]!.dataSync());
  const losses: number[] = [];
  await trainModel(m, ds, null, { ...c, dataset: 'toy', valSize: 0, evalEvery: 0 }, { stopAfterSteps: 2, onProgress: (p) => losses.push(p.loss) });
  const after = Array.from(m.getWeights()[0]!.dataSync());
  assert.ok(losses.length > 0 && losses.every(Number.isFinite), `losses ${losses.join(', ')}`);
  assert.ok(before.some((v, i) => v !== after[i]), 'the first layer did not change');
  m.dispose();
});
