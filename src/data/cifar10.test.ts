import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir, userError } from '../testing/files.js';
import { CIFAR10_RECORD_SIZE, loadCifar10, readCifar10Batch } from './cifar10.js';

/** Pixel byte of record r, channel c, row y, column x: a value that identifies all four. */
function pix(r: number, c: number, y: number, x: number): number {
  return (r * 31 + c * 85 + y * 5 + x * 3) % 256;
}

function records(n: number, labelOf = (r: number) => r % 10): Buffer {
  const b = Buffer.alloc(n * CIFAR10_RECORD_SIZE);
  for (let r = 0; r < n; r++) {
    const o = r * CIFAR10_RECORD_SIZE;
    b[o] = labelOf(r);
    for (let c = 0; c < 3; c++) for (let y = 0; y < 32; y++) for (let x = 0; x < 32; x++) b[o + 1 + c * 1024 + y * 32 + x] = pix(r, c, y, x);
  }
  return b;
}

test('CIFAR-10 batch: CHW planes become HWC', (t) => {
  const p = join(tempDir(t, 'alp-cifar-'), 'test_batch.bin');
  writeFileSync(p, records(3));
  const ds = readCifar10Batch(p);
  assert.equal(ds.count, 3);
  assert.deepEqual(ds.shape, [32, 32, 3]);
  assert.equal(ds.numClasses, 10);
  assert.equal(ds.classNames?.[3], 'cat');
  assert.deepEqual(Array.from(ds.labels), [0, 1, 2]);
  // A specific pixel: record 2, row 5, column 17: HWC index ((2*32 + 5)*32 + 17)*3 + c
  const at = ((2 * 32 + 5) * 32 + 17) * 3;
  assert.equal(ds.images[at], Math.fround(pix(2, 0, 5, 17) / 255));
  assert.equal(ds.images[at + 1], Math.fround(pix(2, 1, 5, 17) / 255));
  assert.equal(ds.images[at + 2], Math.fround(pix(2, 2, 5, 17) / 255));
  // Spot-check everything.
  for (let r = 0; r < 3; r++)
    for (let y = 0; y < 32; y += 7)
      for (let x = 0; x < 32; x += 3)
        for (let c = 0; c < 3; c++) assert.equal(ds.images[((r * 32 + y) * 32 + x) * 3 + c], Math.fround(pix(r, c, y, x) / 255));
});

test('CIFAR-10 batch: bad size and bad label', (t) => {
  const dir = tempDir(t, 'alp-cifar-');
  const p = join(dir, 'bad.bin');
  writeFileSync(p, records(2).subarray(0, 2 * CIFAR10_RECORD_SIZE - 1));
  assert.throws(() => readCifar10Batch(p), userError(/bad\.bin: file size: expected a non-zero multiple of .* 3073 .*found 6145 bytes/));
  writeFileSync(p, Buffer.alloc(0));
  assert.throws(() => readCifar10Batch(p), userError(/found 0 bytes/));
  writeFileSync(p, records(2, (r) => (r === 1 ? 10 : 0)));
  assert.throws(() => readCifar10Batch(p), userError(/bad\.bin: record 1: label: expected a class in \[0, 9\], found 10/));
});

test('loadCifar10 reads the five train batches, also from cifar-10-batches-bin/', (t) => {
  const dir = tempDir(t, 'alp-cifar-');
  const inner = join(dir, 'cifar-10-batches-bin');
  mkdirSync(inner);
  for (let i = 1; i <= 5; i++) writeFileSync(join(inner, `data_batch_${i}.bin`), records(i, () => i));
  writeFileSync(join(inner, 'test_batch.bin'), records(2));
  const train = loadCifar10('train', { dataDir: dir });
  assert.equal(train.count, 15);
  assert.deepEqual(Array.from(train.labels), [1, 2, 2, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 5]);
  assert.equal(loadCifar10('test', { dataDir: inner }).count, 2);
  assert.throws(() => loadCifar10('test'), userError(/cifar10: no data folder given/));
  rmSync(join(inner, 'data_batch_4.bin'));
  assert.throws(() => loadCifar10('train', { dataDir: inner }), userError(/no train batch file in .*; looked for data_batch_4\.bin/));
});
