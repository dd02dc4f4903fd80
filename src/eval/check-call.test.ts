/**
 * The library checks what the CLI checks (issue 24, class 6): the long calls refuse a radius outside
 * the inputs' box, a bad batch size and labels outside the classes with an OptionError naming the
 * library's option; audit resume keys and result identities change with the examples' contents.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Fgsm } from '../attack/fgsm.js';
import { dataRecord, datasetDigest } from '../data/digest.js';
import { subset } from '../data/dataset.js';
import { OptionError } from '../util/errors.js';
import { trainedToyModel, toyDataset, useBackend } from '../testing/setup.js';
import { resolveConfig } from '../train/config.js';
import { trainModel } from '../train/trainer.js';
import { buildArch } from '../model/architectures.js';
import { evaluateRobustness, epsSweep } from './evaluate.js';
import { audit, auditAttacks, auditKey } from './audit.js';
import { runCascade } from './cascade.js';
import { logitsOf } from '../model/classifier.js';

const option = (re: RegExp) => (e: unknown): boolean => e instanceof OptionError && re.test(e.message) && !/--/.test(e.message);

test('evaluateRobustness, epsSweep, audit, runCascade and trainModel refuse what the CLI refuses', async () => {
  await useBackend();
  const { model, ds } = await trainedToyModel();
  const f = logitsOf(model);
  const far = new Fgsm({ threat: { norm: 'linf', eps: 1.5 } });
  await assert.rejects(evaluateRobustness(model, ds, [far]), option(/^eps: 1\.5 is outside the \[0,1\] input box for linf \(must be < 1\)$/));
  await assert.rejects(evaluateRobustness(model, ds, [new Fgsm({ threat: { norm: 'linf', eps: -0.1 } })]), option(/^eps: expected a finite number ≥ 0, got -0\.1$/));
  await assert.rejects(evaluateRobustness(model, ds, [new Fgsm({ threat: { norm: 'linf', eps: 0.1 } })], { batchSize: 0 }), option(/^batchSize: expected an integer ≥ 1, got 0$/));
  // A caller's own box: its width is the limit (8/255-style radii in [0,255] units are fine).
  const wide = { ...ds, images: ds.images.map((v) => v * 255) };
  await evaluateRobustness((x) => f(x.div(255)), subset(wide, 0, 4), [new Fgsm({ threat: { norm: 'linf', eps: 8, bounds: [0, 255] } })]);
  await assert.rejects(epsSweep(model, ds, { norm: 'linf', epsilons: [0.1, 2], steps: 1, restarts: 1, losses: ['ce'], seed: 0 }), option(/^epsilons: 2 is outside the \[0,1\] input box/));
  await assert.rejects(audit(model, ds, { threat: { norm: 'linf', eps: 1 }, version: 'quick', seed: 0 }), option(/^eps: 1 is outside the \[0,1\] input box/));
  await assert.rejects(runCascade(f, ds, [far]), option(/^eps: 1\.5 is outside/));
  const bad = { ...ds, labels: ds.labels.map((y, i) => (i === 3 ? 9 : y)) };
  await assert.rejects(evaluateRobustness(model, bad, [new Fgsm({ threat: { norm: 'linf', eps: 0.1 } })]), option(/^toy: label 3: expected a class in \[0, 3\], found 9$/));
  // resolveConfig checks presets and overrides; a config object built by the caller reaches trainModel as is.
  const c = { ...resolveConfig(undefined, { method: 'standard', arch: 'mlp', epochs: 1, batchSize: 8, valSize: 0 }), eps: 1.5 };
  await assert.rejects(trainModel(buildArch('mlp', { inputShape: [6, 6, 1], numClasses: 4, seed: 1 }), ds, null, c), option(/^eps: 1\.5 is outside the \[0,1\] input box/));
});

test('the examples are identified by their contents: digest, data record, audit resume key', async () => {
  await useBackend();
  const { model, ds } = await trainedToyModel();
  const other = { ...ds, images: ds.images.slice() };
  other.images[5] = (other.images[5] as number) + 0.01;
  assert.equal(datasetDigest(ds), datasetDigest({ ...ds, images: ds.images.slice() }));
  assert.notEqual(datasetDigest(ds), datasetDigest(other));
  assert.notEqual(datasetDigest(ds), datasetDigest({ ...ds, labels: ds.labels.map((y) => (y + 1) % 4) }));
  assert.equal(datasetDigest(ds, 2, 5), datasetDigest(subset(ds, 2, 3)));
  assert.deepEqual(dataRecord(ds, '/my/data'), { source: 'toy from /my/data', digest: datasetDigest(ds), examples: ds.count });
  const o = { threat: { norm: 'linf' as const, eps: 0.1 }, version: 'quick' as const, seed: 0 };
  assert.notEqual(auditKey(model, ds, auditAttacks(o, 4), o), auditKey(model, other, auditAttacks(o, 4), o));
  assert.equal(auditKey(model, ds, auditAttacks(o, 4), o), auditKey(model, toyDataset(256, 3), auditAttacks(o, 4), o));
});
