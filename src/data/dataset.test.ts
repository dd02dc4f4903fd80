import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { tempDir, userError } from '../testing/files.js';
import { writeIdx } from './idx.js';
import { Batcher, byteDataset, fromIdx, subset, take, toTensors, type Dataset } from './dataset.js';

/** n images of h×w, pixel value (i*7 + p) % 256, labels i % 10. */
function writePair(dir: string, n: number, h: number, w: number, nLabels = n, labelOf = (i: number) => i % 10) {
  const img = new Uint8Array(n * h * w);
  for (let i = 0; i < img.length; i++) img[i] = (Math.floor(i / (h * w)) * 7 + (i % (h * w))) % 256;
  const lab = new Uint8Array(nLabels);
  for (let i = 0; i < nLabels; i++) lab[i] = labelOf(i);
  const images = join(dir, 'images-idx3-ubyte');
  const labels = join(dir, 'labels-idx1-ubyte.gz');
  writeIdx(images, { dtype: 'uint8', shape: [n, h, w], data: img });
  writeIdx(labels, { dtype: 'uint8', shape: [nLabels], data: lab });
  return { images, labels, img };
}

/** A small in-memory dataset: image i is filled with i/255, label i % 3. */
function tiny(n: number, shape: [number, number, number] = [2, 2, 1]): Dataset {
  const row = shape[0] * shape[1] * shape[2];
  const images = new Float32Array(n * row);
  const labels = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    images.fill(i / 255, i * row, (i + 1) * row);
    labels[i] = i % 3;
  }
  return { name: 'tiny', images, labels, count: n, shape, numClasses: 3 };
}

test('fromIdx scales to [0,1] and reads rank-3 images as C=1', (t) => {
  const f = writePair(tempDir(t, 'alp-ds-'), 5, 3, 4);
  const ds = fromIdx('fx', f.images, f.labels);
  assert.equal(ds.count, 5);
  assert.deepEqual(ds.shape, [3, 4, 1]);
  assert.equal(ds.numClasses, 10);
  assert.equal(ds.images.length, 5 * 12);
  for (let i = 0; i < ds.images.length; i++) assert.equal(ds.images[i], Math.fround((f.img[i] as number) / 255));
  assert.deepEqual(Array.from(ds.labels), [0, 1, 2, 3, 4]);
});

test('fromIdx accepts rank-4 NHWC images and class names', (t) => {
  const dir = tempDir(t, 'alp-ds-');
  const images = join(dir, 'i');
  const labels = join(dir, 'l');
  writeIdx(images, { dtype: 'uint8', shape: [2, 2, 2, 3], data: Uint8Array.from({ length: 24 }, (_, i) => i * 10) });
  writeIdx(labels, { dtype: 'uint8', shape: [2], data: Uint8Array.from([1, 0]) });
  const ds = fromIdx('rgb', images, labels, { classNames: ['a', 'b'] });
  assert.deepEqual(ds.shape, [2, 2, 3]);
  assert.equal(ds.numClasses, 2);
  assert.deepEqual(ds.classNames, ['a', 'b']);
  assert.equal(ds.images[23], Math.fround(230 / 255));
});

test('image/label count mismatch names both files and both counts', (t) => {
  const f = writePair(tempDir(t, 'alp-ds-'), 5, 2, 2, 4);
  assert.throws(
    () => fromIdx('fx', f.images, f.labels),
    userError(/images-idx3-ubyte has 5 images, .*labels-idx1-ubyte\.gz has 4 labels/),
  );
});

test('label out of range', (t) => {
  const f = writePair(tempDir(t, 'alp-ds-'), 4, 2, 2, 4, (i) => (i === 2 ? 10 : 1));
  assert.throws(() => fromIdx('fx', f.images, f.labels), userError(/labels-idx1-ubyte\.gz: label 2: expected a class in \[0, 9\], found 10/));
  const ok = fromIdx('fx', f.images, f.labels, { numClasses: 11 });
  assert.equal(ok.labels[2], 10);
});

test('fromIdx rejects wrong dtypes and ranks', (t) => {
  const dir = tempDir(t, 'alp-ds-');
  const f = writePair(dir, 3, 2, 2);
  const flt = join(dir, 'float');
  writeIdx(flt, { dtype: 'float32', shape: [3, 2, 2], data: new Float32Array(12) });
  assert.throws(() => fromIdx('fx', flt, f.labels), userError(/float: images: expected IDX type uint8 .*found float32/));
  const flat = join(dir, 'flat');
  writeIdx(flat, { dtype: 'uint8', shape: [3, 4], data: new Uint8Array(12) });
  assert.throws(() => fromIdx('fx', flat, f.labels), userError(/flat: images: expected rank 3 .*found rank 2/));
  assert.throws(() => fromIdx('fx', f.images, f.images), userError(/labels: expected rank 1/));
});

test('subset and take', () => {
  const ds = tiny(10);
  const s = subset(ds, 3, 4);
  assert.equal(s.count, 4);
  assert.deepEqual(Array.from(s.labels), [0, 1, 2, 0]);
  assert.equal(s.images[0], Math.fround(3 / 255));
  assert.equal(s.images.length, 16);
  assert.throws(() => subset(ds, 8, 3), userError(/subset count: expected an integer in \[0, 2\], found 3/));
  const tk = take(ds, Int32Array.from([9, 0, 9]));
  assert.equal(tk.count, 3);
  assert.deepEqual(Array.from(tk.labels), [0, 0, 0]);
  assert.equal(tk.images[0], Math.fround(9 / 255));
  assert.equal(tk.images[4], 0);
  assert.throws(() => take(ds, Int32Array.from([10])), userError(/index 0: expected an example in \[0, 9\], found 10/));
});

function isPermutation(p: Int32Array, n: number): boolean {
  if (p.length !== n) return false;
  const seen = new Uint8Array(n);
  for (const i of p) {
    if (i < 0 || i >= n || seen[i]) return false;
    seen[i] = 1;
  }
  return true;
}

test('Batcher: epoch order is a deterministic function of (seed, epoch)', () => {
  const ds = tiny(100);
  const a = new Batcher(ds, { batchSize: 7, shuffle: true, seed: 42 });
  const b = new Batcher(ds, { batchSize: 13, shuffle: true, seed: 42 });
  assert.deepEqual(a.epochOrder(3), b.epochOrder(3));
  assert.deepEqual(a.epochOrder(3), a.epochOrder(3));
  assert.notDeepEqual(a.epochOrder(0), a.epochOrder(1));
  assert.notDeepEqual(a.epochOrder(0), new Batcher(ds, { batchSize: 7, shuffle: true, seed: 43 }).epochOrder(0));
  for (let e = 0; e < 5; e++) assert.ok(isPermutation(a.epochOrder(e), 100));
  const plain = new Batcher(ds, { batchSize: 7, shuffle: false, seed: 42 });
  assert.deepEqual(Array.from(plain.epochOrder(5)), Array.from({ length: 100 }, (_, i) => i));
});

test('Batcher: every example exactly once per epoch, contiguous copies', () => {
  const ds = tiny(23);
  const bt = new Batcher(ds, { batchSize: 5, shuffle: true, seed: 1 });
  assert.equal(bt.numBatches, 5);
  const order = bt.epochOrder(2);
  const seen: number[] = [];
  const sizes: number[] = [];
  let k = 0;
  for (const batch of bt.batches(2)) {
    assert.equal(batch.index, k++);
    sizes.push(batch.size);
    assert.equal(batch.x.length, batch.size * 4);
    assert.equal(batch.x.byteOffset, 0);
    assert.equal(batch.x.buffer.byteLength, batch.x.byteLength);
    for (let j = 0; j < batch.size; j++) {
      const id = Math.round((batch.x[j * 4] as number) * 255);
      assert.equal(batch.y[j], id % 3);
      seen.push(id);
    }
  }
  assert.deepEqual(sizes, [5, 5, 5, 5, 3]);
  assert.deepEqual(seen, Array.from(order));
  assert.ok(isPermutation(Int32Array.from(seen), 23));

  const dl = new Batcher(ds, { batchSize: 5, shuffle: true, seed: 1, dropLast: true });
  assert.equal(dl.numBatches, 4);
  assert.deepEqual([...dl.batches(2)].map((b) => b.size), [5, 5, 5, 5]);
});

test('Batcher: startBatch resumes the same sequence', () => {
  const ds = tiny(50);
  const mk = () => new Batcher(ds, { batchSize: 8, shuffle: true, seed: 9, dropLast: true });
  const full = [...mk().batches(4)];
  const resumed = [...mk().batches(4, 3)];
  assert.equal(resumed.length, full.length - 3);
  resumed.forEach((b, i) => {
    const f = full[i + 3]!;
    assert.equal(b.index, f.index);
    assert.deepEqual(b.y, f.y);
    assert.deepEqual(b.x, f.x);
  });
  assert.equal([...mk().batches(4, mk().numBatches)].length, 0);
  assert.throws(() => [...mk().batches(4, 99)], userError(/start batch: expected an integer in \[0, 6\], found 99/));
  assert.throws(() => new Batcher(ds, { batchSize: 0, shuffle: true, seed: 1 }), userError(/batch size/));
});

test('toTensors for a dataset and a batch', () => {
  const ds = tiny(6, [2, 1, 2]);
  const t1 = toTensors(ds);
  assert.deepEqual(t1.x.shape, [6, 2, 1, 2]);
  assert.equal(t1.y.dtype, 'int32');
  assert.deepEqual(Array.from(t1.y.dataSync()), [0, 1, 2, 0, 1, 2]);
  const batch = [...new Batcher(ds, { batchSize: 4, shuffle: false, seed: 0 }).batches(0)][1]!;
  const t2 = toTensors(batch, ds.shape);
  assert.deepEqual(t2.x.shape, [2, 2, 1, 2]);
  assert.deepEqual(Array.from(t2.y.dataSync()), [1, 2]);
  tf.dispose([t1.x, t1.y, t2.x, t2.y]);
});

test('byte-backed datasets: batches, views and images equal the float dataset they stand for', () => {
  const shape: [number, number, number] = [2, 3, 2];
  const row = 12;
  const n = 23;
  const pixels = Uint8Array.from({ length: n * row }, (_, k) => (k * 37 + 11) % 256);
  const labels = Int32Array.from({ length: n }, (_, i) => (i * 5) % 3);
  const float: Dataset = { name: 'f', images: Float32Array.from(pixels, (v) => v / 255), labels, count: n, shape, numClasses: 3 };
  const bytes = byteDataset({ name: 'f', labels, count: n, shape, numClasses: 3 }, { pixels, rows: null });
  assert.ok(bytes.bytes !== undefined);
  const idx = Int32Array.from([20, 3, 7, 11, 0, 19, 5]);
  for (const [a, b] of [[float, bytes], [take(float, idx), take(bytes, idx)], [subset(take(float, idx), 2, 4), subset(take(bytes, idx), 2, 4)]] as Array<[Dataset, Dataset]>) {
    assert.equal(b.count, a.count);
    assert.deepEqual(b.labels, a.labels);
    for (const [epoch, start] of [[0, 0], [3, 1]] as const) {
      const o = { batchSize: 3, shuffle: true, seed: 9 };
      const fa = [...new Batcher(a, o).batches(epoch, start)];
      const fb = [...new Batcher(b, o).batches(epoch, start)];
      assert.deepEqual(fb, fa);
    }
    // `images`, built on first read, is the float dataset's; a spread copy is a plain float dataset.
    assert.deepEqual(b.images, a.images);
    assert.equal({ ...b }.bytes, undefined);
    assert.deepEqual({ ...b }.images, a.images);
  }
  // A view shares the bytes: no pixel is copied.
  assert.equal(take(bytes, idx).bytes?.pixels, pixels);
  assert.deepEqual(take(bytes, idx).bytes?.rows, idx);
  assert.deepEqual(subset(take(bytes, idx), 2, 4).bytes?.rows, idx.subarray(2, 6));
  assert.throws(() => take(bytes, Int32Array.from([n])), /take: index 0/);
  assert.equal(row * n, pixels.length);
});
