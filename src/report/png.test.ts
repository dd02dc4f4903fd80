import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as zlib from 'node:zlib';
import { crc32, encodePng, PNG_SIGNATURE } from './png.js';

interface Chunk { type: string; data: Uint8Array; crc: number }

function chunks(png: Uint8Array): Chunk[] {
  const view = new DataView(png.buffer, png.byteOffset, png.byteLength);
  const out: Chunk[] = [];
  let off = 8;
  while (off < png.length) {
    const len = view.getUint32(off);
    const type = String.fromCharCode(...png.subarray(off + 4, off + 8));
    const data = png.subarray(off + 8, off + 8 + len);
    const crc = view.getUint32(off + 8 + len);
    // The stored CRC covers type + data.
    assert.equal(crc, crc32(png, off + 4, off + 8 + len), `CRC of ${type}`);
    out.push({ type, data, crc });
    off += 12 + len;
  }
  assert.equal(off, png.length);
  return out;
}

test('crc32 matches the standard check value and node:zlib', () => {
  const check = new TextEncoder().encode('123456789');
  assert.equal(crc32(check), 0xcbf43926);
  assert.equal(crc32(new Uint8Array(0)), 0);
  const rnd = Uint8Array.from({ length: 1000 }, (_, i) => (i * 7919 + 13) & 0xff);
  const zcrc = (zlib as unknown as { crc32?: (b: Uint8Array) => number }).crc32;
  if (zcrc) assert.equal(crc32(rnd), zcrc(rnd));
});

test('encodePng writes signature, IHDR, IDAT with filter-0 rows, IEND, and valid CRCs', () => {
  const width = 3;
  const height = 2;
  const rgba = Uint8Array.from({ length: width * height * 4 }, (_, i) => (i * 37) & 0xff);
  const png = encodePng(width, height, rgba);
  assert.deepEqual(png.subarray(0, 8), PNG_SIGNATURE);
  assert.deepEqual([...png.subarray(0, 8)], [137, 80, 78, 71, 13, 10, 26, 10]);
  const cs = chunks(png);
  assert.deepEqual(cs.map((c) => c.type), ['IHDR', 'IDAT', 'IEND']);
  const ihdr = cs[0]!.data;
  const hv = new DataView(ihdr.buffer, ihdr.byteOffset, ihdr.byteLength);
  assert.equal(ihdr.length, 13);
  assert.equal(hv.getUint32(0), width);
  assert.equal(hv.getUint32(4), height);
  assert.deepEqual([...ihdr.subarray(8)], [8, 6, 0, 0, 0]);
  const raw = new Uint8Array(zlib.inflateSync(cs[1]!.data));
  const want: number[] = [];
  for (let y = 0; y < height; y++) want.push(0, ...rgba.subarray(y * width * 4, (y + 1) * width * 4));
  assert.deepEqual([...raw], want);
  assert.equal(cs[2]!.data.length, 0);
  assert.equal(cs[2]!.crc, 0xae426082);
});

test('encodePng rejects mismatched sizes', () => {
  assert.throws(() => encodePng(2, 2, new Uint8Array(15)), /16 RGBA bytes/);
  assert.throws(() => encodePng(0, 2, new Uint8Array(0)), /width/);
  assert.throws(() => encodePng(2, 1.5, new Uint8Array(12)), /height/);
});
