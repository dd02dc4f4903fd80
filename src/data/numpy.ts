/**
 * NumPy arrays as alp datasets: a `.npz` in Keras' layout (x_train, y_train, x_test, y_test, as
 * `np.savez` writes them and `keras.datasets.mnist` ships), or a folder of the four `.npy` files.
 * Images are N×H×W or N×H×W×C (channels last), either uint8 0–255 (scaled by 1/255, exactly as the
 * IDX loader does) or float in [0, 1] (checked: a value outside it, or NaN, is refused rather than
 * guessed about). Labels are integers 0 … K−1 of shape N or N×1; K is the largest training label + 1.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { unzipSync } from 'fflate';
import { parse as parseNpy, type NpyArray } from 'npyjs';
import { UserError } from '../util/errors.js';
import { UNIT_OF_BYTE } from './dataset.js';

export const NPY_KEYS = ['x_train', 'y_train', 'x_test', 'y_test'] as const;
export type NpyKey = (typeof NPY_KEYS)[number];

export interface NumpyArrays {
  /** Where each array came from, for messages (`file.npz:x_train` or `dir/x_train.npy`). */
  where: Record<NpyKey, string>;
  arrays: Record<NpyKey, NpyArray>;
}

/** Parses one .npy file's bytes; `where` names it in errors. */
export function readNpyBytes(bytes: Uint8Array, where: string): NpyArray {
  if (bytes.length < 10 || bytes[0] !== 0x93 || String.fromCharCode(...bytes.subarray(1, 6)) !== 'NUMPY') {
    throw new UserError(`${where}: not a .npy array (no \\x93NUMPY magic)`);
  }
  const headerText = new TextDecoder().decode(bytes.subarray(8, Math.min(bytes.length, 8 + 4 + 65536)));
  if (/'descr'\s*:\s*'>/.test(headerText)) throw new UserError(`${where}: big-endian arrays are not supported; save it little-endian (arr.astype('<f4') or '<u1')`);
  if (/'fortran_order'\s*:\s*True/.test(headerText)) throw new UserError(`${where}: Fortran-order arrays are not supported; save np.ascontiguousarray(arr)`);
  // A copy on its own ArrayBuffer: npyjs views the data at an offset, which must be aligned.
  const buf = new Uint8Array(bytes).buffer; // (Buffer#slice would share the pool)
  let a: NpyArray;
  try {
    a = parseNpy(buf);
  } catch (e) {
    throw new UserError(`${where}: not a readable .npy array (${(e as Error).message})`);
  }
  const expected = a.shape.reduce((p, d) => p * d, 1);
  if (a.data === undefined || (a.data as unknown as ArrayLike<number>).length !== expected) {
    throw new UserError(`${where}: truncated: shape [${a.shape.join(',')}] needs ${expected} values, found ${(a.data as unknown as ArrayLike<number> | undefined)?.length ?? 0}`);
  }
  return a;
}

function readFile(path: string): Uint8Array {
  try {
    return readFileSync(path);
  } catch (e) {
    throw new UserError(`${path}: cannot read it (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
}

/** The four arrays of a Keras-layout .npz. */
export function readNpz(path: string): NumpyArrays {
  let files: Record<string, Uint8Array>;
  try {
    files = unzipSync(readFile(path));
  } catch (e) {
    throw new UserError(`${path}: not a readable .npz (zip) file (${(e as Error).message})`);
  }
  const where = {} as Record<NpyKey, string>;
  const arrays = {} as Record<NpyKey, NpyArray>;
  for (const k of NPY_KEYS) {
    const bytes = files[`${k}.npy`] ?? files[k];
    if (bytes === undefined) throw new UserError(`${path}: no ${k} array; expected ${NPY_KEYS.join(', ')} (Keras' layout), found ${Object.keys(files).map((f) => f.replace(/\.npy$/, '')).join(', ') || 'nothing'}`);
    where[k] = `${path}:${k}`;
    arrays[k] = readNpyBytes(bytes, where[k]);
  }
  return { where, arrays };
}

/** The four arrays from `dir/{x_train,y_train,x_test,y_test}.npy`. */
export function readNpyFolder(dir: string): NumpyArrays {
  const where = {} as Record<NpyKey, string>;
  const arrays = {} as Record<NpyKey, NpyArray>;
  for (const k of NPY_KEYS) {
    const p = join(dir, `${k}.npy`);
    if (!existsSync(p)) throw new UserError(`${dir}: no ${k}.npy; expected ${NPY_KEYS.map((n) => `${n}.npy`).join(', ')}`);
    where[k] = p;
    arrays[k] = readNpyBytes(readFile(p), p);
  }
  return { where, arrays };
}

/** A folder holding x_train.npy reads as NumPy arrays rather than class folders. */
export function isNpyFolder(dir: string): boolean {
  return existsSync(join(dir, 'x_train.npy'));
}

export interface NumpySplit {
  /** count × H × W × C in [0, 1]. */
  images: Float32Array;
  labels: Int32Array;
  count: number;
  shape: [number, number, number];
}

/** Images of an x array as [0,1] floats, with its shape checked; `where` names the array in errors. */
export function imagesOf(a: NpyArray, where: string): { images: Float32Array; count: number; shape: [number, number, number] } {
  if (a.shape.length !== 3 && a.shape.length !== 4) throw new UserError(`${where}: expected shape N×H×W or N×H×W×C, found [${a.shape.join(',')}]`);
  const [n, h, w, c = 1] = a.shape as [number, number, number, number?];
  if (n < 1 || h < 1 || w < 1 || c < 1) throw new UserError(`${where}: expected non-empty arrays, found shape [${a.shape.join(',')}]`);
  const src = a.data as unknown as ArrayLike<number>;
  const images = new Float32Array(src.length);
  if (a.dtype === 'u1') {
    for (let i = 0; i < src.length; i++) images[i] = UNIT_OF_BYTE[src[i] as number] as number;
  } else if (a.dtype === 'f4' || a.dtype === 'f8' || a.dtype === 'f2') {
    for (let i = 0; i < src.length; i++) {
      const v = src[i] as number;
      if (!(v >= 0 && v <= 1)) {
        const at = unravel(i, [n, h, w, c]);
        throw new UserError(`${where}: value ${v} at [${at.join(',')}]: expected float pixels in [0, 1]${Number.isNaN(v) ? ' (NaN)' : '; divide 0–255 data by 255, or save it as uint8'}`);
      }
      images[i] = v;
    }
  } else {
    throw new UserError(`${where}: expected uint8 (0–255) or float (0–1) pixels, found dtype ${a.dtype}; convert with arr.astype('uint8') or arr.astype('float32') / 255`);
  }
  return { images, count: n, shape: [h, w, c] };
}

function unravel(i: number, shape: number[]): number[] {
  const out: number[] = [];
  for (let d = shape.length - 1; d >= 0; d--) {
    const s = shape[d] as number;
    out.unshift(i % s);
    i = Math.floor(i / s);
  }
  return out;
}

/** Labels of a y array as integers; shape N or N×1, values checked later against the class count. */
export function labelsOf(a: NpyArray, n: number, where: string): Int32Array {
  const ok = (a.shape.length === 1 || (a.shape.length === 2 && a.shape[1] === 1)) && a.shape[0] === n;
  if (!ok) throw new UserError(`${where}: expected ${n} integer labels (shape [${n}] or [${n},1]), found shape [${a.shape.join(',')}]${a.shape.length === 2 && a.shape[0] === n ? ' (one-hot? save y.argmax(1))' : ''}`);
  if (!/^[iu][1248]$/.test(a.dtype)) throw new UserError(`${where}: expected integer labels, found dtype ${a.dtype}; save y.astype('int64')`);
  const src = a.data as unknown as ArrayLike<number | bigint>;
  const out = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const v = Number(src[i]);
    if (v < 0 || v > 0x7fffffff) throw new UserError(`${where}: label ${i}: expected a class index ≥ 0, found ${v}`);
    out[i] = v;
  }
  return out;
}

/** Both splits checked against each other: one image shape, test labels among the training classes. */
export function numpySplits(na: NumpyArrays): { train: NumpySplit; test: NumpySplit; numClasses: number } {
  const split = (x: NpyKey, y: NpyKey): NumpySplit => {
    const im = imagesOf(na.arrays[x], na.where[x]);
    return { ...im, labels: labelsOf(na.arrays[y], im.count, na.where[y]) };
  };
  const train = split('x_train', 'y_train');
  const test = split('x_test', 'y_test');
  if (train.shape.join() !== test.shape.join()) {
    throw new UserError(`${na.where.x_test}: images of shape [${test.shape.join(',')}], but ${na.where.x_train} has [${train.shape.join(',')}]`);
  }
  const numClasses = Math.max(...train.labels) + 1;
  if (numClasses < 2) throw new UserError(`${na.where.y_train}: expected at least 2 classes, found only class ${numClasses - 1}`);
  const seen = new Uint8Array(numClasses);
  for (const y of train.labels) seen[y] = 1;
  const missing = seen.indexOf(0);
  if (missing >= 0) throw new UserError(`${na.where.y_train}: class ${missing} never appears (labels must be 0 … K−1 with every class present; the largest is ${numClasses - 1})`);
  test.labels.forEach((y, i) => {
    if (y >= numClasses) throw new UserError(`${na.where.y_test}: label ${i}: expected a class in [0, ${numClasses - 1}] (the training classes), found ${y}`);
  });
  return { train, test, numClasses };
}
