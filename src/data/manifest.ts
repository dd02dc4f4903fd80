/**
 * A manifest (`alp-data.json`, or any `.json` given to `--data`) for image data in a layout the class
 * folders do not cover: each split a folder of class folders or a list of files with labels, the class
 * names, and the per-channel mean/std the model normalises its inputs with. Paths are relative to the
 * manifest. The normalisation becomes the model's first layer (model/input-normalization.ts), so the
 * data, attacks and ε stay in the [0,1] box.
 *
 * ```json
 * { "classes": ["cat", "dog"],
 *   "train": "images/train",
 *   "test": [{ "file": "held-out/1.png", "label": "dog" }],
 *   "mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225], "inputRange": [0, 1] }
 * ```
 */
import { readFileSync, statSync } from 'node:fs';
import { dirname, extname, join, resolve } from 'node:path';
import { UserError } from '../util/errors.js';
import { classFiles, interleave, subfolders, type FolderSplits, type LabelledFile } from './class-folders.js';
import type { InputNormalization } from './source.js';

export const MANIFEST_FILE = 'alp-data.json';

const SPLITS = ['train', 'test', 'val'] as const;
const KNOWN = new Set<string>(['classes', 'train', 'test', 'val', 'mean', 'std', 'inputRange', 'description']);

export interface ManifestData extends FolderSplits {
  normalization?: InputNormalization;
}

/** The manifest file a `--data` path names: the file itself, or `alp-data.json` in the folder. */
export function manifestFile(path: string): string {
  return statSync(path).isDirectory() ? join(path, MANIFEST_FILE) : path;
}

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function numbers(file: string, field: string, v: unknown, n?: number): number[] {
  if (!Array.isArray(v) || v.length === 0 || !v.every((x) => typeof x === 'number' && Number.isFinite(x)) || (n !== undefined && v.length !== n)) {
    throw new UserError(`${file}: ${field}: expected ${n !== undefined ? `${n} finite numbers` : 'a list of finite numbers'}, found ${JSON.stringify(v)}`);
  }
  return v as number[];
}

/** The normalisation fields of a manifest, checked; undefined when it gives none. */
export function parseNormalization(file: string, m: Record<string, unknown>): InputNormalization | undefined {
  if (m['mean'] === undefined && m['std'] === undefined && m['inputRange'] === undefined) return undefined;
  const mean = m['mean'] === undefined ? [0] : numbers(file, 'mean', m['mean']);
  const std = m['std'] === undefined ? [1] : numbers(file, 'std', m['std']);
  const range = m['inputRange'] === undefined ? [0, 1] : numbers(file, 'inputRange', m['inputRange'], 2);
  const [lo, hi] = range as [number, number];
  if (!(hi > lo)) throw new UserError(`${file}: inputRange: expected [LO, HI] with LO < HI, found ${JSON.stringify(range)}`);
  std.forEach((s, c) => {
    if (!(s > 0)) throw new UserError(`${file}: std[${c}]: expected a number > 0, found ${s}`);
  });
  return { inputRange: [lo, hi], mean, std };
}

/** A split's files: a folder of class folders, or a list of { file, label } (label a class name or index). */
function splitFiles(file: string, base: string, name: string, v: unknown, classNames: string[], extensions: readonly string[], skipped: FolderSplits['skipped']): LabelledFile[] {
  if (typeof v === 'string') return interleave(classFiles(resolve(base, v), classNames, { extensions }, skipped, name));
  if (!Array.isArray(v)) throw new UserError(`${file}: ${name}: expected a folder (of class folders) or a list of {"file", "label"}, found ${JSON.stringify(v)?.slice(0, 80)}`);
  if (v.length === 0) throw new UserError(`${file}: ${name}: expected at least one file, found an empty list`);
  const files = v.map((item, i) => {
    const where = `${file}: ${name}[${i}]`;
    if (!isObj(item) || typeof item['file'] !== 'string') throw new UserError(`${where}: expected {"file": PATH, "label": CLASS}, found ${JSON.stringify(item)?.slice(0, 80)}`);
    const path = resolve(base, item['file']);
    if (!extensions.includes(extname(path).toLowerCase())) throw new UserError(`${where}: ${item['file']}: expected an image file (${extensions.join(' ')})`);
    const label = item['label'];
    const k = typeof label === 'number' ? label : classNames.indexOf(String(label));
    if (!Number.isInteger(k) || k < 0 || k >= classNames.length) {
      throw new UserError(`${where}: label ${JSON.stringify(label)}: expected one of the classes (${classNames.join(', ')}) or an index in [0, ${classNames.length - 1}]`);
    }
    return { path, label: k };
  });
  // As in class folders: each class's files in the listed order, classes interleaved, so a prefix (--n) holds every class.
  return interleave(classNames.map((_, k) => files.filter((f) => f.label === k).map((f) => f.path)));
}

/** The classes a manifest names, or the train folder's class folders, or the distinct labels of the train list. */
function classesOf(file: string, base: string, m: Record<string, unknown>): string[] {
  const c = m['classes'];
  let names: string[];
  if (c !== undefined) {
    if (!Array.isArray(c) || !c.every((x) => typeof x === 'string') || new Set(c).size !== c.length) throw new UserError(`${file}: classes: expected a list of distinct names, found ${JSON.stringify(c)?.slice(0, 80)}`);
    names = c as string[];
  } else if (typeof m['train'] === 'string') names = subfolders(resolve(base, m['train']));
  else if (Array.isArray(m['train'])) {
    const labels = (m['train'] as unknown[]).map((x) => (isObj(x) ? x['label'] : undefined));
    if (!labels.every((l) => typeof l === 'string')) throw new UserError(`${file}: classes: needed when the labels of train are not all names (give "classes": [...])`);
    names = [...new Set(labels as string[])].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  } else names = [];
  if (names.length < 2) throw new UserError(`${file}: expected at least 2 classes, found ${names.length}`);
  return names;
}

/** Reads and checks a manifest; every problem is one UserError naming the file and field. */
export function readManifest(path: string, extensions: readonly string[]): ManifestData {
  const file = manifestFile(path);
  let m: unknown;
  try {
    m = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new UserError(`${file}: ${code !== undefined ? `cannot read it (${code})` : `not valid JSON (${(e as Error).message})`}`);
  }
  if (!isObj(m)) throw new UserError(`${file}: expected a JSON object with train and test, found ${Array.isArray(m) ? 'a list' : typeof m}`);
  const unknown = Object.keys(m).filter((k) => !KNOWN.has(k));
  if (unknown.length > 0) throw new UserError(`${file}: unknown field ${JSON.stringify(unknown[0])} (expected ${[...KNOWN].join(', ')})`);
  for (const s of ['train', 'test'] as const) if (m[s] === undefined) throw new UserError(`${file}: ${s}: missing (a folder of class folders, or a list of {"file", "label"})`);
  const base = dirname(file);
  const classNames = classesOf(file, base, m);
  const skipped: FolderSplits['skipped'] = { count: 0 };
  const split = (s: (typeof SPLITS)[number]): LabelledFile[] => splitFiles(file, base, s, m[s], classNames, extensions, skipped);
  const out: ManifestData = { classNames, train: split('train'), test: split('test'), layout: 'splits', skipped };
  if (m['val'] !== undefined) out.val = split('val');
  const seen = new Set(out.train.map((f) => f.label));
  const missing = classNames.filter((_, k) => !seen.has(k));
  if (missing.length > 0) throw new UserError(`${file}: train: class ${JSON.stringify(missing[0])} has no examples`);
  const norm = parseNormalization(file, m);
  if (norm !== undefined) out.normalization = norm;
  return out;
}

/** Checks a normalisation against the data's channel count; one value stands for every channel. */
export function normalizationFor(n: InputNormalization, channels: number, file: string): InputNormalization {
  const fit = (v: number[], field: string): number[] => {
    if (v.length === 1) return Array<number>(channels).fill(v[0] as number);
    if (v.length !== channels) throw new UserError(`${file}: ${field}: expected 1 or ${channels} values (one per channel), found ${v.length}`);
    return v;
  };
  return { inputRange: n.inputRange, mean: fit(n.mean, 'mean'), std: fit(n.std, 'std') };
}
