import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import type { Dataset } from '../data/dataset.js';
import { PAD, UNK } from '../data/text.js';
import { Pgd } from '../attack/pgd.js';
import { resolveConfig } from '../train/config.js';
import { trainModel } from '../train/trainer.js';
import { useBackend } from '../testing/setup.js';
import { Rng } from '../util/rng.js';
import { adaptModel } from './adapt.js';
import { buildArch } from './architectures.js';
import { logitsOf } from './classifier.js';
import { embedDataset, isTextModel, nearestTokens, splitAtEmbedding } from './text.js';

const L = 12, V = 30;
const vocabulary = [PAD, UNK, ...Array.from({ length: V - 2 }, (_, i) => `w${i + 2}`)];

/** Class 1 iff the "keyword" token 7 or 8 occurs: learnable by a conv + max-pool in a few steps. */
function keywordTexts(count: number, seed: number): Dataset {
  const rng = new Rng(seed);
  const images = new Float32Array(count * L);
  const labels = new Int32Array(count);
  for (let i = 0; i < count; i++) {
    const len = 6 + rng.int(L - 5);
    const y = i % 2;
    for (let k = 0; k < len; k++) {
      let t = 2 + rng.int(V - 2);
      while (t === 7 || t === 8) t = 2 + rng.int(V - 2);
      images[i * L + k] = t;
    }
    if (y === 1) images[i * L + rng.int(len)] = 7 + rng.int(2);
    labels[i] = y;
  }
  return { name: 'keywords', images, labels, count, shape: [L, 1, 1], numClasses: 2, vocabulary };
}

test('a text model splits at its embedding into embed + head that compute the same logits', async () => {
  await useBackend();
  const m = buildArch('text-cnn', { inputShape: [L, 1, 1], numClasses: 2, seed: 1, vocabularySize: V });
  assert.ok(isTextModel(m));
  assert.ok(!isTextModel(buildArch('mlp', { inputShape: [L, 1, 1], numClasses: 2, seed: 1 })));
  const ds = keywordTexts(8, 1);
  const ids = tf.tensor4d(ds.images, [8, L, 1, 1]);
  // Through alp's input adapter (ids stored as [L,1,1], the model takes [L]) and without it.
  for (const model of [m, adaptModel(m, [L, 1, 1]).model]) {
    const s = splitAtEmbedding(model);
    assert.deepEqual([s.sequenceLength, s.dim, s.vocabularySize], [L, 64, V]);
    const e = s.embed(ids);
    const direct = m.predict(ids.reshape([8, L])) as tf.Tensor;
    const viaHead = s.head.predict(e) as tf.Tensor;
    assert.ok((tf.max(tf.abs(tf.sub(direct, viaHead))).dataSync()[0] as number) < 1e-5);
    // Unit-norm embeddings from the start, and the nearest token of an embedding is itself.
    const norms = tf.norm(e, 'euclidean', -1).dataSync() as Float32Array;
    for (const n of norms) assert.ok(Math.abs(n - 1) < 1e-4, `embedding norm ${n}`);
    assert.deepEqual([...nearestTokens(e, s.table())], [...ds.images].map((v) => v | 0));
    tf.dispose([e, direct, viaHead]);
  }
  const emb = embedDataset(ds, splitAtEmbedding(m));
  assert.deepEqual(emb.shape, [L, 64, 1]);
  assert.equal(emb.vocabulary, undefined);
  assert.throws(() => embedDataset({ ...ds, shape: [L + 1, 1, 1] }, splitAtEmbedding(m)), /sequences of 13 tokens, the model embeds 12/);
  ids.dispose();
});

test('ALP on text trains the embeddings too, keeps them unit-norm, and resists embedding attacks better than standard training', async () => {
  await useBackend();
  const train = keywordTexts(400, 2), test = keywordTexts(200, 3);
  const results: Record<string, { clean: number; robust: number; moved: number }> = {};
  for (const method of ['standard', 'alp'] as const) {
    const m = buildArch('text-cnn', { inputShape: [L, 1, 1], numClasses: 2, seed: 1, vocabularySize: V });
    const before = (splitAtEmbedding(m).table().dataSync() as Float32Array).slice();
    const c = resolveConfig(undefined, { method, arch: 'text-cnn', epochs: 6, batchSize: 40, lr: 5e-3, norm: 'l2', eps: 0.5, attackSteps: 5, attackStepSize: 0.2, epsRampEpochs: 0, valSize: 0, trainSize: 0, evalEvery: 0 });
    await trainModel(m, train, null, c);
    const s = splitAtEmbedding(m);
    const table = s.table();
    const after = table.dataSync() as Float32Array;
    let moved = 0;
    for (let i = 0; i < after.length; i++) moved = Math.max(moved, Math.abs((after[i] as number) - (before[i] as number)));
    const rowNorms = tf.norm(table, 'euclidean', 1).dataSync() as Float32Array;
    for (const n of rowNorms) assert.ok(Math.abs(n - 1) < 1e-3, `${method}: embedding row norm ${n} after training`);
    const emb = embedDataset(test, s);
    const x = tf.tensor4d(emb.images, [emb.count, L, 64, 1]);
    const y = tf.tensor1d(emb.labels, 'int32');
    const f = logitsOf(adaptModel(s.head, emb.shape).model);
    const clean = tf.tidy(() => tf.mean(tf.equal(f(x).argMax(-1), y).toFloat()).dataSync()[0] as number);
    const r = new Pgd({ threat: { norm: 'l2', eps: 0.5, bounds: null }, steps: 20, restarts: 1, seed: 1 }).run(f, x, y);
    const robust = 1 - r.success.reduce((a, b) => a + b, 0) / emb.count;
    results[method] = { clean, robust, moved };
    tf.dispose([x, y, r.adversarial]);
  }
  const std = results['standard'] as { clean: number; robust: number; moved: number };
  const alp = results['alp'] as { clean: number; robust: number; moved: number };
  assert.ok(std.clean > 0.9 && alp.clean > 0.85, JSON.stringify(results));
  assert.ok(std.moved > 0.01 && alp.moved > 0.01, `embeddings should train: ${JSON.stringify(results)}`);
  assert.ok(alp.robust > std.robust + 0.2, `ALP should be more robust in embedding space: ${JSON.stringify(results)}`);
});
