import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadMnist, subset } from '../data/index.js';
import { buildArch } from '../model/architectures.js';
import { evaluateRobustness } from '../eval/evaluate.js';
import { buildSuite } from '../eval/suite.js';
import { useBackend } from '../testing/setup.js';
import { resolveConfig } from './config.js';
import { trainModel } from './trainer.js';

// The product's central claim, at a size that runs in well under a minute: on real MNIST digits,
// ALP training yields clearly higher robust accuracy than standard training under a PGD attack
// stronger than the one it trained with.
test('on an MNIST subset ALP is clearly more robust than standard training', async () => {
  await useBackend();
  const train = subset(loadMnist('train'), 0, 4096);
  const test = subset(loadMnist('test'), 0, 200);
  const eps = 0.2;
  const results: Record<string, { clean: number; robust: number }> = {};
  for (const method of ['standard', 'alp'] as const) {
    const c = resolveConfig(undefined, {
      method, arch: 'fast-cnn', epochs: 3, batchSize: 64, lr: 2e-3, schedule: 'constant', eps,
      attackSteps: 5, attackStepSize: 0.08, epsRampEpochs: 1, lambda: 0.5, seed: 3, valSize: 0,
    });
    const model = buildArch('fast-cnn', { inputShape: [28, 28, 1], numClasses: 10, seed: 3 });
    await trainModel(model, train, null, c);
    const r = await evaluateRobustness(model, test, buildSuite({ threat: { norm: 'linf', eps }, attacks: ['pgd-ce', 'pgd-cw'], steps: 20, restarts: 1, seed: 1 }));
    results[method] = { clean: r.cleanAccuracy, robust: r.worstCaseAccuracy };
  }
  const s = results['standard'] as { clean: number; robust: number };
  const a = results['alp'] as { clean: number; robust: number };
  assert.ok(s.clean > 0.85, `standard clean accuracy ${s.clean}`);
  assert.ok(a.clean > 0.7, `alp clean accuracy ${a.clean}`);
  assert.ok(a.robust >= s.robust + 0.25, `robust accuracy: alp ${a.robust} vs standard ${s.robust}`);
});
