import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { DEFAULT_SHIFTS, parseShifts, shiftDataset } from './shift.js';
import { subset, type Dataset } from './dataset.js';
import { evaluateGeneralisation } from '../eval/generalisation.js';
import { UserError } from '../util/errors.js';

/** n random 8×6×1 images with a bright 2×2 square, labels i mod 3. */
function toy(n: number): Dataset {
  const h = 8, w = 6;
  const images = new Float32Array(n * h * w);
  for (let i = 0; i < n; i++) {
    for (let k = 0; k < h * w; k++) images[i * h * w + k] = ((i * 31 + k * 7) % 11) / 20;
    for (const [y, x] of [[3, 2], [3, 3], [4, 2], [4, 3]]) images[i * h * w + (y as number) * w + (x as number)] = 1;
  }
  return { name: 'toy', images, labels: Int32Array.from({ length: n }, (_, i) => i % 3), count: n, shape: [h, w, 1], numClasses: 3 };
}

test('every shift is deterministic, per example, bounded to [0,1], and changes the images', () => {
  const ds = toy(12);
  for (const s of DEFAULT_SHIFTS) {
    const a = shiftDataset(ds, s, 7);
    const b = shiftDataset(ds, s, 7);
    assert.deepEqual(a.images, b.images, `${s.kind} ${s.level} is not deterministic`);
    assert.deepEqual(a.labels, ds.labels);
    assert.ok(a.images.every((v) => v >= 0 && v <= 1), `${s.kind} ${s.level} leaves [0,1]`);
    assert.notDeepEqual(a.images, ds.images, `${s.kind} ${s.level} changed nothing`);
    // The randomness is per example: the first 5 examples shift the same alone as within the whole set.
    assert.deepEqual(shiftDataset(subset(ds, 0, 5), s, 7).images, a.images.subarray(0, 5 * 8 * 6));
  }
  // A different seed draws different noise.
  assert.notDeepEqual(shiftDataset(ds, { kind: 'noise', level: 0.1 }, 1).images, shiftDataset(ds, { kind: 'noise', level: 0.1 }, 2).images);
});

test('geometry: rotation by 0 and contrast ×1 are the identity; translation moves the square by exactly the level', () => {
  const ds = toy(4);
  assert.deepEqual(shiftDataset(ds, { kind: 'rotate', level: 0 }, 0).images, ds.images);
  const c1 = shiftDataset(ds, { kind: 'contrast', level: 1 }, 0).images;
  c1.forEach((v, k) => assert.ok(Math.abs(v - (ds.images[k] as number)) < 1e-6));
  // Lower contrast keeps the image mean and shrinks the spread.
  const c = shiftDataset(ds, { kind: 'contrast', level: 0.5 }, 0).images.subarray(0, 48);
  const o = ds.images.subarray(0, 48);
  const mean = (a: Float32Array): number => a.reduce((s, v) => s + v, 0) / a.length;
  assert.ok(Math.abs(mean(c) - mean(o)) < 1e-6);
  assert.ok(Math.max(...c) - Math.min(...c) < 0.51 * (Math.max(...o) - Math.min(...o)) + 1e-6);
  // The bright square (value 1) of each translated image sits `level` pixels away along one of 8 directions.
  const t = shiftDataset(ds, { kind: 'translate', level: 1 }, 3);
  for (let i = 0; i < 4; i++) {
    const img = t.images.subarray(i * 48, (i + 1) * 48);
    const ones: Array<[number, number]> = [];
    img.forEach((v, k) => { if (v === 1) ones.push([Math.floor(k / 6), k % 6]); });
    assert.equal(ones.length, 4);
    const [y, x] = ones[0] as [number, number];
    assert.ok(Math.max(Math.abs(y - 3), Math.abs(x - 2)) === 1, `square moved to ${y},${x}`);
  }
  // A 90° rotation of a square image carries the top-left corner to a neighbouring corner.
  const sq: Dataset = { ...toy(1), images: new Float32Array(16), shape: [4, 4, 1] };
  sq.images[0] = 1;
  const r = shiftDataset(sq, { kind: 'rotate', level: 90 }, 0).images;
  assert.ok(Math.abs((r[3] as number) + (r[12] as number) - 1) < 1e-5, `corner went to ${Array.from(r).join(',')}`);
});

test('bad shifts and text datasets are refused with the entry named', () => {
  assert.throws(() => parseShifts('noise:0.1,blur:2'), (e: unknown) => e instanceof UserError && /'blur:2'.*noise, rotate/.test(e.message));
  assert.throws(() => parseShifts('contrast:0'), (e: unknown) => e instanceof UserError && /factor > 0/.test(e.message));
  assert.throws(() => parseShifts('rotate:400'), /at most 180/);
  assert.deepEqual(parseShifts('noise:0.2, rotate:15'), [{ kind: 'noise', level: 0.2 }, { kind: 'rotate', level: 15 }]);
  const text: Dataset = { ...toy(2), vocabulary: ['<pad>', 'a'] };
  assert.throws(() => shiftDataset(text, { kind: 'noise', level: 0.1 }, 0), /not token ids/);
  const audio: Dataset = { ...toy(2), images: new Float32Array(2 * 8), shape: [1, 8, 1] };
  assert.throws(() => shiftDataset(audio, { kind: 'rotate', level: 5 }, 0), /2-D images/);
});

test('evaluateGeneralisation: accuracy per shift and out-of-distribution confidence', () => {
  const ds = toy(30);
  // A fixed "model": class 0 logit = brightness of the square's top-left pixel, others 0. Translation moves
  // the square away, so accuracy on class-0 examples must drop; contrast ×1 keeps it.
  const f = (x: tf.Tensor): tf.Tensor2D => tf.tidy(() => {
    const flat = x.reshape([x.shape[0] as number, -1]);
    const v = flat.slice([0, 3 * 6 + 2], [-1, 1]).mul(10).sub(5);
    return tf.concat([v, tf.zerosLike(v), tf.zerosLike(v).sub(100)], 1) as tf.Tensor2D;
  });
  const r = evaluateGeneralisation(f, ds, { shifts: [{ kind: 'contrast', level: 1 }, { kind: 'translate', level: 2 }], ood: toy(10), threshold: 0.9 });
  assert.equal(r.clean.accuracy, 10 / 30); // every square is bright: always class 0, right for i mod 3 = 0
  assert.equal(r.shifts[0]?.accuracy, r.clean.accuracy);
  assert.ok((r.shifts[1]?.accuracy as number) !== r.clean.accuracy, 'translation changed nothing');
  // On the OOD set every input gets softmax(5, 0, -100) → max ≈ 0.993 ≥ 0.9.
  assert.equal(r.ood?.confidentShare, 1);
  assert.ok(Math.abs((r.ood?.meanConfidence as number) - 1 / (1 + Math.exp(-5))) < 1e-4);
});
