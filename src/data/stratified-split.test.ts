import { test } from 'node:test';
import assert from 'node:assert/strict';
import { splitTrainVal } from '../jobs/train.js';
import type { Dataset } from './dataset.js';
import { classQuotas, splitDigest, stratifiedSplit } from './stratified-split.js';

/** `perClass` examples of each of `classes` classes, sorted by class (as a folder per class reads); pixel = its index. */
function sortedByClass(perClass: readonly number[]): Dataset {
  const labels = Int32Array.from(perClass.flatMap((n, k) => Array.from({ length: n }, () => k)));
  const images = Float32Array.from({ length: labels.length * 2 }, (_, i) => Math.floor(i / 2));
  return { name: 'sorted', images, labels, count: labels.length, shape: [1, 2, 1], numClasses: perClass.length };
}

const countBy = (labels: ArrayLike<number>, classes: number): number[] => {
  const c = new Array<number>(classes).fill(0);
  for (let i = 0; i < labels.length; i++) c[labels[i] as number] = (c[labels[i] as number] as number) + 1;
  return c;
};

test('quotas: proportional to the class counts, summing to the size, remainders to the largest fractions then the lower class', () => {
  assert.deepEqual(classQuotas([50, 30, 20], 10), [5, 3, 2]);
  assert.deepEqual(classQuotas([100, 100, 100], 10), [4, 3, 3]);
  assert.deepEqual(classQuotas([90, 10], 5), [5, 0]);
  assert.deepEqual(classQuotas([7, 1, 1, 1], 4), [3, 1, 0, 0]);
  assert.deepEqual(classQuotas([3, 0, 5], 8), [3, 0, 5]);
  for (const [counts, size] of [[[5923, 6742, 5958], 500], [[1, 2, 3, 4], 7], [[10, 10], 0]] as Array<[number[], number]>) {
    const q = classQuotas(counts, size);
    assert.equal(q.reduce((a, b) => a + b, 0), size);
    q.forEach((v, k) => assert.ok(v <= (counts[k] as number) && Math.abs(v - (size * (counts[k] as number)) / counts.reduce((a, b) => a + b, 0)) < 1, `${counts} ${size}: ${q}`));
  }
  assert.throws(() => classQuotas([2, 2], 5), /validation size: expected an integer in \[0, 4\], found 5/);
});

test('data sorted by class: every class is held out in proportion (the last N rows would all be the last class)', () => {
  const ds = sortedByClass([300, 200, 100]);
  const s = stratifiedSplit(ds.labels, 3, 60, 1);
  assert.deepEqual(s.perClass, [30, 20, 10]);
  assert.deepEqual(countBy(Array.from(s.val, (i) => ds.labels[i] as number), 3), [30, 20, 10]);
  assert.deepEqual(countBy(ds.labels.subarray(ds.count - 60), 3), [0, 0, 60]);
  // Disjoint, complete, ascending.
  assert.equal(s.val.length + s.train.length, ds.count);
  const all = [...s.val, ...s.train].sort((a, b) => a - b);
  assert.deepEqual(all, Array.from({ length: ds.count }, (_, i) => i));
  for (const a of [s.val, s.train]) for (let i = 1; i < a.length; i++) assert.ok((a[i] as number) > (a[i - 1] as number));
  // Not the first rows of each class either: drawn by the seed.
  assert.ok(Array.from(s.val).some((i) => i >= 30 && i < 300), 'class 0 held out only from its first rows');
});

test('the split is a function of (labels, size, seed): the same again, another with another seed', () => {
  const ds = sortedByClass([40, 40, 40, 40]);
  const a = stratifiedSplit(ds.labels, 4, 20, 7), b = stratifiedSplit(ds.labels, 4, 20, 7), c = stratifiedSplit(ds.labels, 4, 20, 8);
  assert.deepEqual(a, b);
  assert.equal(splitDigest(a.val), splitDigest(b.val));
  assert.notDeepEqual(a.val, c.val);
  assert.notEqual(splitDigest(a.val), splitDigest(c.val));
  assert.deepEqual(c.perClass, [5, 5, 5, 5]);
  assert.throws(() => stratifiedSplit(Int32Array.from([0, 3]), 2, 1, 0), /example 1: expected a class in \[0, 1\], found 3/);
});

test('splitTrainVal: held-out rows leave the training set, which keeps its order; --train-size keeps its first N; made once per dataset', () => {
  const ds = sortedByClass([30, 30]);
  const r = splitTrainVal(ds, { valSize: 10, trainSize: 0, seed: 3 });
  assert.ok(r.val !== null && r.validation !== null);
  assert.equal(r.train.count, 50);
  assert.deepEqual(r.validation.perClass, [5, 5]);
  assert.deepEqual(countBy(r.val.labels, 2), [5, 5]);
  // Each row is the example it was (pixel = index), and no example is in both.
  const trainIds = Array.from({ length: r.train.count }, (_, i) => r.train.images[2 * i] as number);
  const valIds = Array.from({ length: r.val.count }, (_, i) => r.val?.images[2 * i] as number);
  assert.deepEqual([...trainIds, ...valIds].sort((a, b) => a - b), Array.from({ length: 60 }, (_, i) => i));
  trainIds.forEach((id, i) => assert.equal(r.train.labels[i], ds.labels[id]));
  for (let i = 1; i < trainIds.length; i++) assert.ok((trainIds[i] as number) > (trainIds[i - 1] as number));
  assert.equal(r.validation.digest, splitDigest(Int32Array.from(valIds)));
  assert.equal(splitTrainVal(ds, { valSize: 10, trainSize: 0, seed: 3 }), r);
  const small = splitTrainVal(ds, { valSize: 10, trainSize: 8, seed: 3 });
  assert.deepEqual(Array.from({ length: 8 }, (_, i) => small.train.images[2 * i]), trainIds.slice(0, 8));
  assert.deepEqual(small.val?.labels, r.val.labels);
  // Nothing held out: the data as it is, and no record.
  const none = splitTrainVal(ds, { valSize: 0, trainSize: 0, seed: 3 });
  assert.deepEqual([none.train.count, none.val, none.validation], [60, null, null]);
  // At most half is held out, as before.
  assert.equal(splitTrainVal(ds, { valSize: 1000, trainSize: 0, seed: 3 }).val?.count, 30);
});
