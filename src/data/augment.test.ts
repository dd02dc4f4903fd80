import { test } from 'node:test';
import assert from 'node:assert/strict';
import { OptionError, UserError } from '../util/errors.js';
import { augmentBatch, augmentDraws, augmentImage, augmentText, checkAugment, checkAugmentFits, parseAugment } from './augment.js';

/** A 3×4 image with 2 channels: pixel (y, x) channel k holds 100·y + 10·x + k (+1, so none is 0). */
const H = 3, W = 4, C = 2;
const img = Float32Array.from({ length: H * W * C }, (_, i) => {
  const k = i % C, x = Math.floor(i / C) % W, y = Math.floor(i / (C * W));
  return 1 + 100 * y + 10 * x + k;
});
const at = (a: Float32Array, y: number, x: number, k: number): number => a[(y * W + x) * C + k] as number;

test('crop: pad by P and crop back at (dy, dx) is a shift by (dy − P, dx − P), zeros coming in', () => {
  const out = new Float32Array(img.length);
  // No shift: the image itself.
  augmentImage(img, out, [H, W, C], 2, { dy: 2, dx: 2, flip: false });
  assert.deepEqual(out, img);
  // dy = 0, dx = 4 with P = 2: out(y, x) = in(y − 2, x + 2).
  augmentImage(img, out, [H, W, C], 2, { dy: 0, dx: 4, flip: false });
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      for (let k = 0; k < C; k++) {
        const sy = y - 2, sx = x + 2;
        const want = sy >= 0 && sx < W ? 1 + 100 * sy + 10 * sx + k : 0;
        assert.equal(at(out, y, x, k), want, `(${y}, ${x}, ${k})`);
      }
    }
  }
  // Row 2 holds row 0's last two columns, then zeros; the rest is padding.
  assert.deepEqual(Array.from(out.subarray(2 * W * C, 3 * W * C)), [21, 22, 31, 32, 0, 0, 0, 0]);
  assert.ok(out.subarray(0, 2 * W * C).every((v) => v === 0));
});

test('flip mirrors left–right, channels kept together; after a crop it mirrors the cropped image', () => {
  const out = new Float32Array(img.length);
  augmentImage(img, out, [H, W, C], 0, { dy: 0, dx: 0, flip: true });
  assert.deepEqual(Array.from(out.subarray(0, W * C)), [31, 32, 21, 22, 11, 12, 1, 2]);
  assert.deepEqual(Array.from(out.subarray(W * C, 2 * W * C)), [131, 132, 121, 122, 111, 112, 101, 102]);
  // Crop (shift right by one: dx = P − 1) then flip.
  augmentImage(img, out, [H, W, C], 1, { dy: 1, dx: 0, flip: true });
  // cropped row 0 = [0, in(0,0), in(0,1), in(0,2)]; mirrored = [in(0,2), in(0,1), in(0,0), 0].
  assert.deepEqual(Array.from(out.subarray(0, W * C)), [21, 22, 11, 12, 1, 2, 0, 0]);
});

test('draws depend on (seed, epoch, example) only: a batch gets what its rows get alone, in any order', () => {
  const a = { crop: 2, flip: true };
  const shape: [number, number, number] = [H, W, C];
  const batch = new Float32Array(3 * img.length);
  for (let j = 0; j < 3; j++) batch.set(img, j * img.length);
  const ids = Int32Array.from([5, 9, 2]);
  const out = augmentBatch(batch, ids, shape, a, 7, 1);
  const alone = augmentBatch(img, Int32Array.from([9]), shape, a, 7, 1);
  assert.deepEqual(out.subarray(img.length, 2 * img.length), alone);
  assert.deepEqual(augmentBatch(batch, ids, shape, a, 7, 1), out);
  // The input is not touched.
  assert.deepEqual(batch.subarray(0, img.length), img);
  // Across examples and epochs the draws cover every offset and both flips, about half flipped.
  const draws = Array.from({ length: 2000 }, (_, i) => augmentDraws(a, 7, i % 4, i));
  assert.deepEqual(new Set(draws.map((d) => d.dy)), new Set([0, 1, 2, 3, 4]));
  assert.deepEqual(new Set(draws.map((d) => d.dx)), new Set([0, 1, 2, 3, 4]));
  const flips = draws.filter((d) => d.flip).length;
  assert.ok(flips > 900 && flips < 1100, `${flips} of 2000 flipped`);
  // Another epoch, another draw for the same example (not always, but mostly).
  const moved = Array.from({ length: 200 }, (_, i) => JSON.stringify(augmentDraws(a, 7, 0, i)) !== JSON.stringify(augmentDraws(a, 7, 1, i))).filter(Boolean).length;
  assert.ok(moved > 150, `${moved} of 200 differ between epochs`);
  // Flip only: no shift, ever.
  assert.ok(Array.from({ length: 50 }, (_, i) => augmentDraws({ crop: 0, flip: true }, 1, 0, i)).every((d) => d.dy === 0 && d.dx === 0));
});

test('--augment parses crop:P and flip, refuses anything else with one line naming the flag', () => {
  assert.deepEqual(parseAugment(['crop:4', 'flip']), { crop: 4, flip: true });
  assert.deepEqual(parseAugment(['flip']), { crop: 0, flip: true });
  assert.deepEqual(parseAugment(['crop:2']), { crop: 2, flip: false });
  assert.equal(parseAugment(['none']), undefined);
  assert.equal(augmentText({ crop: 4, flip: true }), 'crop:4,flip');
  for (const bad of [['crop'], ['crop:0'], ['crop:-1'], ['crop:1.5'], ['flip:2'], ['rotate:10'], ['crop:4', 'crop:2'], ['none', 'flip']]) {
    assert.throws(() => parseAugment(bad), (e: unknown) => e instanceof UserError && /^--augment: /.test(e.message) && !e.message.includes('\n'), bad.join(','));
  }
  assert.throws(() => checkAugment({ crop: -1, flip: true }), OptionError);
  assert.throws(() => checkAugment('crop:4'), /augment: expected \{crop/);
});

test('refused for text and audio data, and for a padding as large as the image', () => {
  const a = { crop: 4, flip: true };
  assert.throws(() => checkAugmentFits(a, { name: 'spam-assassin', shape: [128, 1, 1], vocabulary: [] }), /augment: not for text data \(spam-assassin holds token ids/);
  assert.throws(() => checkAugmentFits(a, { name: 'spoken-digits', shape: [1, 8000, 1], sampleRate: 8000 }), /augment: not for audio data/);
  assert.throws(() => checkAugmentFits({ crop: 6, flip: false }, { name: 'toy', shape: [6, 6, 1] }), /crop:6 pads by at least the image size 6×6/);
  checkAugmentFits(a, { name: 'cifar10', shape: [32, 32, 3] });
});
