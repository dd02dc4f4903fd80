/**
 * The first MNIST training images written as a PNG class folder and as a Keras-layout .npz train to
 * bit-identical weights as the same images read from IDX files: same seed, same example order (the
 * folder's documented order: each class's files by name, classes interleaved; class-folders.ts).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { zipSync } from 'fflate';
import { useBackend } from '../testing/setup.js';
import { resolveConfig } from '../train/config.js';
import { runTraining } from '../jobs/train.js';
import { loadMnist } from './mnist.js';
import { writeIdx } from './idx.js';
import { interleave } from './class-folders.js';

const tmp = mkdtempSync(join(tmpdir(), 'alp-own-mnist-'));
process.on('exit', () => rmSync(tmp, { recursive: true, force: true }));
// The decoded-image cache goes to this temp folder, not the user's ~/.cache (children inherit it).
process.env['XDG_CACHE_HOME'] = join(tmp, 'cache');

function npy(descr: string, shape: number[], data: Uint8Array): Uint8Array {
  let header = `{'descr': '${descr}', 'fortran_order': False, 'shape': (${shape.join(', ')}${shape.length === 1 ? ',' : ''}), }`;
  header += ' '.repeat((64 - ((10 + header.length + 1) % 64)) % 64) + '\n';
  const out = new Uint8Array(10 + header.length + data.length);
  out.set([0x93, 78, 85, 77, 80, 89, 1, 0, header.length & 255, header.length >> 8]);
  out.set(Array.from(header, (c) => c.charCodeAt(0)), 10);
  out.set(data, 10 + header.length);
  return out;
}

test('MNIST as a PNG folder and as an npz trains to the same weights, bit for bit, as from IDX', async () => {
  await useBackend();
  const N = 160;
  const mnist = loadMnist('train');
  const bytesOf = (i: number): Uint8Array => Uint8Array.from(mnist.images.subarray(i * 784, (i + 1) * 784), (v) => Math.round(v * 255));
  // Train: the first N images; test: the next 40 (only so the folder has a test/ of every class).
  const classFiles = (from: number, to: number): number[][] => {
    const per: number[][] = Array.from({ length: 10 }, () => []);
    for (let i = from; i < to; i++) per[mnist.labels[i] as number]!.push(i);
    return per;
  };
  let testEnd = N + 40;
  while (classFiles(N, testEnd).some((f) => f.length === 0)) testEnd += 10;
  const folder = join(tmp, 'digits');
  for (const [split, from, to] of [['train', 0, N], ['test', N, testEnd]] as const) {
    for (const [k, files] of classFiles(from, to).entries()) {
      mkdirSync(join(folder, split, String(k)), { recursive: true });
      for (const i of files) {
        await sharp(Buffer.from(bytesOf(i)), { raw: { width: 28, height: 28, channels: 1 } }).toColourspace('b-w').png()
          .toFile(join(folder, split, String(k), `${String(i).padStart(5, '0')}.png`));
      }
    }
  }
  // The same images, in the folder's order, as IDX files and as an npz.
  const order = (from: number, to: number): number[] => interleave(classFiles(from, to).map((f) => f.map(String))).map((x) => Number(x.path));
  const trainOrder = order(0, N);
  const testOrder = order(N, testEnd);
  const stack = (ids: number[]): Uint8Array => {
    const out = new Uint8Array(ids.length * 784);
    ids.forEach((i, j) => out.set(bytesOf(i), j * 784));
    return out;
  };
  const labelsOf = (ids: number[]): Uint8Array => Uint8Array.from(ids, (i) => mnist.labels[i] as number);
  const idxDir = join(tmp, 'idx');
  mkdirSync(idxDir);
  writeIdx(join(idxDir, 'train-images-idx3-ubyte'), { dtype: 'uint8', shape: [N, 28, 28], data: stack(trainOrder) });
  writeIdx(join(idxDir, 'train-labels-idx1-ubyte'), { dtype: 'uint8', shape: [N], data: labelsOf(trainOrder) });
  const npz = join(tmp, 'mnist.npz');
  writeFileSync(npz, zipSync({
    'x_train.npy': npy('|u1', [N, 28, 28], stack(trainOrder)), 'y_train.npy': npy('|u1', [N], labelsOf(trainOrder)),
    'x_test.npy': npy('|u1', [testOrder.length, 28, 28], stack(testOrder)), 'y_test.npy': npy('|u1', [testOrder.length], labelsOf(testOrder)),
  }));

  const weights: Record<string, Float32Array[]> = {};
  const examples: Record<string, number> = {};
  for (const [name, dataset, dataDir] of [['idx', 'mnist', idxDir], ['folder', folder, undefined], ['npz', npz, undefined]] as const) {
    const c = resolveConfig(undefined, { method: 'standard', dataset, epochs: 1, batchSize: 32, valSize: 0, seed: 5, lr: 2e-3 });
    const r = await runTraining(c, { out: join(tmp, `run-${name}`), checkpointEvery: 0, workers: 1, ...(dataDir !== undefined ? { dataDir } : {}) });
    weights[name] = r.model.getWeights().map((w) => w.dataSync() as Float32Array);
    examples[name] = r.train.count;
    r.model.dispose();
  }
  assert.equal(examples['folder'], N);
  for (const name of ['folder', 'npz']) {
    const a = weights['idx'] as Float32Array[];
    const b = weights[name] as Float32Array[];
    assert.equal(b.length, a.length);
    a.forEach((w, k) => assert.ok(Buffer.from(w.buffer, w.byteOffset, w.byteLength).equals(Buffer.from(b[k]!.buffer, b[k]!.byteOffset, b[k]!.byteLength)), `${name}: weight ${k} differs from the IDX run`));
  }
  // Training moved the weights (the comparison is not between two untouched initialisations).
  const init = await runTraining(resolveConfig(undefined, { method: 'standard', dataset: 'mnist', epochs: 1, batchSize: 32, valSize: 0, seed: 5, lr: 2e-3, trainSize: 32 }), { out: join(tmp, 'run-short'), checkpointEvery: 0, workers: 1, dataDir: idxDir });
  assert.ok(init.model.getWeights().some((w, k) => !Buffer.from((w.dataSync() as Float32Array).buffer).equals(Buffer.from((weights['idx'] as Float32Array[])[k]!.buffer))));
});
