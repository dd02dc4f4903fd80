/**
 * What identifies the examples a result was measured on: a digest of their contents, not the dataset's
 * name. Two test files of the same dataset name (another --data-dir, a user's own files) give other
 * numbers, so shards, resume keys and output guards compare this digest. It is computed from the loaded
 * arrays (labels, then the pixel / sample / token values of the selected rows), so it works for every
 * source, built-in or a user's.
 */
import { createHash } from 'node:crypto';
import { imageSize, type Dataset } from './dataset.js';

/** Where the examples came from (for messages) and the digest of their contents. */
export interface DataRecord {
  /** The dataset name and, when given, the folder or file it was read from. */
  source: string;
  /** sha256 (hex) of the selected rows: see datasetDigest. */
  digest: string;
  /** Rows covered by the digest. */
  examples: number;
}

/**
 * sha256 of rows [start, end) of `ds`: the row count, the shape, the labels (int32, little-endian) and
 * the values (float32 as stored). Byte order is the platform's; every platform Node runs alp on is
 * little-endian.
 */
export function datasetDigest(ds: Pick<Dataset, 'images' | 'labels' | 'shape' | 'count'>, start = 0, end = ds.count): string {
  const row = imageSize(ds);
  const h = createHash('sha256');
  h.update(`alp.data/1 ${end - start} ${ds.shape.join('x')}\n`);
  h.update(new Uint8Array(ds.labels.buffer, ds.labels.byteOffset + start * 4, (end - start) * 4));
  h.update(new Uint8Array(ds.images.buffer, ds.images.byteOffset + start * row * 4, (end - start) * row * 4));
  return h.digest('hex');
}

/** `name` plus the folder it was read from, when one was given (`mnist from /data/mnist`). */
export function dataSource(name: string, dataDir?: string): string {
  return dataDir !== undefined ? `${name} from ${dataDir}` : name;
}

export function dataRecord(ds: Pick<Dataset, 'images' | 'labels' | 'shape' | 'count' | 'name'>, dataDir?: string): DataRecord {
  return { source: dataSource(ds.name, dataDir), digest: datasetDigest(ds), examples: ds.count };
}

/** "mnist from /a (sha256 0123456789ab…)": a record as messages name it. */
export function describeData(d: DataRecord | null | undefined): string {
  return d === null || d === undefined ? 'data not recorded' : `${d.source} (sha256 ${d.digest.slice(0, 12)}…)`;
}
