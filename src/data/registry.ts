/** Loading a dataset by name, as the command line names them. */
import { UserError } from '../util/errors.js';
import { subset, type Dataset } from './dataset.js';
import { loadCifar10 } from './cifar10.js';
import { loadFashionMnist } from './fashion-mnist.js';
import { checkSplit, type Split } from './locate.js';
import { loadMnist } from './mnist.js';
import { loadSpokenDigits } from './spoken-digits.js';
import { loadSpamAssassin } from './spam-assassin.js';

import { DATASET_NAMES, type DatasetName } from './dataset-names.js';

export { DATASET_NAMES, type DatasetName };

export interface LoadOptions {
  dataDir?: string;
  /** Keep only the first `limit` examples. */
  limit?: number;
  /** For datasets generated on first use (spoken-digits): progress of the generation. */
  onProgress?: (done: number, total: number) => void;
}

/** Each dataset's loader, given the split and the options it understands. */
const LOADERS: Record<DatasetName, (split: Split, opts: LoadOptions) => Dataset> = {
  mnist: (split, opts) => loadMnist(split, dataDirOf(opts)),
  'fashion-mnist': (split, opts) => loadFashionMnist(split, dataDirOf(opts)),
  cifar10: (split, opts) => loadCifar10(split, dataDirOf(opts)),
  'spam-assassin': (split, opts) => loadSpamAssassin(split, dataDirOf(opts)),
  'spoken-digits': (split, opts) => loadSpokenDigits(split, opts.onProgress !== undefined ? { ...dataDirOf(opts), onProgress: opts.onProgress } : dataDirOf(opts)),
};

function dataDirOf(opts: LoadOptions): { dataDir?: string } {
  return opts.dataDir !== undefined ? { dataDir: opts.dataDir } : {};
}

export function loadDataset(name: DatasetName, split: Split, opts: LoadOptions = {}): Dataset {
  if (!(DATASET_NAMES as readonly string[]).includes(name)) {
    throw new UserError(`dataset: expected one of ${DATASET_NAMES.join(', ')}, found ${JSON.stringify(name)}`);
  }
  checkSplit(name, split);
  if (opts.limit !== undefined && (!Number.isInteger(opts.limit) || opts.limit < 1)) {
    throw new UserError(`${name}: limit: expected an integer ≥ 1, found ${opts.limit}`);
  }
  const ds = LOADERS[name](split, opts);
  return opts.limit !== undefined && opts.limit < ds.count ? subset(ds, 0, opts.limit) : ds;
}
