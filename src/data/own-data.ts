/**
 * A user's own data as alp datasets: image, audio or text class folders, NumPy arrays, text tables.
 * Every loader returns the split asked for plus a record of what it read (format, resolved options,
 * class names, input shape, data kind) that train.json keeps, so later commands read the data the
 * same way. Bad data is one UserError naming the file; nothing is written.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { basename, dirname, extname, join } from 'node:path';
import { UserError } from '../util/errors.js';
import { byteDataset, type Dataset } from './dataset.js';
import { scanClassFolders, interleave, stratifiedSplit, subfolders, type FolderSplits, type LabelledFile } from './class-folders.js';
import { decodeImage, IMAGE_EXTENSIONS, mapLimit, readImageHeader, type ImageHeader } from './image-files.js';
import { cacheKey, imageCacheDir, readCachedSplit, writeCachedSplit } from './decoded-cache.js';
import { manifestFile, normalizationFor, readManifest, type ManifestData } from './manifest.js';
import { isNpyFolder, numpySplits, readNpyFolder, readNpz, type NumpySplit } from './numpy.js';
import { DEFAULT_TEST_FRACTION, type DataFormat, type DataKind, type DataSource, type LoaderOptions, type SourceRecord } from './source.js';
import { buildVocabulary, encodeTokens, tokenize } from './text.js';
import { classNamesOf, readTextTable, type TextRow } from './text-table.js';
import { parseWav } from './wav.js';
import { waveToUnit } from './audio.js';

export type OwnSplit = 'train' | 'test';

export interface OwnData {
  ds: Dataset;
  /** The folder's own val/ split, when it has one (train only). */
  val?: Dataset;
  record: SourceRecord;
  /** Things the user should hear about that do not stop the run (skipped files). */
  notes: string[];
}

export interface OwnLoadHooks {
  /** Progress while files are decoded. */
  onProgress?: (done: number, total: number) => void;
}

const AUDIO_EXTENSIONS = ['.wav'];
const TEXT_EXTENSIONS = ['.txt'];
export const DEFAULT_SEQUENCE_LENGTH = 128;
export const DEFAULT_VOCABULARY_SIZE = 10000;

/** Which kind of files a folder of classes holds: the kind most of its files have. */
export function folderFormat(root: string): DataFormat {
  if (isNpyFolder(root)) return 'npy';
  const counts = { image: 0, audio: 0, text: 0 };
  const look = (dir: string, depth: number): void => {
    let names: string[];
    try {
      names = subfolders(dir);
    } catch {
      return; // the scan proper reports unreadable folders
    }
    for (const n of names.slice(0, 50)) {
      const d = join(dir, n);
      if (depth > 0) look(d, depth - 1);
      else {
        let files: string[] = [];
        try {
          files = readdirNames(d);
        } catch {
          continue;
        }
        for (const f of files.slice(0, 200)) {
          const e = extname(f).toLowerCase();
          if ((IMAGE_EXTENSIONS as readonly string[]).includes(e)) counts.image++;
          else if (AUDIO_EXTENSIONS.includes(e)) counts.audio++;
          else if (TEXT_EXTENSIONS.includes(e)) counts.text++;
        }
      }
    }
  };
  const top = safeSubfolders(root);
  look(root, top.includes('train') ? 1 : 0);
  if (counts.audio > counts.image && counts.audio >= counts.text) return 'audio-folder';
  if (counts.text > counts.image && counts.text > counts.audio) return 'text-folder';
  return 'image-folder';
}

function safeSubfolders(d: string): string[] {
  try {
    return subfolders(d);
  } catch {
    return [];
  }
}

function readdirNames(d: string): string[] {
  return readdirSync(d).filter((n) => !n.startsWith('.'));
}

function skippedNote(root: string, s: FolderSplits['skipped'], kind: string): string[] {
  return s.count === 0 ? [] : [`${root}: skipped ${s.count} file${s.count === 1 ? '' : 's'} of another kind than ${kind} (first: ${s.first ?? '?'})`];
}

function datasetName(path: string): string {
  return basename(path).replace(/\.(npz|csv|tsv|jsonl|ndjson)$/i, '') || path;
}

/** Loads a split of a user's data (see the module comment). */
export async function loadOwnData(src: DataSource & { kind: 'path' }, split: OwnSplit, hooks: OwnLoadHooks = {}): Promise<OwnData> {
  let format = src.format;
  if (format === 'image-folder' || format === 'audio-folder' || format === 'text-folder') format = folderFormat(src.path);
  const s = { ...src, format };
  switch (format) {
    case 'image-folder':
      return loadImageFolder(s, scan(s, IMAGE_EXTENSIONS), split, hooks);
    case 'manifest':
      return loadImageFolder(s, readManifest(s.path, IMAGE_EXTENSIONS), split, hooks);
    case 'audio-folder':
      return loadAudioFolder(s, split, hooks);
    case 'text-folder':
    case 'table':
      return loadText(s, split);
    case 'npz':
    case 'npy':
      return loadNumpy(s, split);
  }
}

function record(src: DataSource & { kind: 'path' }, options: LoaderOptions, dataKind: DataKind, ds: Dataset, skipped = 0): SourceRecord {
  const r: SourceRecord = {
    kind: 'path', path: src.path, format: src.format, options, dataKind,
    classNames: ds.classNames ?? Array.from({ length: ds.numClasses }, (_, k) => String(k)), shape: [...ds.shape],
  };
  if (ds.sampleRate !== undefined) r.sampleRate = ds.sampleRate;
  if (skipped > 0) r.skippedFiles = skipped;
  return r;
}

function scan(src: DataSource & { kind: 'path' }, extensions: readonly string[]): FolderSplits {
  return scanClassFolders(src.path, {
    extensions,
    ...(src.options.testFraction !== undefined ? { testFraction: src.options.testFraction } : {}),
    ...(src.options.splitSeed !== undefined ? { splitSeed: src.options.splitSeed } : {}),
  });
}

function splitOptions(o: LoaderOptions, layout: FolderSplits['layout']): LoaderOptions {
  return layout === 'fraction' ? { ...o, testFraction: o.testFraction ?? DEFAULT_TEST_FRACTION, splitSeed: o.splitSeed ?? 0 } : o;
}

async function loadImageFolder(src: DataSource & { kind: 'path' }, f: ManifestData, split: OwnSplit, hooks: OwnLoadHooks): Promise<OwnData> {
  const o = src.options;
  const splits: Record<string, LabelledFile[]> = { train: f.train, test: f.test, ...(f.val !== undefined ? { val: f.val } : {}) };
  const cacheDir = imageCacheDir();
  const given: LoaderOptions = {
    ...(o.imageSize !== undefined ? { imageSize: o.imageSize } : {}), ...(o.channels !== undefined ? { channels: o.channels } : {}), ...(o.maxPixels !== undefined ? { maxPixels: o.maxPixels } : {}),
  };
  let resolved: { size: [number, number]; channels: 1 | 3 } | undefined;
  // Headers of every file of every split (cheap): sizes agree, pixel limits hold, and the channel default sees all of them.
  const resolveSizes = async (): Promise<{ size: [number, number]; channels: 1 | 3 }> => {
    const all = [...f.train, ...f.test, ...(f.val ?? [])];
    const headers = await mapLimit(all, 16, (file) => readImageHeader(file.path, o.maxPixels));
    let size = o.imageSize;
    if (size === undefined) {
      const first = headers[0] as ImageHeader;
      headers.forEach((h, i) => {
        if (h.height !== first.height || h.width !== first.width) {
          throw new UserError(`${(all[i] as LabelledFile).path}: ${h.height}×${h.width} (H×W), but ${(all[0] as LabelledFile).path} is ${first.height}×${first.width}; pass --image-size H,W to resize every image to one size`);
        }
      });
      size = [first.height, first.width];
    }
    return { size, channels: o.channels ?? (headers.every((h) => h.grey) ? 1 : 3) };
  };
  const decode = async (name: string, report: boolean): Promise<Dataset> => {
    const files = splits[name] as LabelledFile[];
    const key = cacheDir !== undefined ? cacheKey(splits, f.classNames, given, name) : undefined;
    const hit = key !== undefined ? readCachedSplit(cacheDir as string, key) : undefined;
    let pixels: Uint8Array;
    let shape: [number, number, number];
    if (hit !== undefined) {
      pixels = hit.pixels;
      shape = hit.shape;
      resolved ??= { size: [shape[0], shape[1]], channels: shape[2] as 1 | 3 };
    } else {
      resolved ??= await resolveSizes();
      const { size, channels } = resolved;
      shape = [size[0], size[1], channels];
      const row = size[0] * size[1] * channels;
      pixels = new Uint8Array(files.length * row);
      await mapLimit(files, 8, async (file, i) => {
        const px = await decodeImage(file.path, { size, channels, ...(o.maxPixels !== undefined ? { maxPixels: o.maxPixels } : {}) });
        if (px.length !== row) throw new UserError(`${file.path}: decoded to ${px.length} values, expected ${size[0]}×${size[1]}×${channels}`);
        pixels.set(px, i * row);
      }, report ? (d) => hooks.onProgress?.(d, files.length) : undefined);
      if (key !== undefined) writeCachedSplit(cacheDir as string, key, { options: { imageSize: size, channels }, shape, labels: Int32Array.from(files, (x) => x.label), pixels });
    }
    // Kept as bytes: 1 byte per pixel in memory, converted to float32 one batch at a time (data/dataset.ts).
    return byteDataset({
      name: datasetName(src.path), labels: Int32Array.from(files, (x) => x.label), count: files.length,
      shape, numClasses: f.classNames.length, classNames: [...f.classNames],
    }, { pixels, rows: null });
  };
  const ds = await decode(split, true);
  const { size, channels } = resolved as { size: [number, number]; channels: 1 | 3 };
  const options: LoaderOptions = { ...splitOptions(o, f.layout), imageSize: size, channels };
  const out: OwnData = { ds, record: record(src, options, 'image', ds, f.skipped.count), notes: skippedNote(src.path, f.skipped, 'images') };
  if (f.normalization !== undefined) out.record.normalization = normalizationFor(f.normalization, channels, manifestFile(src.path));
  if (split === 'train' && f.val !== undefined) out.val = await decode('val', false);
  return out;
}

async function loadAudioFolder(src: DataSource & { kind: 'path' }, split: OwnSplit, hooks: OwnLoadHooks): Promise<OwnData> {
  const f = scan(src, AUDIO_EXTENSIONS);
  const o = src.options;
  const read = (file: LabelledFile): { samples: Float32Array; rate: number } => {
    let bytes: Uint8Array;
    try {
      bytes = readFileSync(file.path);
    } catch (e) {
      throw new UserError(`${file.path}: cannot read it (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
    }
    const w = parseWav(bytes, file.path);
    return { samples: w.samples, rate: w.sampleRate };
  };
  // The first training clip sets the rate (and, without --audio-length, the longest training clip the length).
  const trainClips = split === 'train' || o.audioLength === undefined ? f.train.map(read) : null;
  const rate = trainClips?.[0]?.rate ?? read(f.train[0] as LabelledFile).rate;
  const length = o.audioLength ?? Math.max(...(trainClips ?? []).map((c) => c.samples.length));
  const files = split === 'train' ? f.train : f.test;
  const clips = split === 'train' && trainClips !== null ? trainClips : files.map(read);
  const images = new Float32Array(files.length * length);
  clips.forEach((c, i) => {
    if (c.rate !== rate) {
      throw new UserError(`${(files[i] as LabelledFile).path}: sample rate ${c.rate} Hz, but ${(f.train[0] as LabelledFile).path} has ${rate} Hz; resample every file to one rate (e.g. sox in.wav -r ${rate} out.wav)`);
    }
    // Silence (0 in the waveform) is 0.5 in the [0,1] box; clips are trimmed or padded at the end.
    images.fill(0.5, i * length, (i + 1) * length);
    waveToUnit(c.samples.subarray(0, length), images, i * length);
    hooks.onProgress?.(i + 1, files.length);
  });
  const ds: Dataset = {
    name: datasetName(src.path), images, labels: Int32Array.from(files, (x) => x.label), count: files.length, shape: [1, length, 1],
    numClasses: f.classNames.length, classNames: [...f.classNames], sampleRate: rate,
  };
  return { ds, record: record(src, { ...splitOptions(o, f.layout), audioLength: length }, 'audio', ds, f.skipped.count), notes: skippedNote(src.path, f.skipped, 'WAV files') };
}

function loadText(src: DataSource & { kind: 'path' }, split: OwnSplit): OwnData {
  const o = src.options;
  let train: TextRow[];
  let test: TextRow[];
  let classNames: string[];
  let options: LoaderOptions = { ...o };
  let skipped: FolderSplits['skipped'] = { count: 0 };
  if (src.format === 'text-folder') {
    const f = scan(src, TEXT_EXTENSIONS);
    skipped = f.skipped;
    const rows = (files: LabelledFile[]): TextRow[] => files.map((x) => {
      let text: string;
      try {
        text = readFileSync(x.path, 'utf8');
      } catch (e) {
        throw new UserError(`${x.path}: cannot read it (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
      }
      return { text, label: f.classNames[x.label] as string, line: 1 };
    });
    classNames = f.classNames;
    train = rows(f.train);
    test = rows(f.test);
    options = splitOptions(o, f.layout);
  } else {
    const to = { ...(o.textColumn !== undefined ? { textColumn: o.textColumn } : {}), ...(o.labelColumn !== undefined ? { labelColumn: o.labelColumn } : {}) };
    const all = readTextTable(src.path, to);
    // train.csv beside test.csv: the given split; otherwise a seeded, class-stratified draw.
    const ext = extname(src.path);
    const testPath = join(dirname(src.path), `test${ext}`);
    if (basename(src.path, ext).toLowerCase() === 'train' && existsSync(testPath)) {
      train = all;
      test = readTextTable(testPath, to);
      classNames = classNamesOf(train.map((r) => r.label));
      for (const r of test) if (!classNames.includes(r.label)) throw new UserError(`${testPath}: row ${r.line}: label ${JSON.stringify(r.label)} is not among the training labels (${classNames.join(', ')})`);
    } else {
      classNames = classNamesOf(all.map((r) => r.label));
      const perClass = classNames.map((c) => all.filter((r) => r.label === c));
      for (const [k, rows] of perClass.entries()) if (rows.length < 2) throw new UserError(`${src.path}: label ${JSON.stringify(classNames[k])} has ${rows.length} row; a train/test split needs at least 2 per class`);
      const s = stratifiedSplit(perClass, o.testFraction ?? DEFAULT_TEST_FRACTION, o.splitSeed ?? 0);
      const flat = (per: TextRow[][]): TextRow[] => interleave(per.map((rows) => rows.map((_, i) => String(i)))).map((x) => (per[x.label] as TextRow[])[Number(x.path)] as TextRow);
      train = flat(s.train);
      test = flat(s.test);
      options = { ...o, testFraction: o.testFraction ?? DEFAULT_TEST_FRACTION, splitSeed: o.splitSeed ?? 0 };
    }
    if (classNames.length < 2) throw new UserError(`${src.path}: expected at least 2 labels in column "${o.labelColumn ?? 'label'}", found ${classNames.length === 1 ? `only ${JSON.stringify(classNames[0])}` : 'none'}`);
  }
  const L = o.sequenceLength ?? DEFAULT_SEQUENCE_LENGTH;
  const V = o.vocabularySize ?? DEFAULT_VOCABULARY_SIZE;
  const trainTokens = train.map((r) => tokenize(r.text));
  // The vocabulary comes from the training split only, so no test word leaks into the model.
  const vocab = buildVocabulary(trainTokens, V, 2);
  const rows = split === 'train' ? train : test;
  const tokens = split === 'train' ? trainTokens : test.map((r) => tokenize(r.text));
  const images = new Float32Array(rows.length * L);
  const ids = new Int32Array(L);
  tokens.forEach((t, i) => images.set(encodeTokens(t, vocab, L, ids), i * L));
  const index = new Map(classNames.map((c, k) => [c, k]));
  const ds: Dataset = {
    name: datasetName(src.path), images, labels: Int32Array.from(rows, (r) => index.get(r.label) as number), count: rows.length,
    shape: [L, 1, 1], numClasses: classNames.length, classNames: [...classNames], vocabulary: vocab.tokens,
  };
  return { ds, record: record(src, { ...options, sequenceLength: L, vocabularySize: V }, 'text', ds, skipped.count), notes: skippedNote(src.path, skipped, '.txt files') };
}

function loadNumpy(src: DataSource & { kind: 'path' }, split: OwnSplit): OwnData {
  const { train, test, numClasses } = numpySplits(src.format === 'npz' ? readNpz(src.path) : readNpyFolder(src.path));
  const s: NumpySplit = split === 'train' ? train : test;
  const ds: Dataset = {
    name: datasetName(src.path), images: s.images, labels: s.labels, count: s.count, shape: s.shape, numClasses,
    classNames: Array.from({ length: numClasses }, (_, k) => String(k)),
  };
  return { ds, record: record(src, { ...src.options }, 'image', ds), notes: [] };
}
