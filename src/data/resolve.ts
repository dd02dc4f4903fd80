/**
 * The one way commands load data: a source (built-in name or a user's path, see source.ts) and a
 * split in, a dataset out, with a record of a user's data for train.json. Built-in datasets load as
 * they always have; paths go through own-data.ts.
 */
import { UserError } from '../util/errors.js';
import type { Dataset } from './dataset.js';
import type { Split } from './locate.js';
import { loadOwnData } from './own-data.js';
import { loadDataset } from './registry.js';
import type { DataKind, DataSource, SourceRecord } from './source.js';

export interface LoadedSource {
  ds: Dataset;
  /** A user folder's own val/ split (train only). */
  val?: Dataset;
  /** What train.json records about a user's data; undefined for built-in datasets. */
  record?: SourceRecord;
  /** Notices that do not stop the command (e.g. files skipped). */
  notes: string[];
}

export interface SourceLoadOptions {
  /** Built-in datasets: the folder with their files. */
  dataDir?: string;
  /** Progress of synthesis (spoken-digits) or decoding (image folders). */
  onProgress?: (done: number, total: number) => void;
}

export async function loadSource(source: DataSource, split: Split, o: SourceLoadOptions = {}): Promise<LoadedSource> {
  if (source.kind === 'builtin') {
    const ds = loadDataset(source.name, split, {
      ...(o.dataDir !== undefined ? { dataDir: o.dataDir } : {}),
      ...(o.onProgress !== undefined ? { onProgress: o.onProgress } : {}),
    });
    return { ds, notes: [] };
  }
  const r = await loadOwnData(source, split, o.onProgress !== undefined ? { onProgress: o.onProgress } : {});
  return { ds: r.ds, ...(r.val !== undefined ? { val: r.val } : {}), record: r.record, notes: r.notes };
}

/**
 * Refuses data that no longer matches what a model was trained on (classes renamed, added or removed;
 * another input shape): its predictions would be scored against the wrong labels.
 */
export function checkAgainstRecord(ds: Dataset, recorded: { classNames?: unknown; shape?: unknown }, file: string, path: string): void {
  const names = Array.isArray(recorded.classNames) ? recorded.classNames.map(String) : undefined;
  if (names !== undefined && JSON.stringify(names) !== JSON.stringify(ds.classNames ?? [])) {
    throw new UserError(`${path}: classes are now [${(ds.classNames ?? []).join(', ')}], but ${file} records [${names.join(', ')}] from training; restore the data or pass --data`);
  }
  if (Array.isArray(recorded.shape) && recorded.shape.join() !== ds.shape.join()) {
    throw new UserError(`${path}: examples are now [${ds.shape.join(',')}], but ${file} records [${recorded.shape.join(',')}] from training`);
  }
}

/** The kind of rows a dataset holds. */
export function dataKindOf(ds: Dataset): DataKind {
  return ds.vocabulary !== undefined ? 'text' : ds.sampleRate !== undefined ? 'audio' : 'image';
}
