import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadMnist, subset } from '../data/index.js';
import { buildArch } from '../model/architectures.js';
import { resolveConfig } from '../train/config.js';
import { trainModel } from '../train/trainer.js';
import { useBackend } from '../testing/setup.js';
import { audit } from './audit.js';

// The failure that discredited logit squeezing (Mosbach et al. 2018), reproduced small: trained with
// Gaussian noise and a strong squeezing penalty, the model looks ~20% robust at ε=0.3 to plain PGD-20,
// but the audit's cascade (APGD-T with the DLR loss in particular) takes it to ~0, and the audit says so.
// A standard model is the control: PGD already finds everything there.
test('the audit catches a logit-squeezing model whose robustness plain PGD-20 overstates', async () => {
  await useBackend();
  const train = subset(loadMnist('train'), 0, 20000);
  const test = subset(loadMnist('test'), 0, 300);
  const threat = { norm: 'linf' as const, eps: 0.3 };
  const results: Record<string, { gap: number; status: string }> = {};
  // The squeezed model needs all 20 000 images × 4 epochs (on 10 000, or for 2 epochs, PGD-20's gap stays
  // under 0.1); the control needs only to be a standard model, and 5 000 images make one (gap 0).
  for (const [method, lambda, noise, epochs, images] of [['lsq', 5, 0.5, 4, 20000], ['standard', 0, 0, 1, 5000]] as const) {
    const c = resolveConfig(undefined, { method, arch: 'fast-cnn', epochs, batchSize: 64, lr: 1e-3, schedule: 'constant', lambda, noise, seed: 2, valSize: 0 });
    const model = buildArch('fast-cnn', { inputShape: [28, 28, 1], numClasses: 10, seed: 2 });
    await trainModel(model, subset(train, 0, images), null, c);
    const r = await audit(model, test, { threat, version: 'quick', seed: 0 });
    const f = r.findings.find((x) => x.id === 'weak-attack-gap');
    assert.ok(f !== undefined);
    results[method] = { gap: (f.evidence['gap'] as number), status: f.status };
  }
  const lsq = results['lsq'] as { gap: number; status: string };
  const std = results['standard'] as { gap: number; status: string };
  assert.equal(lsq.status, 'fail', `lsq gap ${lsq.gap}`);
  assert.ok(lsq.gap > 0.1, `PGD-20 overstated lsq robustness by only ${lsq.gap}`);
  assert.equal(std.status, 'pass', `standard gap ${std.gap}`);
});
