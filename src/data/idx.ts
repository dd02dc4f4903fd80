/**
 * The IDX file format (MNIST and friends): a 4-byte magic (two zero bytes, a type code, the number
 * of dimensions), the dimensions as big-endian uint32, then the values, big-endian, row-major.
 * Files may be gzipped; gzip is recognised by its magic bytes (1f 8b), not by the file name.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { gunzipSync, gzipSync } from 'node:zlib';
import { UserError } from '../util/errors.js';
import { writeFileAtomic } from '../util/atomic.js';

export type IdxDtype = 'uint8' | 'int8' | 'int16' | 'int32' | 'float32' | 'float64';

export type IdxData = Uint8Array | Int8Array | Int16Array | Int32Array | Float32Array | Float64Array;

export interface IdxArray {
  dtype: IdxDtype;
  shape: number[];
  data: IdxData;
}

interface DtypeInfo {
  code: number;
  size: number;
}

const DTYPES: Record<IdxDtype, DtypeInfo> = {
  uint8: { code: 0x08, size: 1 },
  int8: { code: 0x09, size: 1 },
  int16: { code: 0x0b, size: 2 },
  int32: { code: 0x0c, size: 4 },
  float32: { code: 0x0d, size: 4 },
  float64: { code: 0x0e, size: 8 },
};

function dtypeOfCode(code: number): IdxDtype | undefined {
  for (const [name, info] of Object.entries(DTYPES) as [IdxDtype, DtypeInfo][]) {
    if (info.code === code) return name;
  }
  return undefined;
}

function hex(bytes: Uint8Array): string {
  return '0x' + Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

/** True when the bytes start with the gzip magic 1f 8b. */
export function isGzip(bytes: Uint8Array): boolean {
  return bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b;
}

/** Reads a whole file, gunzipping it when it starts with the gzip magic. */
export function readMaybeGzip(path: string): Buffer {
  if (!existsSync(path)) throw new UserError(`${path}: file not found`);
  if (!statSync(path).isFile()) throw new UserError(`${path}: expected a regular file, found a directory or special file`);
  const raw = readFileSync(path);
  if (!isGzip(raw)) return raw;
  try {
    return gunzipSync(raw);
  } catch (e) {
    throw new UserError(`${path}: starts with the gzip magic 1f 8b but does not decompress (${(e as Error).message})`);
  }
}

/**
 * Parses IDX bytes; `where` names the source in error messages. Byte-typed data is returned as a
 * view on `buf` (no copy); wider types are decoded into fresh arrays.
 */
export function parseIdx(buf: Uint8Array, where: string): IdxArray {
  if (buf.length < 4) {
    throw new UserError(`${where}: truncated IDX header: expected at least 4 bytes (magic, type, rank), found ${buf.length}`);
  }
  if (buf[0] !== 0 || buf[1] !== 0) {
    throw new UserError(`${where}: not an IDX file: expected magic 0x0000 in the first two bytes, found ${hex(buf.subarray(0, 2))}`);
  }
  const code = buf[2] as number;
  const dtype = dtypeOfCode(code);
  if (dtype === undefined) {
    throw new UserError(
      `${where}: IDX type code: expected one of 0x08 (ubyte), 0x09 (sbyte), 0x0b (short), 0x0c (int), 0x0d (float), 0x0e (double), found ${hex(buf.subarray(2, 3))}`,
    );
  }
  const rank = buf[3] as number;
  const headerLen = 4 + 4 * rank;
  if (buf.length < headerLen) {
    throw new UserError(
      `${where}: truncated IDX header: rank ${rank} needs ${headerLen} header bytes, found ${buf.length}`,
    );
  }
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const shape: number[] = [];
  let count = 1;
  for (let i = 0; i < rank; i++) {
    const d = view.getUint32(4 + 4 * i, false);
    shape.push(d);
    count *= d;
  }
  const size = DTYPES[dtype].size;
  const expected = count * size;
  const found = buf.length - headerLen;
  if (found < expected) {
    throw new UserError(
      `${where}: truncated IDX data: shape [${shape.join(',')}] of ${dtype} needs ${expected} bytes of data, found ${found}`,
    );
  }
  if (found > expected) {
    throw new UserError(
      `${where}: trailing garbage after IDX data: shape [${shape.join(',')}] of ${dtype} needs ${expected} bytes of data, found ${found} (${found - expected} extra)`,
    );
  }
  return { dtype, shape, data: decode(view, headerLen, dtype, count) };
}

/** Sets out[i] = read(i) for every i: the big-endian multi-byte types, one element at a time. */
function fill<T extends Int16Array | Int32Array | Float32Array | Float64Array>(out: T, read: (i: number) => number): T {
  for (let i = 0; i < out.length; i++) out[i] = read(i);
  return out;
}

function decode(view: DataView, at: number, dtype: IdxDtype, n: number): IdxData {
  switch (dtype) {
    // Bytes need no decoding: a view on the freshly read buffer, which nothing else holds.
    case 'uint8':
      return new Uint8Array(view.buffer, view.byteOffset + at, n);
    case 'int8':
      return new Int8Array(view.buffer, view.byteOffset + at, n);
    case 'int16':
      return fill(new Int16Array(n), (i) => view.getInt16(at + 2 * i, false));
    case 'int32':
      return fill(new Int32Array(n), (i) => view.getInt32(at + 4 * i, false));
    case 'float32':
      return fill(new Float32Array(n), (i) => view.getFloat32(at + 4 * i, false));
    case 'float64':
      return fill(new Float64Array(n), (i) => view.getFloat64(at + 8 * i, false));
  }
}

/** Reads an IDX file, plain or gzipped. Every problem with the file is a UserError naming it. */
export function readIdx(path: string): IdxArray {
  return parseIdx(readMaybeGzip(path), path);
}

const ARRAY_TYPES: Record<IdxDtype, new (n: number) => IdxData> = {
  uint8: Uint8Array,
  int8: Int8Array,
  int16: Int16Array,
  int32: Int32Array,
  float32: Float32Array,
  float64: Float64Array,
};

/** How one value of each IDX type is written, big-endian. */
const WRITERS: Record<IdxDtype, (view: DataView, at: number, v: number) => void> = {
  uint8: (view, at, v) => view.setUint8(at, v),
  int8: (view, at, v) => view.setInt8(at, v),
  int16: (view, at, v) => view.setInt16(at, v, false),
  int32: (view, at, v) => view.setInt32(at, v, false),
  float32: (view, at, v) => view.setFloat32(at, v, false),
  float64: (view, at, v) => view.setFloat64(at, v, false),
};

/** Serialises an array to IDX bytes (uncompressed). */
export function encodeIdx(arr: IdxArray): Uint8Array {
  const info = DTYPES[arr.dtype];
  if (info === undefined) throw new Error(`encodeIdx: unknown dtype ${String(arr.dtype)}`);
  if (!(arr.data instanceof ARRAY_TYPES[arr.dtype])) {
    throw new Error(`encodeIdx: dtype ${arr.dtype} does not match data of type ${arr.data.constructor.name}`);
  }
  if (arr.shape.length > 255) throw new Error(`encodeIdx: rank ${arr.shape.length} exceeds 255`);
  let count = 1;
  for (const d of arr.shape) {
    if (!Number.isInteger(d) || d < 0 || d > 0xffffffff) throw new Error(`encodeIdx: bad dimension ${d}`);
    count *= d;
  }
  if (count !== arr.data.length) {
    throw new Error(`encodeIdx: shape [${arr.shape.join(',')}] holds ${count} values, data has ${arr.data.length}`);
  }
  const headerLen = 4 + 4 * arr.shape.length;
  const out = new Uint8Array(headerLen + count * info.size);
  const view = new DataView(out.buffer);
  out[2] = info.code;
  out[3] = arr.shape.length;
  arr.shape.forEach((d, i) => view.setUint32(4 + 4 * i, d, false));
  const d = arr.data;
  const write = WRITERS[arr.dtype];
  for (let i = 0; i < count; i++) write(view, headerLen + i * info.size, d[i] as number);
  return out;
}

/** Writes an IDX file, gzipped when the path ends with `.gz`. Meant for fixtures and exports. */
export function writeIdx(path: string, arr: IdxArray): void {
  const bytes = encodeIdx(arr);
  writeFileAtomic(path, path.endsWith('.gz') ? gzipSync(bytes) : bytes);
}
