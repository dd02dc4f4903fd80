/**
 * The ImageFolder layout every framework reads, for any file kind: `ROOT/{train,test[,val]}/<class>/…`,
 * or `ROOT/<class>/…` split into train and test by a seeded, class-stratified draw. Class order is the
 * sorted folder names (code-point order, so it does not depend on the locale).
 *
 * Example order within a split: each class's files sorted by their path below the class folder, then
 * the classes interleaved round-robin (first file of every class, then the second, …). Any prefix of a
 * split (`--n`, `--train-size`) or its tail is then a fair sample of the classes, and the order is a
 * pure function of the file names.
 */
import { readdirSync, realpathSync, statSync, type Dirent } from 'node:fs';
import { extname, join, relative } from 'node:path';
import { UserError } from '../util/errors.js';
import { Rng } from '../util/rng.js';
import { DEFAULT_TEST_FRACTION } from './source.js';

export interface LabelledFile {
  path: string;
  label: number;
}

export interface FolderSplits {
  classNames: string[];
  train: LabelledFile[];
  test: LabelledFile[];
  /** Only when the folder has a val/ split. */
  val?: LabelledFile[];
  /** 'splits': train/ and test/ given; 'fraction': test drawn from each class. */
  layout: 'splits' | 'fraction';
  /** Files of another kind that were skipped (not counting dot-files), and the first of them. */
  skipped: { count: number; first?: string };
}

export interface ScanOptions {
  /** Lower-case extensions (with the dot) of the files to read; the others are skipped and counted. */
  extensions: readonly string[];
  testFraction?: number;
  splitSeed?: number;
}

const byCodePoint = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

function fsError(path: string, e: unknown): UserError {
  const code = (e as NodeJS.ErrnoException).code;
  const why = code === 'ELOOP' ? 'symlink loop' : code === 'ENOENT' ? 'cannot read it (a broken symlink?)' : code === 'EACCES' ? 'cannot read it (permission denied)' : `cannot read it (${code ?? (e as Error).message})`;
  return new UserError(`${path}: ${why}`);
}

function entries(dir: string): Dirent[] {
  try {
    return readdirSync(dir, { withFileTypes: true }).sort((a, b) => byCodePoint(a.name, b.name));
  } catch (e) {
    throw fsError(dir, e);
  }
}

function isDir(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch (e) {
    throw fsError(path, e);
  }
}

/** Sub-folders of `dir` (symlinks followed), sorted; dot-folders ignored. */
export function subfolders(dir: string): string[] {
  return entries(dir).filter((e) => !e.name.startsWith('.') && (e.isDirectory() || (e.isSymbolicLink() && isDir(join(dir, e.name))))).map((e) => e.name);
}

/**
 * Every file below `dir` (nested folders and symlinks followed; a folder reached twice is a loop),
 * sorted by path below `dir`. Dot-files are ignored; files whose extension is not in `extensions` are
 * counted in `skipped`.
 */
function filesBelow(dir: string, extensions: readonly string[], skipped: FolderSplits['skipped']): string[] {
  const out: string[] = [];
  const seen = new Set<string>();
  const walk = (d: string): void => {
    let real: string;
    try {
      real = realpathSync(d);
    } catch (e) {
      throw fsError(d, e);
    }
    if (seen.has(real)) throw new UserError(`${d}: symlink loop (it leads back to ${real}, already read)`);
    seen.add(real);
    for (const e of entries(d)) {
      if (e.name.startsWith('.')) continue;
      const p = join(d, e.name);
      let st;
      try {
        st = statSync(p);
      } catch (err) {
        throw fsError(p, err);
      }
      if (st.isDirectory()) walk(p);
      else if (extensions.includes(extname(e.name).toLowerCase())) out.push(p);
      else {
        skipped.count++;
        skipped.first ??= p;
      }
    }
    seen.delete(real);
  };
  walk(dir);
  return out.sort((a, b) => byCodePoint(relative(dir, a), relative(dir, b)));
}

/** Per-class file lists interleaved round-robin (see the module comment). */
export function interleave(perClass: string[][]): LabelledFile[] {
  const out: LabelledFile[] = [];
  const longest = Math.max(0, ...perClass.map((f) => f.length));
  for (let i = 0; i < longest; i++) {
    perClass.forEach((files, label) => {
      const f = files[i];
      if (f !== undefined) out.push({ path: f, label });
    });
  }
  return out;
}

/** One split folder's files per class (every class needs a non-empty folder; no other folder is allowed). */
export function classFiles(splitDir: string, classNames: string[], o: ScanOptions, skipped: FolderSplits['skipped'], splitName: string): string[][] {
  const present = new Set(subfolders(splitDir));
  for (const c of present) if (!classNames.includes(c)) throw new UserError(`${join(splitDir, c)}: class '${c}' is not a class of the data (classes: ${classNames.join(', ')})`);
  return classNames.map((c) => {
    const dir = join(splitDir, c);
    if (!present.has(c)) throw new UserError(`${splitDir}: class '${c}' has no folder in ${splitName}/ (every class of train/ needs examples in ${splitName}/)`);
    const files = filesBelow(dir, o.extensions, skipped);
    if (files.length === 0) throw new UserError(`${dir}: empty class folder (no ${o.extensions.join('/')} files)`);
    return files;
  });
}

/** Reads the layout under `root` (see the module comment); every problem is one UserError naming the folder. */
export function scanClassFolders(root: string, o: ScanOptions): FolderSplits {
  const skipped: FolderSplits['skipped'] = { count: 0 };
  const top = subfolders(root);
  if (top.includes('train')) {
    if (!top.includes('test')) throw new UserError(`${root}: has train/ but no test/ (expected train/ and test/, each with one folder per class)`);
    const classNames = subfolders(join(root, 'train'));
    if (classNames.length < 2) throw new UserError(`${join(root, 'train')}: expected at least 2 class folders, found ${classNames.length}`);
    const train = interleave(classFiles(join(root, 'train'), classNames, o, skipped, 'train'));
    const test = interleave(classFiles(join(root, 'test'), classNames, o, skipped, 'test'));
    const splits: FolderSplits = { classNames, train, test, layout: 'splits', skipped };
    if (top.includes('val')) splits.val = interleave(classFiles(join(root, 'val'), classNames, o, skipped, 'val'));
    return splits;
  }
  const classNames = top;
  if (classNames.length < 2) throw new UserError(`${root}: expected train/ and test/ folders, or at least 2 class folders, found ${classNames.length === 0 ? 'no folders' : `only '${classNames[0]}'`}`);
  const perClass = classNames.map((c) => {
    const files = filesBelow(join(root, c), o.extensions, skipped);
    if (files.length === 0) throw new UserError(`${join(root, c)}: empty class folder (no ${o.extensions.join('/')} files)`);
    if (files.length < 2) throw new UserError(`${join(root, c)}: class '${c}' has 1 file; a train/test split needs at least 2 per class`);
    return files;
  });
  const { train, test } = stratifiedSplit(perClass, o.testFraction ?? DEFAULT_TEST_FRACTION, o.splitSeed ?? 0);
  return { classNames, train: interleave(train), test: interleave(test), layout: 'fraction', skipped };
}

/**
 * Each class's items split into train and test: round(fraction × n) test items (at least 1, at most
 * n − 1) drawn by a seeded shuffle; both parts keep the items' original order.
 */
export function stratifiedSplit<T>(perClass: T[][], fraction: number, seed: number): { train: T[][]; test: T[][] } {
  const rng = new Rng(seed);
  const train: T[][] = [];
  const test: T[][] = [];
  for (const items of perClass) {
    const n = items.length;
    const k = Math.min(n - 1, Math.max(1, Math.round(fraction * n)));
    const isTest = new Uint8Array(n);
    const perm = rng.permutation(n);
    for (let i = 0; i < k; i++) isTest[perm[i] as number] = 1;
    train.push(items.filter((_, i) => isTest[i] === 0));
    test.push(items.filter((_, i) => isTest[i] === 1));
  }
  return { train, test };
}
