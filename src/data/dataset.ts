/**
 * An in-memory image classification dataset (images in [0,1], NHWC, flattened) and the seeded
 * batching every training and evaluation loop uses.
 */
import * as tf from '@tensorflow/tfjs';
import { Rng } from '../util/rng.js';
import { UserError } from '../util/errors.js';
import { readIdx } from './idx.js';

export interface Dataset {
  name: string;
  /** count × H × W × C values in [0,1], NHWC order. */
  images: Float32Array;
  /** count labels in [0, numClasses). */
  labels: Int32Array;
  count: number;
  /** [H, W, C] of one image. */
  shape: [number, number, number];
  numClasses: number;
  classNames?: string[];
  /** Audio datasets: samples per second of the one-row [1, T, 1] inputs (the waveform w is stored as (w+1)/2). */
  sampleRate?: number;
  /**
   * Text datasets: the vocabulary. `images` then holds token ids (0 = padding) as [L, 1, 1] rows, and a
   * model embeds them; attacks perturb the embeddings (model/text.ts).
   */
  vocabulary?: string[];
  /**
   * Byte-backed datasets (8-bit images decoded from a user's files): the uint8 pixels and which rows of
   * them this dataset holds. `images` is then computed on first read; the batcher reads these bytes and
   * converts one batch at a time, so training holds 1 byte per pixel, and a split is an index list.
   * Not enumerable: a spread copy (`{ ...ds, count }`) is a plain float dataset.
   */
  readonly bytes?: ByteRows;
}

export interface ByteRows {
  /** Rows of H × W × C uint8 values (v ↦ v/255). */
  pixels: Uint8Array;
  /** The rows of `pixels` this dataset holds, in order; null: rows 0 … count−1. */
  rows: Int32Array | null;
}

export interface FromIdxOptions {
  numClasses?: number;
  classNames?: string[];
}

/** Byte value v → v/255 as float32, exactly what `Math.fround(v / 255)` gives. */
export const UNIT_OF_BYTE: Float32Array = Float32Array.from({ length: 256 }, (_, v) => v / 255);

/** Values per image. */
export function imageSize(ds: Pick<Dataset, 'shape'>): number {
  return ds.shape[0] * ds.shape[1] * ds.shape[2];
}

/**
 * Builds a dataset from an IDX image file (uint8, N×H×W or N×H×W×C) and an IDX label file
 * (uint8, N). Pixels are scaled by 1/255.
 */
export function fromIdx(name: string, imagesPath: string, labelsPath: string, opts: FromIdxOptions = {}): Dataset {
  const numClasses = opts.numClasses ?? opts.classNames?.length ?? 10;
  if (!Number.isInteger(numClasses) || numClasses < 2) {
    throw new UserError(`${name}: numClasses: expected an integer ≥ 2, found ${numClasses}`);
  }
  if (opts.classNames !== undefined && opts.classNames.length !== numClasses) {
    throw new UserError(`${name}: classNames: expected ${numClasses} names, found ${opts.classNames.length}`);
  }
  const img = readIdx(imagesPath);
  if (img.dtype !== 'uint8') {
    throw new UserError(`${imagesPath}: images: expected IDX type uint8 (0x08), found ${img.dtype}`);
  }
  if (img.shape.length !== 3 && img.shape.length !== 4) {
    throw new UserError(
      `${imagesPath}: images: expected rank 3 (N,H,W) or rank 4 (N,H,W,C), found rank ${img.shape.length} [${img.shape.join(',')}]`,
    );
  }
  const [n, h, w, c = 1] = img.shape as [number, number, number, number?];
  if (h < 1 || w < 1 || c < 1) {
    throw new UserError(`${imagesPath}: images: expected non-zero image dimensions, found [${img.shape.join(',')}]`);
  }
  const lab = readIdx(labelsPath);
  if (lab.dtype !== 'uint8') {
    throw new UserError(`${labelsPath}: labels: expected IDX type uint8 (0x08), found ${lab.dtype}`);
  }
  if (lab.shape.length !== 1) {
    throw new UserError(`${labelsPath}: labels: expected rank 1 (N), found rank ${lab.shape.length} [${lab.shape.join(',')}]`);
  }
  const nl = lab.shape[0] as number;
  if (nl !== n) {
    throw new UserError(
      `${name}: image and label counts differ: ${imagesPath} has ${n} images, ${labelsPath} has ${nl} labels`,
    );
  }
  const labels = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const y = lab.data[i] as number;
    if (y >= numClasses) {
      throw new UserError(`${labelsPath}: label ${i}: expected a class in [0, ${numClasses - 1}], found ${y}`);
    }
    labels[i] = y;
  }
  const src = img.data;
  const images = new Float32Array(src.length);
  for (let i = 0; i < src.length; i++) images[i] = UNIT_OF_BYTE[src[i] as number] as number;
  const ds: Dataset = { name, images, labels, count: n, shape: [h, w, c], numClasses };
  if (opts.classNames !== undefined) ds.classNames = [...opts.classNames];
  return ds;
}

/** Row `j` of a byte-backed dataset as its index into the pixel rows. */
function byteRow(b: ByteRows, j: number): number {
  return b.rows === null ? j : (b.rows[j] as number);
}

/** Rows [0, count) of a byte-backed dataset as float32 values v/255. */
function unitRows(b: ByteRows, count: number, row: number): Float32Array {
  const out = new Float32Array(count * row);
  for (let j = 0; j < count; j++) {
    const src = byteRow(b, j) * row;
    const dst = j * row;
    for (let k = 0; k < row; k++) out[dst + k] = UNIT_OF_BYTE[b.pixels[src + k] as number] as number;
  }
  return out;
}

/**
 * A dataset whose images are the uint8 rows `bytes` (scaled by 1/255 exactly as `fromIdx` does).
 * `images` is filled in on first read (for commands that want the whole array); training reads bytes.
 */
export function byteDataset(fields: Omit<Dataset, 'images' | 'bytes'>, bytes: ByteRows): Dataset {
  const row = fields.shape[0] * fields.shape[1] * fields.shape[2];
  const ds = { ...fields } as Dataset;
  Object.defineProperty(ds, 'bytes', { value: bytes, enumerable: false });
  Object.defineProperty(ds, 'images', {
    enumerable: true,
    configurable: true,
    get(): Float32Array {
      const images = unitRows(bytes, fields.count, row);
      Object.defineProperty(ds, 'images', { value: images, enumerable: true, writable: true, configurable: true });
      return images;
    },
    set(v: Float32Array): void {
      Object.defineProperty(ds, 'images', { value: v, enumerable: true, writable: true, configurable: true });
    },
  });
  return ds;
}

/** A byte-backed view on rows `picked` (indices into `ds`) of `ds`. */
function byteView(ds: Dataset & { bytes: ByteRows }, picked: Int32Array): Dataset {
  const b = ds.bytes;
  const rows = b.rows === null ? picked : Int32Array.from(picked, (j) => b.rows?.[j] as number);
  const fields: Omit<Dataset, 'images' | 'bytes'> = {
    name: ds.name, labels: Int32Array.from(picked, (j) => ds.labels[j] as number), count: picked.length, shape: [...ds.shape], numClasses: ds.numClasses,
  };
  return withDescription(byteDataset(fields, { pixels: b.pixels, rows }), ds);
}

function checkCount(what: string, v: number, max: number): void {
  if (!Number.isInteger(v) || v < 0 || v > max) {
    throw new UserError(`${what}: expected an integer in [0, ${max}], found ${v}`);
  }
}

/** `out` with the optional descriptive fields of `from` (class names, sample rate, vocabulary). */
function withDescription(out: Dataset, from: Dataset): Dataset {
  if (from.classNames !== undefined) out.classNames = from.classNames;
  if (from.sampleRate !== undefined) out.sampleRate = from.sampleRate;
  if (from.vocabulary !== undefined) out.vocabulary = from.vocabulary;
  return out;
}

/**
 * Examples [start, start+count). The arrays are views on the parent's memory (no copy), so a
 * train/validation split of a large dataset costs nothing.
 */
export function subset(ds: Dataset, start: number, count: number): Dataset {
  checkCount(`${ds.name}: subset start`, start, ds.count);
  checkCount(`${ds.name}: subset count`, count, ds.count - start);
  if (ds.bytes !== undefined) return byteView(ds as Dataset & { bytes: ByteRows }, Int32Array.from({ length: count }, (_, j) => start + j));
  const row = imageSize(ds);
  const out: Dataset = {
    name: ds.name,
    images: ds.images.subarray(start * row, (start + count) * row),
    labels: ds.labels.subarray(start, start + count),
    count,
    shape: [...ds.shape],
    numClasses: ds.numClasses,
  };
  return withDescription(out, ds);
}

/**
 * The examples at `indices`, in that order, copied into fresh arrays; of a byte-backed dataset, an index
 * view on the same bytes (no pixel is copied).
 */
export function take(ds: Dataset, indices: Int32Array): Dataset {
  const row = imageSize(ds);
  if (ds.bytes !== undefined) {
    indices.forEach((i, j) => {
      if (i < 0 || i >= ds.count) throw new UserError(`${ds.name}: take: index ${j}: expected an example in [0, ${ds.count - 1}], found ${i}`);
    });
    return byteView(ds as Dataset & { bytes: ByteRows }, indices);
  }
  const images = new Float32Array(indices.length * row);
  const labels = new Int32Array(indices.length);
  for (let j = 0; j < indices.length; j++) {
    const i = indices[j] as number;
    if (i < 0 || i >= ds.count) {
      throw new UserError(`${ds.name}: take: index ${j}: expected an example in [0, ${ds.count - 1}], found ${i}`);
    }
    images.set(ds.images.subarray(i * row, (i + 1) * row), j * row);
    labels[j] = ds.labels[i] as number;
  }
  const out: Dataset = { name: ds.name, images, labels, count: indices.length, shape: [...ds.shape], numClasses: ds.numClasses };
  return withDescription(out, ds);
}

export interface BatcherOptions {
  batchSize: number;
  shuffle: boolean;
  seed: number;
  /** Skip the last, smaller batch of an epoch. Default false. */
  dropLast?: boolean;
}

export interface Batch {
  /** Position of the batch within its epoch. */
  index: number;
  /** size × H × W × C values, a fresh contiguous copy. */
  x: Float32Array;
  y: Int32Array;
  size: number;
  /** Each row's index in the dataset (random draws in training are keyed on it). */
  ids: Int32Array;
}

/** Mixes (seed, epoch) into one 32-bit seed, so nearby seeds and epochs give unrelated streams. */
function epochSeed(seed: number, epoch: number): number {
  let h = (Math.floor(seed) ^ 0x5bd1e995) >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = (h ^ Math.imul(epoch + 1, 0x9e3779b1)) >>> 0;
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/**
 * Splits a dataset into batches. The order of an epoch depends only on (seed, epoch), so a run
 * resumed at (epoch, batch) sees exactly the batches it would have seen without stopping.
 */
export class Batcher {
  readonly batchSize: number;
  readonly shuffle: boolean;
  readonly seed: number;
  readonly dropLast: boolean;

  constructor(
    readonly ds: Dataset,
    opts: BatcherOptions,
  ) {
    if (!Number.isInteger(opts.batchSize) || opts.batchSize < 1) {
      throw new UserError(`batch size: expected an integer ≥ 1, found ${opts.batchSize}`);
    }
    if (!Number.isFinite(opts.seed)) throw new UserError(`seed: expected a finite number, found ${opts.seed}`);
    this.batchSize = opts.batchSize;
    this.shuffle = opts.shuffle;
    this.seed = opts.seed;
    this.dropLast = opts.dropLast ?? false;
  }

  /** Batches per epoch. */
  get numBatches(): number {
    const n = this.ds.count / this.batchSize;
    return this.dropLast ? Math.floor(n) : Math.ceil(n);
  }

  /** The example order of an epoch: a permutation of [0, count), or the identity without shuffle. */
  epochOrder(epoch: number): Int32Array {
    if (!Number.isInteger(epoch) || epoch < 0) throw new UserError(`epoch: expected an integer ≥ 0, found ${epoch}`);
    const n = this.ds.count;
    if (!this.shuffle) {
      const p = new Int32Array(n);
      for (let i = 0; i < n; i++) p[i] = i;
      return p;
    }
    return new Rng(epochSeed(this.seed, epoch)).permutation(n);
  }

  /** The batches of an epoch, from batch `startBatch` on. */
  *batches(epoch: number, startBatch = 0): Generator<Batch> {
    const total = this.numBatches;
    if (!Number.isInteger(startBatch) || startBatch < 0 || startBatch > total) {
      throw new UserError(`start batch: expected an integer in [0, ${total}], found ${startBatch}`);
    }
    const order = this.epochOrder(epoch);
    const row = imageSize(this.ds);
    const { labels, bytes } = this.ds;
    // Byte-backed data is converted here, one batch at a time; `images` is never built for it.
    const images = bytes === undefined ? this.ds.images : null;
    for (let b = startBatch; b < total; b++) {
      const from = b * this.batchSize;
      const size = Math.min(this.batchSize, order.length - from);
      const x = new Float32Array(size * row);
      const y = new Int32Array(size);
      const ids = order.slice(from, from + size);
      for (let j = 0; j < size; j++) {
        const i = order[from + j] as number;
        if (images !== null) x.set(images.subarray(i * row, (i + 1) * row), j * row);
        else {
          const src = byteRow(bytes as ByteRows, i) * row;
          const px = (bytes as ByteRows).pixels;
          for (let k = 0; k < row; k++) x[j * row + k] = UNIT_OF_BYTE[px[src + k] as number] as number;
        }
        y[j] = labels[i] as number;
      }
      yield { index: b, x, y, size, ids };
    }
  }
}

export interface TensorPair {
  x: tf.Tensor4D;
  y: tf.Tensor1D;
}

/** A dataset, or a batch of one with the image shape [H, W, C], as tensors (labels int32). */
export function toTensors(ds: Dataset): TensorPair;
export function toTensors(batch: Batch, shape: readonly [number, number, number]): TensorPair;
export function toTensors(src: Dataset | Batch, shape?: readonly [number, number, number]): TensorPair {
  if ('images' in src) {
    const [h, w, c] = src.shape;
    return { x: tf.tensor4d(src.images, [src.count, h, w, c]), y: tf.tensor1d(src.labels, 'int32') };
  }
  if (shape === undefined) throw new Error('toTensors: a batch needs the image shape [H, W, C]');
  const [h, w, c] = shape;
  return { x: tf.tensor4d(src.x, [src.size, h, w, c]), y: tf.tensor1d(src.y, 'int32') };
}
