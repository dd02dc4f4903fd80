/**
 * The training examples and the held-out validation slice of a run: drawn class by class with the run's
 * seed, recorded in train.json as a ValidationSplit.
 */
import { subset, take, type Dataset } from '../data/index.js';
import { splitDigest, stratifiedSplit } from '../data/stratified-split.js';
import type { TrainConfig } from './config.js';

/** How the validation examples were chosen, for train.json. */
export interface ValidationSplit {
  method: 'stratified';
  /** The run's seed, which drew the examples of each class. */
  seed: number;
  /** Held-out examples per class. */
  perClass: number[];
  /** sha256 of the held-out indices into the training split (int32 little-endian, ascending). */
  digest: string;
}

export interface TrainValSplit {
  train: Dataset;
  val: Dataset | null;
  /** null when nothing is held out. */
  validation: ValidationSplit | null;
}

const splits = new WeakMap<Dataset, Map<string, TrainValSplit>>();

/**
 * Splits the training split into the examples trained on and `valSize` held out for validation, class
 * by class in proportion, drawn with the run's seed (data/stratified-split.ts). The training examples
 * keep their order; `trainSize` > 0 keeps the first that many of them. Both are copies (the one held
 * out is gone from the middle), made once per dataset and settings.
 */
export function splitTrainVal(full: Dataset, c: Pick<TrainConfig, 'valSize' | 'trainSize' | 'seed'>): TrainValSplit {
  const key = `${c.valSize}/${c.trainSize}/${c.seed}`;
  const known = splits.get(full)?.get(key);
  if (known !== undefined) return known;
  const valSize = Math.min(c.valSize, Math.floor(full.count / 2));
  let out: TrainValSplit;
  if (valSize === 0) {
    const n = c.trainSize > 0 ? Math.min(c.trainSize, full.count) : full.count;
    out = { train: subset(full, 0, n), val: null, validation: null };
  } else {
    const s = stratifiedSplit(full.labels.subarray(0, full.count), full.numClasses, valSize, c.seed);
    const n = c.trainSize > 0 ? Math.min(c.trainSize, s.train.length) : s.train.length;
    out = {
      train: take(full, s.train.subarray(0, n)), val: take(full, s.val),
      validation: { method: 'stratified', seed: c.seed, perClass: s.perClass, digest: splitDigest(s.val) },
    };
  }
  if (!splits.has(full)) splits.set(full, new Map());
  splits.get(full)?.set(key, out);
  return out;
}
