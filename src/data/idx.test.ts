import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync, readFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { tempDir, userError } from '../testing/files.js';
import { encodeIdx, readIdx, writeIdx, type IdxArray } from './idx.js';

const U8: IdxArray = { dtype: 'uint8', shape: [2, 3, 2], data: Uint8Array.from([0, 1, 2, 127, 128, 255, 9, 8, 7, 6, 5, 4]) };
const F32: IdxArray = { dtype: 'float32', shape: [3, 2], data: Float32Array.from([0, -1.5, 3.25, 1e-7, -1e30, 42]) };

for (const arr of [U8, F32]) {
  for (const ext of ['', '.gz']) {
    test(`IDX round trip ${arr.dtype}${ext || ' plain'}`, (t) => {
      const p = join(tempDir(t, 'alp-idx-'), `a.idx${ext}`);
      writeIdx(p, arr);
      const raw = readFileSync(p);
      assert.equal(raw[0] === 0x1f && raw[1] === 0x8b, ext === '.gz');
      const back = readIdx(p);
      assert.equal(back.dtype, arr.dtype);
      assert.deepEqual(back.shape, arr.shape);
      assert.equal(back.data.constructor, arr.data.constructor);
      assert.deepEqual(Array.from(back.data), Array.from(arr.data));
    });
  }
}

test('IDX round trip of the other types', (t) => {
  const dir = tempDir(t, 'alp-idx-');
  const arrays: IdxArray[] = [
    { dtype: 'int8', shape: [4], data: Int8Array.from([-128, -1, 0, 127]) },
    { dtype: 'int16', shape: [2, 2], data: Int16Array.from([-32768, -2, 300, 32767]) },
    { dtype: 'int32', shape: [3], data: Int32Array.from([-2147483648, 65536, 2147483647]) },
    { dtype: 'float64', shape: [2], data: Float64Array.from([Math.PI, -1e300]) },
  ];
  for (const arr of arrays) {
    const p = join(dir, `${arr.dtype}.idx`);
    writeIdx(p, arr);
    const back = readIdx(p);
    assert.equal(back.dtype, arr.dtype);
    assert.deepEqual(back.shape, arr.shape);
    assert.deepEqual(Array.from(back.data), Array.from(arr.data));
  }
});

test('IDX data is big-endian on disk', () => {
  const bytes = encodeIdx({ dtype: 'int16', shape: [1], data: Int16Array.from([0x0102]) });
  assert.deepEqual(Array.from(bytes), [0, 0, 0x0b, 1, 0, 0, 0, 1, 0x01, 0x02]);
});

test('gzip is detected by magic bytes, not by name', (t) => {
  const dir = tempDir(t, 'alp-idx-');
  const p = join(dir, 'no-extension');
  writeFileSync(p, gzipSync(encodeIdx(U8)));
  assert.deepEqual(readIdx(p).shape, U8.shape);
  const q = join(dir, 'plain.gz');
  writeFileSync(q, encodeIdx(U8));
  assert.deepEqual(readIdx(q).shape, U8.shape);
});

test('missing file names the path', () => {
  const p = join(tmpdir(), 'alp-definitely-missing', 'x.idx');
  assert.throws(() => readIdx(p), userError(new RegExp(`${p.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: file not found`)));
});

test('a folder is not an IDX file', (t) => {
  const dir = tempDir(t, 'alp-idx-');
  mkdirSync(join(dir, 'sub'));
  assert.throws(() => readIdx(join(dir, 'sub')), userError(/expected a regular file/));
});

test('wrong magic reports expected 0x0000 and the bytes found', (t) => {
  const p = join(tempDir(t, 'alp-idx-'), 'bad.idx');
  const b = encodeIdx(U8);
  b[0] = 0xab;
  b[1] = 0xcd;
  writeFileSync(p, b);
  assert.throws(() => readIdx(p), userError(/bad\.idx: .*expected magic 0x0000.*found 0xabcd/));
});

test('unknown type code', (t) => {
  const p = join(tempDir(t, 'alp-idx-'), 'bad.idx');
  const b = encodeIdx(U8);
  b[2] = 0x0a;
  writeFileSync(p, b);
  assert.throws(() => readIdx(p), userError(/type code: expected one of 0x08.*found 0x0a/));
});

test('truncated header', (t) => {
  const dir = tempDir(t, 'alp-idx-');
  const full = encodeIdx(U8);
  const p = join(dir, 'short.idx');
  writeFileSync(p, full.subarray(0, 3));
  assert.throws(() => readIdx(p), userError(/short\.idx: truncated IDX header: expected at least 4 bytes.*found 3/));
  // rank 3 needs 16 header bytes; give it 10
  writeFileSync(p, full.subarray(0, 10));
  assert.throws(() => readIdx(p), userError(/truncated IDX header: rank 3 needs 16 header bytes, found 10/));
  writeFileSync(p, gzipSync(full.subarray(0, 10)));
  assert.throws(() => readIdx(p), userError(/truncated IDX header/));
});

test('truncated data says how many bytes the shape needs', (t) => {
  const p = join(tempDir(t, 'alp-idx-'), 'cut.idx');
  const full = encodeIdx(F32); // 12 header bytes + 24 data bytes
  writeFileSync(p, full.subarray(0, full.length - 5));
  assert.throws(() => readIdx(p), userError(/cut\.idx: truncated IDX data: shape \[3,2\] of float32 needs 24 bytes of data, found 19/));
});

test('trailing garbage', (t) => {
  const p = join(tempDir(t, 'alp-idx-'), 'long.idx');
  const full = encodeIdx(U8);
  writeFileSync(p, Buffer.concat([full, Buffer.from([1, 2, 3])]));
  assert.throws(() => readIdx(p), userError(/long\.idx: trailing garbage.*needs 12 bytes of data, found 15 \(3 extra\)/));
});

test('corrupt gzip', (t) => {
  const p = join(tempDir(t, 'alp-idx-'), 'bad.gz');
  writeFileSync(p, Buffer.from([0x1f, 0x8b, 0, 1, 2, 3, 4, 5]));
  assert.throws(() => readIdx(p), userError(/bad\.gz: starts with the gzip magic/));
});
