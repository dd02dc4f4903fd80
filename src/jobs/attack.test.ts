import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { toyDataset, trainedToyModel, useBackend } from '../testing/setup.js';
import { subset, type Dataset } from '../data/index.js';
import { dataRecord } from '../data/digest.js';
import { buildArch } from '../model/architectures.js';
import type { SuiteSpec } from '../eval/suite.js';
import { mergeShards } from './merge.js';
import { runAttackJob, type AttackJobSpec } from './attack.js';
import { silentLog } from './log.js';
import type * as tf from '@tensorflow/tfjs';

const tmp = mkdtempSync(join(tmpdir(), 'alp-attack-job-'));
test.after(() => rmSync(tmp, { recursive: true, force: true }));

const suite: SuiteSpec = { threat: { norm: 'linf', eps: 0.28 }, attacks: ['pgd-ce'], steps: 5, restarts: 2, seed: 7 };

function spec(model: tf.LayersModel, ds: Dataset, out: string, batchSize = 4): AttackJobSpec {
  return { modelPath: 'toy', weightsHash: null, model, ds, data: dataRecord(ds), suite, out, batchSize, versions: { alp: 'test' }, warnings: [], backend: 'test', workers: 1 };
}

/** Every file under `dir` (wav/ included), by relative path. */
function files(dir: string): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  for (const f of readdirSync(dir, { recursive: true, withFileTypes: true })) {
    if (f.isFile()) out.set(join(f.parentPath, f.name).slice(dir.length + 1), readFileSync(join(f.parentPath, f.name)));
  }
  return out;
}

/** Runs the whole attack and its 2 (or 3) shards, merges these, and returns the two folders' files. */
async function wholeAndMerged(name: string, model: tf.LayersModel, ds: Dataset, count: number, batchSize = 4): Promise<{ whole: Map<string, Buffer>; merged: Map<string, Buffer>; fooled: number }> {
  const whole = await runAttackJob(spec(model, ds, join(tmp, name), batchSize), silentLog);
  const shards = [];
  for (let k = 1; k <= count; k++) {
    const out = join(tmp, `${name}-${k}`);
    const r = await runAttackJob({ ...spec(model, ds, out, batchSize), shard: { index: k, count } }, silentLog);
    assert.ok(r.files.includes('clean.f32'), 'a shard keeps its clean rows for merge');
    shards.push(out);
  }
  const m = mergeShards(shards.reverse());
  assert.equal(m.kind, 'attack');
  if (m.kind === 'attack') m.write(join(tmp, `${name}-merged`));
  return { whole: files(join(tmp, name)), merged: files(join(tmp, `${name}-merged`)), fooled: whole.fooled };
}

test('attack job: 2 shards (cut at whole batches of 4) merged are the unsharded folder byte for byte (PNG grid, adversarial.f32, attack.json)', async () => {
  const { model, ds: all } = await trainedToyModel();
  const ds = subset(all, 0, 12);
  const { whole, merged, fooled } = await wholeAndMerged('image', model, ds, 2);
  // Some rows fooled and some not, or equality would say little.
  assert.ok(fooled > 0 && fooled < 12, `fooled ${fooled}/12`);
  assert.deepEqual([...merged.keys()].sort(), ['adversarial.f32', 'adversarial.png', 'attack.json']);
  for (const [f, b] of whole) assert.ok(b.equals(merged.get(f) as Buffer), `${f} differs`);
  assert.equal(whole.size, merged.size);
});

test('attack job on audio: the merged WAV pairs are named by example and equal the unsharded ones; an empty shard merges too', async () => {
  await useBackend();
  const toy = toyDataset(5, 3);
  const ds: Dataset = { ...toy, shape: [1, 36, 1], sampleRate: 8000 };
  const model = buildArch('mlp', { inputShape: [1, 36, 1], numClasses: 4, seed: 1 });
  // 3 shards of 5 examples: none is empty; then 6 shards of 5: one is.
  for (const count of [3, 6]) {
    const { whole, merged } = await wholeAndMerged(`audio-${count}`, model, ds, count, 1);
    assert.ok(whole.has('wav/4-adversarial.wav') && whole.size === 3 + 10, [...whole.keys()].join(' '));
    assert.deepEqual([...merged.keys()].sort(), [...whole.keys()].sort());
    for (const [f, b] of whole) assert.ok(b.equals(merged.get(f) as Buffer), `${f} differs`);
  }
});

test('attack shards of another seed or target are refused by name', async () => {
  const { model, ds: all } = await trainedToyModel();
  const ds = subset(all, 0, 4);
  const a = join(tmp, 'mix-1'), b = join(tmp, 'mix-2');
  await runAttackJob({ ...spec(model, ds, a), shard: { index: 1, count: 2 } }, silentLog);
  await runAttackJob({ ...spec(model, ds, b), suite: { ...suite, seed: 8 }, shard: { index: 2, count: 2 } }, silentLog);
  assert.throws(() => mergeShards([a, b]), /mix-2.*attack\.json: field shard\.run differs/);
});
