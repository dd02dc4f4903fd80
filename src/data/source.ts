/**
 * Where a command's data comes from: one of alp's built-in datasets by name, or a user's own data by
 * path (a folder of class folders, a NumPy .npz, a CSV/TSV/JSONL table). `--data` takes either; this
 * module decides which, without tfjs or any decoder, so the CLI can check it before loading them.
 * The resolved source is recorded in train.json, so later commands given only `--model DIR` read the
 * same data with the same loader options again.
 */
import { existsSync, statSync } from 'node:fs';
import { extname, join, resolve, sep } from 'node:path';
import { UserError } from '../util/errors.js';
import { DATASET_NAMES, type DatasetName } from './dataset-names.js';

/** How the files at a path are read (own-data.ts). */
export type DataFormat = 'image-folder' | 'audio-folder' | 'text-folder' | 'npz' | 'npy' | 'table' | 'manifest';
export const DATA_FORMATS: readonly DataFormat[] = ['image-folder', 'audio-folder', 'text-folder', 'npz', 'npy', 'table', 'manifest'];

/**
 * What a model does to its [0,1] inputs before its first layer (a manifest's `mean`, `std`, `inputRange`):
 * x ↦ (lo + (hi − lo)·x − mean[c]) / std[c] per channel c, mean and std in [lo, hi] units.
 */
export interface InputNormalization {
  inputRange: [number, number];
  mean: number[];
  std: number[];
}

/** What a dataset's rows are, which decides the architecture, the default ε and how reports show them. */
export type DataKind = 'image' | 'audio' | 'text';

/** The loader options a user may give with a path (and that train.json records with it). */
export interface LoaderOptions {
  /** Resize every image to [H, W] (image folders). */
  imageSize?: [number, number];
  /** 1 (grey) or 3 (RGB); default 1 when every image is grey, else 3. */
  channels?: 1 | 3;
  /** Share of each class held out as test when there is no test/ folder or file. Default 0.2. */
  testFraction?: number;
  /** Seed of that held-out draw. Default 0 (not the training seed: the split must not move with it). */
  splitSeed?: number;
  /** Tables: the text and label columns (names, or 0-based indices). Defaults 'text' and 'label'. */
  textColumn?: string;
  labelColumn?: string;
  /** Text: tokens per example (default 128) and vocabulary size (default 10000), from the training split. */
  sequenceLength?: number;
  vocabularySize?: number;
  /** Audio: samples per clip (default: the longest training clip), padded with silence or trimmed at the end. */
  audioLength?: number;
  /** Images: refuse a file with more pixels than this before decoding it (decompression bombs). */
  maxPixels?: number;
}

/**
 * The command-line options that give `o` (`--image-size 32,32 --channels 3 …`), for the command a run
 * records. splitSeed, sequenceLength and vocabularySize have no option: the library alone sets them.
 */
export function loaderArgv(o: LoaderOptions = {}): string[] {
  return [
    ...(o.imageSize !== undefined ? ['--image-size', o.imageSize.join(',')] : []),
    ...(o.channels !== undefined ? ['--channels', String(o.channels)] : []),
    ...(o.testFraction !== undefined ? ['--test-fraction', String(o.testFraction)] : []),
    ...(o.textColumn !== undefined ? ['--text-column', o.textColumn] : []),
    ...(o.labelColumn !== undefined ? ['--label-column', o.labelColumn] : []),
    ...(o.audioLength !== undefined ? ['--audio-length', String(o.audioLength)] : []),
  ];
}

export type DataSource =
  | { kind: 'builtin'; name: DatasetName }
  | { kind: 'path'; path: string; format: DataFormat; options: LoaderOptions };

export const DEFAULT_TEST_FRACTION = 0.2;
/** 40 megapixels: larger than any photo a classifier is trained on, far below what would exhaust memory. */
export const DEFAULT_MAX_PIXELS = 40_000_000;

const TABLE_EXTS = ['.csv', '.tsv', '.jsonl', '.ndjson'];

/** `--data` text that names a path rather than a built-in dataset: a separator or a dot in it, or something that exists. */
export function isDataPath(text: string): boolean {
  if ((DATASET_NAMES as readonly string[]).includes(text)) return false;
  return text.includes('/') || text.includes(sep) || text.includes('.') || existsSync(text);
}

/** The format of the data at `path` (an existing file or folder); a UserError saying what was expected otherwise. */
export function detectFormat(path: string): DataFormat {
  let st;
  try {
    st = statSync(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new UserError(`--data ${path}: ${code === 'ENOENT' ? 'no such file or folder' : `cannot read it (${code ?? (e as Error).message})`}`);
  }
  if (st.isFile()) {
    const ext = extname(path).toLowerCase();
    if (ext === '.npz') return 'npz';
    if (ext === '.json') return 'manifest';
    if (TABLE_EXTS.includes(ext)) return 'table';
    throw new UserError(`--data ${path}: expected a folder, a .npz, a manifest (.json), or a table (${TABLE_EXTS.join(', ')}), found a ${ext === '' ? 'file without extension' : `${ext} file`}`);
  }
  if (!st.isDirectory()) throw new UserError(`--data ${path}: expected a file or a folder`);
  if (existsSync(join(path, 'alp-data.json'))) return 'manifest';
  return 'image-folder'; // refined by own-data.ts once it has looked at the files
}

/** Resolves `--data` text and the loader options into a source; an unknown name that is no path is a UserError. */
export function parseDataSource(text: string, options: LoaderOptions = {}): DataSource {
  if ((DATASET_NAMES as readonly string[]).includes(text)) return { kind: 'builtin', name: text as DatasetName };
  if (!isDataPath(text)) {
    throw new UserError(`--data: expected one of ${DATASET_NAMES.join(', ')}, or the path of your own data (a folder, .npz, .csv, .tsv, .jsonl, a manifest .json), found ${JSON.stringify(text)}`);
  }
  const path = resolve(text);
  return { kind: 'path', path, format: detectFormat(path), options: checkLoaderOptions(options) };
}

/** Checks option values a user typed; returns them without undefined fields. */
export function checkLoaderOptions(o: LoaderOptions): LoaderOptions {
  const out: LoaderOptions = {};
  const int = (v: number | undefined, name: string, min: number): void => {
    if (v !== undefined && (!Number.isInteger(v) || v < min)) throw new UserError(`--${name}: expected an integer ≥ ${min}, found ${v}`);
  };
  if (o.imageSize !== undefined) {
    const [h, w] = o.imageSize;
    if (o.imageSize.length !== 2 || !Number.isInteger(h) || !Number.isInteger(w) || (h as number) < 1 || (w as number) < 1) {
      throw new UserError(`--image-size: expected H,W (two integers ≥ 1), found ${o.imageSize.join(',')}`);
    }
    out.imageSize = [h as number, w as number];
  }
  if (o.channels !== undefined) {
    if (o.channels !== 1 && o.channels !== 3) throw new UserError(`--channels: expected 1 or 3, found ${String(o.channels)}`);
    out.channels = o.channels;
  }
  if (o.testFraction !== undefined) {
    if (!(o.testFraction > 0 && o.testFraction < 1)) throw new UserError(`--test-fraction: expected a number in (0, 1), found ${o.testFraction}`);
    out.testFraction = o.testFraction;
  }
  int(o.splitSeed, 'split-seed', 0);
  int(o.sequenceLength, 'sequence-length', 1);
  int(o.vocabularySize, 'vocabulary-size', 3);
  int(o.audioLength, 'audio-length', 1);
  int(o.maxPixels, 'max-pixels', 1);
  for (const k of ['splitSeed', 'sequenceLength', 'vocabularySize', 'audioLength', 'maxPixels', 'textColumn', 'labelColumn'] as const) {
    if (o[k] !== undefined) (out as Record<string, unknown>)[k] = o[k];
  }
  return out;
}

/** A short name for headers and reports: the built-in name, or the path. */
export function sourceLabel(s: DataSource): string {
  return s.kind === 'builtin' ? s.name : s.path;
}

/**
 * What train.json records about a user's data (`data.source`): enough to read it again the same way
 * and to check it has not changed shape or classes since.
 */
export interface SourceRecord {
  kind: 'path';
  path: string;
  format: DataFormat;
  options: LoaderOptions;
  dataKind: DataKind;
  classNames: string[];
  /** [H, W, C] of one example as the model sees it. */
  shape: [number, number, number];
  /** Audio: samples per second. */
  sampleRate?: number;
  /** Files skipped because they are not of the data's kind (see docs/your-own-data.md). */
  skippedFiles?: number;
  /** A manifest's normalisation, per channel: the trained model's first layer applies it. */
  normalization?: InputNormalization;
}

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** The source a train.json `data.source` value records, or undefined when it records none (built-in data, older files). */
export function sourceOfRecord(v: unknown, file: string): (DataSource & { kind: 'path' }) | undefined {
  if (!isObj(v) || v['kind'] !== 'path') return undefined;
  const path = v['path'];
  const format = v['format'];
  if (typeof path !== 'string' || !(DATA_FORMATS as readonly string[]).includes(String(format))) {
    throw new UserError(`${file}: data.source: expected a path and one of the formats ${DATA_FORMATS.join(', ')}, found ${JSON.stringify(v).slice(0, 200)}`);
  }
  const options = isObj(v['options']) ? checkLoaderOptions(v['options'] as LoaderOptions) : {};
  return { kind: 'path', path, format: format as DataFormat, options };
}
