/**
 * Generalisation off the training distribution: clean accuracy under deterministic shifts (data/shift.ts)
 * and, on an out-of-distribution set (Fashion-MNIST for an MNIST model), how often the model is confidently
 * wrong — every prediction there is wrong, so confidence is the only thing to measure.
 */
import * as tf from '@tensorflow/tfjs';
import type { Dataset } from '../data/dataset.js';
import { DEFAULT_SHIFTS, shiftDataset, shiftLabel, type ShiftSpec } from '../data/shift.js';
import { forEachBatch } from '../attack/runner.js';
import { logitsOf, type LogitsFn } from '../model/classifier.js';

export interface ShiftResult {
  shift: ShiftSpec;
  label: string;
  accuracy: number;
  /** Mean of the largest softmax probability. */
  meanConfidence: number;
}

export interface OodResult {
  dataset: string;
  examples: number;
  /** Mean of the largest softmax probability over the out-of-distribution inputs. */
  meanConfidence: number;
  /** Share of out-of-distribution inputs given at least `threshold` probability for one class. */
  confidentShare: number;
  threshold: number;
}

export interface GeneralisationResult {
  examples: number;
  seed: number;
  clean: { accuracy: number; meanConfidence: number };
  shifts: ShiftResult[];
  ood: OodResult | null;
}

export interface GeneralisationOptions {
  shifts?: readonly ShiftSpec[];
  seed?: number;
  /** An out-of-distribution set of the same input shape. */
  ood?: Dataset;
  /** Probability above which an out-of-distribution prediction counts as confident (default 0.9). */
  threshold?: number;
  batchSize?: number;
}

/** Predicted class and largest softmax probability of every example, in batches. */
export function predictWithConfidence(f: LogitsFn, ds: Dataset, batchSize = 500): { predicted: Int32Array; confidence: Float32Array } {
  const predicted = new Int32Array(ds.count);
  const confidence = new Float32Array(ds.count);
  forEachBatch(ds, batchSize, (x, i) => {
    const probs = tf.softmax(f(x));
    predicted.set(probs.argMax(-1).dataSync() as Int32Array, i);
    confidence.set(probs.max(-1).dataSync() as Float32Array, i);
  });
  return { predicted, confidence };
}

function accuracyAndConfidence(f: LogitsFn, ds: Dataset, batchSize: number): { accuracy: number; meanConfidence: number } {
  const { predicted, confidence } = predictWithConfidence(f, ds, batchSize);
  let correct = 0, conf = 0;
  for (let i = 0; i < ds.count; i++) {
    if (predicted[i] === ds.labels[i]) correct++;
    conf += confidence[i] as number;
  }
  return { accuracy: correct / ds.count, meanConfidence: conf / ds.count };
}

export function evaluateGeneralisation(model: tf.LayersModel | LogitsFn, ds: Dataset, o: GeneralisationOptions = {}): GeneralisationResult {
  const f = logitsOf(model);
  const seed = o.seed ?? 0;
  const bs = o.batchSize ?? 500;
  const shifts = (o.shifts ?? DEFAULT_SHIFTS).map((shift) => ({
    shift, label: shiftLabel(shift), ...accuracyAndConfidence(f, shiftDataset(ds, shift, seed), bs),
  }));
  let ood: OodResult | null = null;
  if (o.ood !== undefined) {
    const threshold = o.threshold ?? 0.9;
    const { confidence } = predictWithConfidence(f, o.ood, bs);
    let sum = 0, confident = 0;
    for (const c of confidence) {
      sum += c;
      if (c >= threshold) confident++;
    }
    ood = { dataset: o.ood.name, examples: o.ood.count, meanConfidence: sum / o.ood.count, confidentShare: confident / o.ood.count, threshold };
  }
  return { examples: ds.count, seed, clean: accuracyAndConfidence(f, ds, bs), shifts, ood };
}
