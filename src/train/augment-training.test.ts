/**
 * Training with --augment: reproducible from the seed, bit-identical across interruptions, the same
 * examples for any worker count, and refused for text data.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type * as tf from '@tensorflow/tfjs';
import { toyDataset, useBackend } from '../testing/setup.js';
import { keywordTexts, TINY_L, TINY_V } from '../testing/tiny-text.js';
import { buildArch } from '../model/architectures.js';
import { augmentBatch } from '../data/augment.js';
import { Batcher, byteDataset, type Dataset } from '../data/dataset.js';
import { splitTrainVal } from './val-split.js';
import { resolveConfig, type ConfigOverrides, type TrainConfig } from './config.js';
import { trainModel } from './trainer.js';
import { startInThread, type ReplicaGroup, type ReplicaStarter } from './data-parallel.js';
import type { ShareTask } from './replica.js';

const data = toyDataset(96, 5);
const augment = { crop: 2, flip: true };

function config(o: ConfigOverrides = {}): TrainConfig {
  return resolveConfig(undefined, {
    method: 'alp', arch: 'mlp', epochs: 2, batchSize: 16, eps: 0.2, attackSteps: 3, attackStepSize: 0.1,
    lr: 0.01, schedule: 'cosine', evalEvery: 0, seed: 7, augment, ...o,
  });
}

const mlp = (): tf.LayersModel => buildArch('mlp', { inputShape: [6, 6, 1], numClasses: 4, seed: 7 });
const bits = (m: tf.LayersModel): number[][] => m.getWeights().map((w) => Array.from(new Uint32Array(Float32Array.from(w.dataSync() as Float32Array).buffer)));

test('augmented training: the same seed gives the same weights bit for bit; without --augment they differ', async () => {
  await useBackend();
  const a = mlp(), b = mlp(), plain = mlp();
  await trainModel(a, data, null, config());
  await trainModel(b, data, null, config());
  await trainModel(plain, data, null, config({ augment: undefined }));
  assert.deepEqual(bits(a), bits(b));
  assert.notDeepEqual(bits(a), bits(plain));
  for (const m of [a, b, plain]) m.dispose();
});

test('augmented training interrupted twice and resumed ends bit-identical to the uninterrupted run', async () => {
  await useBackend();
  const dir = mkdtempSync(join(tmpdir(), 'alp-augment-resume-'));
  try {
    const straight = mlp();
    await trainModel(straight, data, null, config());
    let resumed = mlp();
    await trainModel(resumed, data, null, config(), { checkpointDir: dir, stopAfterSteps: 3 });
    // Stops inside epoch 0 and inside epoch 1 (6 steps an epoch): the epoch of the draws survives the checkpoint.
    for (const more of [5]) {
      resumed.dispose();
      resumed = buildArch('mlp', { inputShape: [6, 6, 1], numClasses: 4, seed: 999 });
      await trainModel(resumed, data, null, config(), { checkpointDir: dir, resume: true, stopAfterSteps: more });
    }
    resumed.dispose();
    resumed = buildArch('mlp', { inputShape: [6, 6, 1], numClasses: 4, seed: 999 });
    const s = await trainModel(resumed, data, null, config(), { checkpointDir: dir, resume: true });
    assert.equal(s.step, 12);
    assert.deepEqual(bits(resumed), bits(straight));
    // Resuming without the augmentation the run started with is another run: refused.
    await assert.rejects(trainModel(mlp(), data, null, config({ augment: undefined }), { checkpointDir: dir, resume: true }), /cannot resume with a different configuration \(augment: checkpoint \{"crop":2,"flip":true\}, now undefined\)/);
    straight.dispose();
    resumed.dispose();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

/** Records the rows every replica is handed, by (step, example). */
function recordingRows(into: Map<string, number[]>): ReplicaStarter {
  return async (size, init) => {
    const g = await startInThread(size, init);
    const wrapped: ReplicaGroup = {
      size: g.size,
      gradients: (tasks: ShareTask[]) => {
        for (const t of tasks) {
          const row = t.x.length / Math.max(t.y.length, 1);
          t.ids.forEach((id, j) => into.set(`${t.step}/${id}`, Array.from(t.x.subarray(j * row, (j + 1) * row))));
        }
        return g.gradients(tasks);
      },
      apply: (u) => g.apply(u),
      state: (r, w) => g.state(r, w),
      close: () => g.close(),
    };
    return wrapped;
  };
}

test('workers: 2 and 3 replicas are handed the augmented examples a single thread trains on', async () => {
  await useBackend();
  const c = config({ epochs: 2 });
  // What one thread trains on: the batcher's batches, augmented for their epoch.
  const batcher = new Batcher(data, { batchSize: c.batchSize, shuffle: true, seed: c.seed, dropLast: true });
  const want = new Map<string, number[]>();
  let step = 0;
  for (let epoch = 0; epoch < c.epochs; epoch++) {
    for (const b of batcher.batches(epoch)) {
      const x = augmentBatch(b.x, b.ids, data.shape, augment, c.seed, epoch);
      b.ids.forEach((id, j) => want.set(`${step}/${id}`, Array.from(x.subarray(j * 36, (j + 1) * 36))));
      step++;
    }
  }
  for (const workers of [2, 3]) {
    const got = new Map<string, number[]>();
    const m = mlp();
    await trainModel(m, data, null, c, { workers, startReplicas: recordingRows(got) });
    assert.equal(got.size, want.size);
    for (const [k, v] of want) assert.deepEqual(got.get(k), v, `${workers} workers, step/example ${k}`);
    m.dispose();
  }
  // And the single thread does train on them: with the attack off, 2 replicas track 1 to float rounding.
  const one = mlp(), two = mlp();
  await trainModel(one, data, null, { ...c, eps: 0 });
  await trainModel(two, data, null, { ...c, eps: 0 }, { workers: 2, startReplicas: startInThread });
  const w1 = one.getWeights().map((w) => w.dataSync() as Float32Array), w2 = two.getWeights().map((w) => w.dataSync() as Float32Array);
  const d = Math.max(...w1.map((w, i) => Math.max(...Array.from(w, (v, j) => Math.abs(v - ((w2[i] as Float32Array)[j] as number))))));
  assert.ok(d <= 1e-5, `max weight difference ${d}`);
  const off = mlp();
  const { augment: _augment, ...unaugmented } = c;
  await trainModel(off, data, null, { ...unaugmented, eps: 0 });
  const w0 = off.getWeights().map((w) => w.dataSync() as Float32Array);
  assert.ok(Math.max(...w0.map((w, i) => Math.max(...Array.from(w, (v, j) => Math.abs(v - ((w1[i] as Float32Array)[j] as number)))))) > 1e-3, 'augmentation changed nothing');
  for (const m of [one, two, off]) m.dispose();
});

test('byte-backed images (a decoded folder) train, validate and resume bit-identical to the same images as float32', async () => {
  await useBackend();
  // The toy images rounded to bytes: once as uint8 rows (what an image folder loads as), once as float32.
  const pixels = Uint8Array.from(data.images, (v) => Math.round(v * 255));
  const fields = { name: 'toy', labels: data.labels, count: data.count, shape: data.shape, numClasses: 4 };
  const asBytes = byteDataset(fields, { pixels, rows: null });
  const asFloat: Dataset = { ...fields, images: Float32Array.from(pixels, (v) => v / 255) };
  const c = config({ valSize: 16, evalEvery: 0, evalAttackSteps: 2 });
  const fs = splitTrainVal(asFloat, c), bs = splitTrainVal(asBytes, c);
  // The split of the bytes is a pair of index views on them, not copies.
  assert.equal(bs.train.bytes?.pixels, pixels);
  assert.equal(bs.val?.bytes?.pixels, pixels);
  assert.deepEqual(bs.validation, fs.validation);
  const f = mlp(), b = mlp();
  const sf = await trainModel(f, fs.train, fs.val, c);
  const dir = mkdtempSync(join(tmpdir(), 'alp-bytes-resume-'));
  try {
    await trainModel(b, bs.train, bs.val, c, { checkpointDir: dir, stopAfterSteps: 4 });
    b.dispose();
    const b2 = buildArch('mlp', { inputShape: [6, 6, 1], numClasses: 4, seed: 999 });
    const sb = await trainModel(b2, bs.train, bs.val, c, { checkpointDir: dir, resume: true });
    assert.deepEqual(bits(b2), bits(f));
    assert.deepEqual(sb.evals.map((e) => [e.cleanAcc, e.robustAcc]), sf.evals.map((e) => [e.cleanAcc, e.robustAcc]));
    b2.dispose();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  f.dispose();
});

test('refused for text data before anything is trained', async () => {
  await useBackend();
  const texts = keywordTexts(64, 1);
  const m = buildArch('text-cnn', { inputShape: [TINY_L, 1, 1], numClasses: 2, seed: 1, vocabularySize: TINY_V });
  const before = m.getWeights().map((w) => Array.from(w.dataSync()));
  await assert.rejects(trainModel(m, texts, null, config({ arch: 'text-cnn', batchSize: 16 })), /augment: not for text data \(keywords holds token ids/);
  assert.deepEqual(m.getWeights().map((w) => Array.from(w.dataSync())), before);
  m.dispose();
});
