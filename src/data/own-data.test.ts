/**
 * A user's own data (own-data.ts through resolve.ts): every format read from fixtures built here, and
 * every kind of bad data refused with one UserError naming the file.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import wavefile from 'wavefile';
import { encodePng } from '../report/png.js';
import { npy, writeNpz } from '../testing/npz.js';
import { UserError } from '../util/errors.js';
import { loadSource } from './resolve.js';
import { parseDataSource, type LoaderOptions } from './source.js';
import { interleave } from './class-folders.js';

const tmp = mkdtempSync(join(tmpdir(), 'alp-own-data-'));
process.on('exit', () => rmSync(tmp, { recursive: true, force: true }));
// The decoded-image cache goes to this temp folder, not the user's ~/.cache (children inherit it).
process.env['XDG_CACHE_HOME'] = join(tmp, 'cache');
let serial = 0;
const fresh = (name: string): string => join(tmp, `${name}-${serial++}`);

/** A deterministic H×W×C byte image that differs per (seed). */
function pixels(h: number, w: number, c: number, seed: number): Uint8Array {
  const px = new Uint8Array(h * w * c);
  for (let i = 0; i < px.length; i++) px[i] = (i * 37 + seed * 101) % 256;
  return px;
}

async function writeSharpPng(path: string, px: Uint8Array, h: number, w: number, c: 1 | 3): Promise<void> {
  // Without b-w, sharp writes one-channel input as an RGB PNG.
  await sharp(Buffer.from(px), { raw: { width: w, height: h, channels: c } }).toColourspace(c === 1 ? 'b-w' : 'srgb').png().toFile(path);
}

/** `root/{train,test}/{a,b}/` with `n` grey 4×5 PNGs per class, written by sharp. */
async function greyFolder(root: string, n = 2): Promise<void> {
  for (const split of ['train', 'test']) {
    for (const [k, c] of ['a', 'b'].entries()) {
      mkdirSync(join(root, split, c), { recursive: true });
      for (let i = 0; i < n; i++) await writeSharpPng(join(root, split, c, `${i}.png`), pixels(4, 5, 1, k * 10 + i), 4, 5, 1);
    }
  }
}

async function load(path: string, split: 'train' | 'test' = 'train', options: LoaderOptions = {}): ReturnType<typeof loadSource> {
  return loadSource(parseDataSource(path, options), split);
}

async function refused(path: string, pattern: RegExp, options: LoaderOptions = {}, split: 'train' | 'test' = 'train'): Promise<void> {
  await assert.rejects(load(path, split, options), (e: unknown) => {
    assert.ok(e instanceof UserError, `expected a UserError, got ${String(e)}`);
    assert.equal(e.message.split('\n').length, 1, e.message);
    assert.match(e.message, pattern);
    return true;
  });
}

test('--data: a built-in name stays built-in, a path is a path, anything else is refused', () => {
  assert.deepEqual(parseDataSource('mnist'), { kind: 'builtin', name: 'mnist' });
  assert.throws(() => parseDataSource('imagenet'), /--data: expected one of mnist.*or the path of your own data.*"imagenet"/);
  assert.throws(() => parseDataSource('./no/such/folder'), /no such file or folder/);
  assert.throws(() => parseDataSource(tmp, { channels: 2 as 1 }), /--channels: expected 1 or 3, found 2/);
  assert.throws(() => parseDataSource(tmp, { testFraction: 1 }), /--test-fraction: expected a number in \(0, 1\)/);
});

test('class order, example order: sorted class folders, files by name, classes interleaved', () => {
  const order = interleave([['a0', 'a1', 'a2'], ['b0'], ['c0', 'c1']]);
  assert.deepEqual(order.map((x) => x.path), ['a0', 'b0', 'c0', 'a1', 'c1', 'a2']);
  assert.deepEqual(order.map((x) => x.label), [0, 1, 2, 0, 2, 0]);
});

test('image folder (train/test): grey PNGs by sharp decode to the exact bytes, in the documented order', async () => {
  const root = fresh('grey');
  await greyFolder(root);
  writeFileSync(join(root, 'train', 'a', '.DS_Store'), 'x'); // dot-files are ignored
  const r = await load(root);
  assert.deepEqual(r.ds.shape, [4, 5, 1]);
  assert.deepEqual(r.ds.classNames, ['a', 'b']);
  assert.deepEqual(Array.from(r.ds.labels), [0, 1, 0, 1]);
  // Example 1 is b/0.png (class b, seed 10).
  assert.deepEqual(Array.from(r.ds.images.subarray(20, 40), (v) => Math.round(v * 255)), Array.from(pixels(4, 5, 1, 10)));
  assert.equal(r.ds.images[20], Math.fround(pixels(4, 5, 1, 10)[0]! / 255));
  assert.equal(r.record?.dataKind, 'image');
  assert.deepEqual(r.record?.options, { imageSize: [4, 5], channels: 1 });
  assert.deepEqual(r.notes, []);
  const t = await load(root, 'test');
  assert.equal(t.ds.count, 4);
  assert.equal(t.val, undefined);
  // A val/ split is returned beside train (training validates on it).
  for (const c of ['a', 'b']) {
    mkdirSync(join(root, 'val', c), { recursive: true });
    await writeSharpPng(join(root, 'val', c, 'v.png'), pixels(4, 5, 1, 99), 4, 5, 1);
  }
  const v = await load(root);
  assert.equal(v.ds.count, 4);
  assert.deepEqual(Array.from(v.val?.labels ?? []), [0, 1]);
});

test('RGB PNG written by alp\'s own PNG writer and by sharp, JPEG, WebP: same pixels (lossless) or close (JPEG)', async () => {
  const root = fresh('rgb');
  const h = 6, w = 7;
  for (const c of ['cat', 'dog']) mkdirSync(join(root, c), { recursive: true });
  const px = pixels(h, w, 3, 4);
  const rgba = new Uint8Array(h * w * 4);
  for (let i = 0; i < h * w; i++) {
    rgba.set(px.subarray(i * 3, i * 3 + 3), i * 4);
    rgba[i * 4 + 3] = 255;
  }
  writeFileSync(join(root, 'cat', '1-own.png'), encodePng(w, h, rgba));
  await writeSharpPng(join(root, 'cat', '2-sharp.png'), px, h, w, 3);
  await sharp(Buffer.from(px), { raw: { width: w, height: h, channels: 3 } }).webp({ lossless: true }).toFile(join(root, 'dog', '1.webp'));
  await sharp(Buffer.from(px), { raw: { width: w, height: h, channels: 3 } }).jpeg({ quality: 100, chromaSubsampling: '4:4:4' }).toFile(join(root, 'dog', '2.jpg'));
  const all = await load(root, 'train', { testFraction: 0.5 });
  const test2 = await load(root, 'test', { testFraction: 0.5 });
  assert.equal(all.ds.count + test2.ds.count, 4);
  assert.deepEqual(all.ds.shape, [h, w, 3]);
  assert.deepEqual(all.record?.options, { imageSize: [h, w], channels: 3, testFraction: 0.5, splitSeed: 0 });
  // Every image decodes to px: exactly for the lossless ones, within JPEG's error for the JPEG.
  const row = h * w * 3;
  for (const ds of [all.ds, test2.ds]) {
    for (let i = 0; i < ds.count; i++) {
      const got = Array.from(ds.images.subarray(i * row, (i + 1) * row), (v) => Math.round(v * 255));
      const meanErr = got.reduce((a, g, k) => a + Math.abs(g - px[k]!), 0) / got.length;
      assert.ok(meanErr <= 8, `image ${i} of ${ds.count}: mean error ${meanErr}`);
    }
  }
  // The two PNGs (alp's writer, sharp) and the WebP are bit-exact.
  const exact = fresh('exact');
  mkdirSync(join(exact, 'x'), { recursive: true });
  mkdirSync(join(exact, 'y'), { recursive: true });
  writeFileSync(join(exact, 'x', 'a.png'), encodePng(w, h, rgba));
  writeFileSync(join(exact, 'x', 'b.png'), readFileSync(join(root, 'cat', '2-sharp.png')));
  writeFileSync(join(exact, 'y', 'a.webp'), readFileSync(join(root, 'dog', '1.webp')));
  writeFileSync(join(exact, 'y', 'b.png'), encodePng(w, h, rgba));
  const e = await load(exact, 'train', { testFraction: 0.5 });
  const et = await load(exact, 'test', { testFraction: 0.5 });
  for (const ds of [e.ds, et.ds]) for (let i = 0; i < ds.count; i++) {
    assert.deepEqual(Array.from(ds.images.subarray(i * row, (i + 1) * row), (v) => Math.round(v * 255)), Array.from(px));
  }
});

test('--image-size resizes; --channels 3 on grey images; mixed sizes without a size are refused naming the file', async () => {
  const root = fresh('mixed');
  await greyFolder(root);
  await writeSharpPng(join(root, 'train', 'b', '9.png'), pixels(8, 8, 1, 1), 8, 8, 1);
  await refused(root, /train\/b\/9\.png: 8×8 \(H×W\), but .*train\/a\/0\.png is 4×5; pass --image-size H,W/);
  const r = await load(root, 'train', { imageSize: [3, 3], channels: 3 });
  assert.deepEqual(r.ds.shape, [3, 3, 3]);
  assert.equal(r.ds.count, 5);
});

test('bad image data: one line naming the file', async (t) => {
  await t.test('truncated PNG', async () => {
    const root = fresh('trunc');
    await greyFolder(root);
    const f = join(root, 'train', 'b', '1.png');
    await writeSharpPng(f, pixels(40, 40, 1, 3), 40, 40, 1);
    const bytes = readFileSync(f);
    writeFileSync(f, bytes.subarray(0, Math.floor(bytes.length / 2)));
    await refused(root, /train\/b\/1\.png: (not a readable image|cannot decode it)/, { imageSize: [4, 5] });
  });
  await t.test('not an image at all, with an image extension', async () => {
    const root = fresh('corrupt');
    await greyFolder(root);
    writeFileSync(join(root, 'train', 'a', '5.png'), 'hello, not a png');
    await refused(root, /train\/a\/5\.png: not a readable image/);
  });
  await t.test('empty class folder', async () => {
    const root = fresh('empty');
    await greyFolder(root);
    mkdirSync(join(root, 'train', 'c'));
    mkdirSync(join(root, 'test', 'c'));
    await refused(root, /train\/c: empty class folder/);
  });
  await t.test('a class missing from test/', async () => {
    const root = fresh('missing');
    await greyFolder(root);
    rmSync(join(root, 'test', 'b'), { recursive: true });
    await refused(root, /test: class 'b' has no folder in test\//);
  });
  await t.test('other files are skipped and counted', async () => {
    const root = fresh('skip');
    await greyFolder(root);
    writeFileSync(join(root, 'train', 'a', 'notes.txt'), 'x');
    writeFileSync(join(root, 'test', 'b', 'labels.csv'), 'x');
    const r = await load(root);
    assert.equal(r.ds.count, 4);
    assert.equal(r.record?.skippedFiles, 2);
    assert.match(r.notes[0] ?? '', /skipped 2 files of another kind than images \(first: .*notes\.txt\)/);
  });
  await t.test('unreadable file (a broken symlink)', async () => {
    const root = fresh('broken');
    await greyFolder(root);
    symlinkSync(join(root, 'nowhere.png'), join(root, 'train', 'a', '7.png'));
    await refused(root, /train\/a\/7\.png: cannot read it/);
  });
  await t.test('symlink loop', async () => {
    const root = fresh('loop');
    await greyFolder(root);
    symlinkSync(join(root, 'train', 'a'), join(root, 'train', 'a', 'again'));
    await refused(root, /train\/a\/again: symlink loop/);
    const self = fresh('selfloop');
    await greyFolder(self);
    symlinkSync(join(self, 'train', 'a', 'x.png'), join(self, 'train', 'a', 'x.png'));
    await refused(self, /x\.png: symlink loop/);
  });
  await t.test('pixel limit (decompression bombs)', async () => {
    const root = fresh('bomb');
    await greyFolder(root);
    await writeSharpPng(join(root, 'train', 'a', '3.png'), new Uint8Array(100 * 100), 100, 100, 1);
    await refused(root, /train\/a\/3\.png: 100×100 = 10000 pixels, over the limit of 5000/, { maxPixels: 5000, imageSize: [4, 5] });
  });
  await t.test('one class only', async () => {
    const root = fresh('oneclass');
    mkdirSync(join(root, 'a'), { recursive: true });
    await writeSharpPng(join(root, 'a', '0.png'), pixels(2, 2, 1, 0), 2, 2, 1);
    await refused(root, /expected train\/ and test\/ folders, or at least 2 class folders, found only 'a'/);
  });
});

/** A .npy file's bytes: the v1.0 header written by hand, then the data. */
test('npz (Keras layout): uint8 scaled by 1/255, float32 in [0,1] kept; labels N or N×1', async () => {
  const x = pixels(3, 2, 2, 5).slice(0, 12);
  const path = join(tmp, 'u8.npz');
  writeNpz(path, {
    x_train: npy('|u1', [3, 2, 2], x), y_train: npy('<i8', [3], BigInt64Array.of(0n, 1n, 2n)),
    x_test: npy('|u1', [1, 2, 2], x.slice(0, 4)), y_test: npy('|u1', [1, 1], Uint8Array.of(2)),
  });
  const r = await load(path);
  assert.deepEqual(r.ds.shape, [2, 2, 1]);
  assert.equal(r.ds.numClasses, 3);
  assert.deepEqual(Array.from(r.ds.images), Array.from(x, (v) => Math.fround(v / 255)));
  assert.deepEqual(Array.from((await load(path, 'test')).ds.labels), [2]);
  const fpath = join(tmp, 'f32.npz');
  const xf = Float32Array.of(0, 0.25, 0.5, 1, 0.1, 0.2, 0.3, 0.4);
  writeNpz(fpath, {
    x_train: npy('<f4', [2, 2, 2, 1], xf), y_train: npy('<i4', [2], Int32Array.of(1, 0)),
    x_test: npy('<f4', [1, 2, 2, 1], xf.slice(0, 4)), y_test: npy('<i4', [1], Int32Array.of(0)),
  });
  const f = await load(fpath);
  assert.deepEqual(Array.from(f.ds.images), Array.from(xf));
  assert.deepEqual(f.ds.shape, [2, 2, 1]);
});

test('npy folder: x_train.npy … y_test.npy', async () => {
  const dir = fresh('npy');
  mkdirSync(dir);
  const x = Uint8Array.from({ length: 8 }, (_, i) => i * 30);
  writeFileSync(join(dir, 'x_train.npy'), npy('|u1', [2, 2, 2], x));
  writeFileSync(join(dir, 'y_train.npy'), npy('|u1', [2], Uint8Array.of(0, 1)));
  writeFileSync(join(dir, 'x_test.npy'), npy('|u1', [2, 2, 2], x));
  writeFileSync(join(dir, 'y_test.npy'), npy('|u1', [2], Uint8Array.of(1, 0)));
  const r = await load(dir, 'test');
  assert.equal(r.record?.format, 'npy');
  assert.deepEqual(Array.from(r.ds.labels), [1, 0]);
});

test('bad NumPy data: NaN, floats outside [0,1], labels out of range, wrong dtypes, missing arrays', async () => {
  const ok = { y_train: npy('|u1', [2], Uint8Array.of(0, 1)), x_test: npy('|u1', [1, 1, 1], Uint8Array.of(0)), y_test: npy('|u1', [1], Uint8Array.of(0)) };
  const cases: Array<[string, Record<string, Uint8Array>, RegExp]> = [
    ['nan', { ...ok, x_train: npy('<f4', [2, 1, 1], Float32Array.of(0.5, NaN)) }, /nan\.npz:x_train: value NaN at \[1,0,0,0\]: expected float pixels in \[0, 1\] \(NaN\)/],
    ['range', { ...ok, x_train: npy('<f4', [2, 1, 1], Float32Array.of(0.5, 255)) }, /range\.npz:x_train: value 255 .*divide 0–255 data by 255/],
    ['labels', { ...ok, x_train: npy('|u1', [2, 1, 1], Uint8Array.of(1, 2)), y_test: npy('|u1', [1], Uint8Array.of(7)) }, /labels\.npz:y_test: label 0: expected a class in \[0, 1\]/],
    ['neg', { ...ok, x_train: npy('|u1', [2, 1, 1], Uint8Array.of(1, 2)), y_train: npy('<i4', [2], Int32Array.of(0, -1)) }, /neg\.npz:y_train: label 1: expected a class index ≥ 0, found -1/],
    ['dtype', { ...ok, x_train: npy('<i4', [2, 1, 1], Int32Array.of(1, 2)) }, /dtype\.npz:x_train: expected uint8 \(0–255\) or float \(0–1\) pixels, found dtype i4/],
    ['onehot', { ...ok, x_train: npy('|u1', [2, 1, 1], Uint8Array.of(1, 2)), y_train: npy('|u1', [2, 2], Uint8Array.of(1, 0, 0, 1)) }, /onehot\.npz:y_train: .*one-hot\?/],
    ['nox', { ...ok }, /nox\.npz: no x_train array/],
  ];
  for (const [name, arrays, pattern] of cases) {
    const path = join(tmp, `${name}.npz`);
    writeNpz(path, arrays);
    await refused(path, pattern);
  }
  const trunc = join(tmp, 'trunc.npz');
  const full = npy('|u1', [2, 4, 4], new Uint8Array(32));
  writeNpz(trunc, { ...ok, x_train: full.subarray(0, full.length - 10) });
  await refused(trunc, /trunc\.npz:x_train: (truncated|not a readable \.npy)/);
  writeFileSync(join(tmp, 'garbage.npz'), 'not a zip');
  await refused(join(tmp, 'garbage.npz'), /garbage\.npz: not a readable \.npz/);
});

test('CSV, TSV and JSONL tables: columns by name, classes sorted, vocabulary from the training rows only', async () => {
  const rows = Array.from({ length: 10 }, (_, i) => (i % 2 === 0 ? ['buy cheap pills now', 'spam'] : ['meeting at noon tomorrow', 'ham']));
  const csv = join(tmp, 'mail.csv');
  writeFileSync(csv, 'id,body,kind\n' + rows.map(([t, l], i) => `${i},"${t}",${l}`).join('\n') + '\n');
  const r = await load(csv, 'train', { textColumn: 'body', labelColumn: 'kind' });
  assert.deepEqual(r.ds.classNames, ['ham', 'spam']);
  assert.equal(r.ds.count, 8);
  assert.equal(r.record?.dataKind, 'text');
  assert.deepEqual(r.ds.shape, [128, 1, 1]);
  assert.ok(r.ds.vocabulary?.includes('pills'));
  assert.equal((await load(csv, 'test', { textColumn: 'body', labelColumn: 'kind' })).ds.count, 2);
  // train.tsv beside test.tsv: the given split; a test-only word is not in the vocabulary.
  const dir = fresh('tsv');
  mkdirSync(dir);
  writeFileSync(join(dir, 'train.tsv'), 'text\tlabel\n' + rows.map(([t, l]) => `${t}\t${l}`).join('\n'));
  writeFileSync(join(dir, 'test.tsv'), 'text\tlabel\nzebra zebra\tham\n');
  const tsv = await load(join(dir, 'train.tsv'), 'test');
  assert.equal(tsv.ds.count, 1);
  assert.equal(tsv.ds.images[0], 1); // <unk>
  assert.ok(!tsv.ds.vocabulary?.includes('zebra'));
  const jsonl = join(tmp, 'mail.jsonl');
  writeFileSync(jsonl, rows.map(([t, l]) => JSON.stringify({ text: t, label: l === 'spam' ? 1 : 0 })).join('\n'));
  assert.deepEqual((await load(jsonl)).ds.classNames, ['0', '1']);
});

test('bad tables: a row with a missing column, an absent column, a bad JSON line', async () => {
  const short = join(tmp, 'short.csv');
  writeFileSync(short, 'text,label\nhello,a\nworld\nagain,b\n');
  await refused(short, /short\.csv: a row has the wrong number of fields: .*line 3/);
  const nocol = join(tmp, 'nocol.csv');
  writeFileSync(nocol, 'message,label\nhello,a\n');
  await refused(nocol, /nocol\.csv: no column "text" \(--text-column\); the header has "message", "label"/);
  const badjson = join(tmp, 'bad.jsonl');
  writeFileSync(badjson, '{"text": "a", "label": 1}\n{"text": "b"}\n');
  await refused(badjson, /bad\.jsonl: line 2: expected a string or number field "label"/);
});

test('text files per class folder', async () => {
  const root = fresh('txt');
  for (const [c, words] of [['neg', 'awful bad'], ['pos', 'great good']] as const) {
    mkdirSync(join(root, c), { recursive: true });
    for (let i = 0; i < 5; i++) writeFileSync(join(root, c, `${i}.txt`), `${words} ${i}`);
  }
  const r = await load(root);
  assert.equal(r.record?.format, 'text-folder');
  assert.deepEqual(r.ds.classNames, ['neg', 'pos']);
  assert.equal(r.ds.count, 8);
});

function wav(samples: number[], rate: number, bits: string, channels = 1): Uint8Array {
  const w = new wavefile.WaveFile();
  const scale = bits === '32f' ? 1 : bits === '8' ? 127 : 2 ** (Number(bits) - 1) - 1;
  const data = samples.map((s) => (bits === '8' ? Math.round(s * scale + 128) : bits === '32f' ? s : Math.round(s * scale)));
  w.fromScratch(channels, rate, bits, channels === 1 ? data : Array.from({ length: channels }, () => data));
  return w.toBuffer();
}

test('WAV folders: 8/16/24/32-bit PCM and float, stereo mixed down, padded to the longest clip', async () => {
  const root = fresh('wav');
  const clip = [0, 0.5, -0.5, 0.25];
  const formats = ['8', '16', '24', '32', '32f'];
  for (const c of ['no', 'yes']) {
    mkdirSync(join(root, c), { recursive: true });
    formats.forEach((bits, i) => writeFileSync(join(root, c, `${i}.wav`), wav(c === 'yes' ? clip : clip.slice(0, 2), 8000, bits, i === 1 ? 2 : 1)));
  }
  const r = await load(root, 'train', { testFraction: 0.2 });
  assert.equal(r.record?.dataKind, 'audio');
  assert.equal(r.ds.sampleRate, 8000);
  assert.deepEqual(r.ds.shape, [1, 4, 1]);
  assert.equal(r.record?.options.audioLength, 4);
  const row = (i: number): number[] => Array.from(r.ds.images.subarray(i * 4, i * 4 + 4));
  for (let i = 0; i < r.ds.count; i++) {
    const want = r.ds.labels[i] === 1 ? clip : [...clip.slice(0, 2), 0, 0];
    row(i).forEach((v, k) => assert.ok(Math.abs((2 * v - 1) - (want[k] as number)) < 0.01, `example ${i} sample ${k}: ${2 * v - 1} vs ${want[k]}`));
  }
  const fixed = await load(root, 'train', { testFraction: 0.2, audioLength: 3 });
  assert.deepEqual(fixed.ds.shape, [1, 3, 1]);
});

test('a WAV of another sample rate is refused, naming it', async () => {
  const root = fresh('rates');
  for (const c of ['a', 'b']) {
    mkdirSync(join(root, c), { recursive: true });
    writeFileSync(join(root, c, '0.wav'), wav([0, 0.1], 8000, '16'));
    writeFileSync(join(root, c, '1.wav'), wav([0, 0.1], 8000, '16'));
  }
  writeFileSync(join(root, 'b', '2.wav'), wav([0, 0.1], 16000, '16'));
  writeFileSync(join(root, 'b', '3.wav'), wav([0, 0.1], 16000, '16'));
  await assert.rejects(Promise.all([load(root, 'train'), load(root, 'test')]), /b\/[23]\.wav: sample rate 16000 Hz, but .*a\/[01]\.wav has 8000 Hz/);
});

test('decoded cache: a second load reads the cache; a changed file misses it', async () => {
  const root = fresh('cached');
  await greyFolder(root);
  const first = await load(root);
  const dir = join(tmp, 'cache', 'alp', 'images');
  const entries = readdirSync(dir).filter((n) => n.endsWith('.u8'));
  assert.ok(entries.length >= 1);
  // Overwrite every cached pixel: a load that uses the cache now sees the marks.
  for (const n of entries) {
    const b = readFileSync(join(dir, n));
    writeFileSync(join(dir, n), Buffer.alloc(b.length, 255));
  }
  const again = await load(root);
  assert.deepEqual(again.record?.options, first.record?.options);
  assert.ok(again.ds.images.every((v) => v === 1), 'the second load read the cache');
  // A file rewritten (size and mtime change): the key changes, the folder is decoded again.
  await writeSharpPng(join(root, 'train', 'a', '0.png'), pixels(4, 5, 1, 77), 4, 5, 1);
  const fresh2 = await load(root);
  assert.deepEqual(Array.from(fresh2.ds.images.subarray(0, 20), (v) => Math.round(v * 255)), Array.from(pixels(4, 5, 1, 77)));
  assert.deepEqual(Array.from(fresh2.ds.images.subarray(20, 40), (v) => Math.round(v * 255)), Array.from(pixels(4, 5, 1, 10)));
  // ALP_DATA_CACHE=0: no cache read.
  process.env['ALP_DATA_CACHE'] = '0';
  try {
    for (const n of readdirSync(dir).filter((x) => x.endsWith('.u8'))) writeFileSync(join(dir, n), Buffer.alloc(readFileSync(join(dir, n)).length, 255));
    const off = await load(root);
    assert.ok(!off.ds.images.every((v) => v === 1));
  } finally {
    delete process.env['ALP_DATA_CACHE'];
  }
});
