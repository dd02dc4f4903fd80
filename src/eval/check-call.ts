/**
 * The library's own checks on the long calls (evaluateRobustness, epsSweep, audit, runCascade,
 * trainModel): the same rules the CLI applies before it calls them, so a caller of the library gets the
 * same one-line OptionError (`eps: 1.5 is outside the [0,1] input box …`) instead of a number measured
 * on a meaningless threat model. Messages name the library's options; the CLI renders them as flags.
 */
import { validateThreatModel, type ThreatModel } from '../attack/threat-model.js';
import { imageSize, type Dataset } from '../data/dataset.js';
import { OptionError } from '../util/errors.js';

/** Every threat model against the dataset's inputs (ε ≥ 0 and finite; inside the box when there is one). */
export function checkThreats(ds: Pick<Dataset, 'shape'>, threats: readonly ThreatModel[], option = 'eps'): void {
  for (const t of threats) validateThreatModel(t, imageSize(ds), option);
}

/** A batch size, when given: an integer ≥ 1. */
export function checkBatchSize(batchSize: number | undefined): void {
  if (batchSize !== undefined && (!Number.isInteger(batchSize) || batchSize < 1)) throw new OptionError(`{batchSize}: expected an integer ≥ 1, got ${batchSize}`);
}

/** The dataset's labels, each a class of the dataset (a label out of range would count as always wrong). */
export function checkLabels(ds: Pick<Dataset, 'labels' | 'count' | 'numClasses' | 'name'>): void {
  for (let i = 0; i < ds.count; i++) {
    const y = ds.labels[i] as number;
    if (!Number.isInteger(y) || y < 0 || y >= ds.numClasses) throw new OptionError(`${ds.name}: label ${i}: expected a class in [0, ${ds.numClasses - 1}], found ${y}`);
  }
}

/** The checks of one evaluation call: the data's labels, every threat model, the batch size. */
export function checkEvalCall(ds: Dataset, threats: readonly ThreatModel[], o: { batchSize?: number } = {}, option = 'eps'): void {
  checkLabels(ds);
  checkThreats(ds, threats, option);
  checkBatchSize(o.batchSize);
}
