/** Finding a dataset's files in a folder under the several names they are distributed with. */
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { UserError } from '../util/errors.js';

export type Split = 'train' | 'test';

export const SPLITS: readonly Split[] = ['train', 'test'];

/** Throws a UserError unless `split` is 'train' or 'test' (it may come from the command line). */
export function checkSplit(dataset: string, split: string): asserts split is Split {
  if (!(SPLITS as readonly string[]).includes(split)) {
    throw new UserError(`${dataset}: split: expected one of ${SPLITS.join(', ')}, found ${JSON.stringify(split)}`);
  }
}

/** Throws a UserError, with `hint` appended, unless `dir` is an existing folder. */
export function checkDir(dataset: string, dir: string, hint: string): void {
  if (!existsSync(dir)) throw new UserError(`${dataset}: data folder ${dir} does not exist. ${hint}`);
  if (!statSync(dir).isDirectory()) throw new UserError(`${dataset}: data folder ${dir} is not a folder. ${hint}`);
}

/** The first of `names` that exists in `dir`; a UserError naming the folder and every name otherwise. */
export function findFile(dataset: string, dir: string, what: string, names: string[], hint: string): string {
  for (const n of names) {
    const p = join(dir, n);
    if (existsSync(p)) return p;
  }
  throw new UserError(`${dataset}: no ${what} file in ${dir}; looked for ${names.join(', ')}. ${hint}`);
}

/**
 * The names an MNIST-style IDX file goes by: `train-images-idx3-ubyte`, `train-images.idx3-ubyte`,
 * each optionally gzipped.
 */
export function idxNames(split: Split, kind: 'images' | 'labels'): string[] {
  const prefix = split === 'train' ? 'train' : 't10k';
  const ext = kind === 'images' ? 'idx3-ubyte' : 'idx1-ubyte';
  const bases = [`${prefix}-${kind}-${ext}`, `${prefix}-${kind}.${ext}`];
  return [...bases, ...bases.map((b) => `${b}.gz`)];
}

/** Finds the image and label IDX files of a split in `dir`. */
export function findIdxPair(dataset: string, dir: string, split: Split, hint: string): { images: string; labels: string } {
  checkDir(dataset, dir, hint);
  return {
    images: findFile(dataset, dir, `${split} images`, idxNames(split, 'images'), hint),
    labels: findFile(dataset, dir, `${split} labels`, idxNames(split, 'labels'), hint),
  };
}
