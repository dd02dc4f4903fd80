/**
 * Which clean examples calibrate a detector. They must be disjoint from the examples the detector is
 * evaluated on, or the false-positive rate is measured on the data that set the threshold. By default
 * a seeded random sample of the split; on the test split during an evaluation, the examples right
 * after the evaluated ones; or from an explicit start.
 */
import { subset, take, type Dataset } from '../data/dataset.js';
import { OptionError } from '../util/errors.js';
import { Rng } from '../util/rng.js';

export interface CalibrationSplitOptions {
  split: 'train' | 'test';
  /** How many examples calibrate. */
  n: number;
  seed: number;
  /** The first calibration example (--calib-start); otherwise chosen by the policy above. */
  start?: number;
  /** The evaluation's test examples (the first evalN), which calibration on the test split must avoid. */
  evalN?: number;
}

/** The calibration examples of `full` (the whole split) and a description of where they came from. */
export function calibrationSplit(full: Dataset, o: CalibrationSplitOptions): { ds: Dataset; source: Record<string, unknown> } {
  const { split, n } = o;
  const evalTest = split === 'test' && o.evalN !== undefined;
  if (o.start === undefined && !evalTest) {
    if (n > full.count) throw new OptionError(`{n} ${n}: the ${split} split has only ${full.count} examples`);
    const seed = o.seed + 104729;
    const ids = new Rng(seed).permutation(full.count).subarray(0, n).sort();
    return { ds: take(full, ids), source: { dataset: full.name, split, sample: 'seeded random sample of the split', seed, count: n } };
  }
  const start = o.start ?? (o.evalN as number);
  if (!Number.isInteger(start) || start < 0 || start + n > full.count) {
    throw new OptionError(`{start} ${start} with {n} ${n}: outside the ${full.count} examples of the ${split} split${o.start === undefined ? ' (calibration follows the evaluated examples; lower {evalN} or {n}, or use {split} train)' : ''}`);
  }
  if (evalTest && start < (o.evalN as number)) {
    throw new OptionError(`calibration examples ${start}…${start + n - 1} of the test split overlap the ${o.evalN} evaluated test examples; use {start} ≥ ${o.evalN} or {split} train`);
  }
  return { ds: subset(full, start, n), source: { dataset: full.name, split, start, count: n } };
}
