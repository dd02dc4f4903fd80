/**
 * Adversarial-input detectors: one interface, higher score = more suspicious. A detector is rebuilt
 * from its serialisable config (what `describe()` returns, including fitted statistics), which is what
 * detector.json stores beside model.json.
 *
 * For adaptive attacks (Tramèr et al. 2020) each detector also offers a differentiable surrogate of
 * its score: exact for deterministic detectors, an expectation over fresh seeded noise (EOT) for
 * noisy ones, with non-differentiable inner choices (predicted class, inner attack direction) fixed
 * at the current iterate by `prepare`.
 */
import * as tf from '@tensorflow/tfjs';
import type { LogitsFn } from '../model/classifier.js';
import type { NoiseSpec } from './noise.js';

export type DetectorKind = 'max-softmax' | 'margin' | 'logit-discrepancy' | 'odds';
export const DETECTOR_KINDS: readonly DetectorKind[] = ['logit-discrepancy', 'odds', 'max-softmax', 'margin'];

/** The serialisable form of a detector; `kind` selects the class. */
export interface DetectorConfig {
  kind: DetectorKind;
  [key: string]: unknown;
}

export interface SurrogateOptions {
  /** Noise draws per input for the expectation over transformations. */
  samples: number;
  /** Seed of the attacker's own noise (independent of the detector's). */
  seed: number;
}

/** A differentiable stand-in for a detector's score, used inside an attack's gradient step. */
export interface Surrogate {
  /** Non-differentiable work at the current iterate (predicted class, inner attack, fresh noise). */
  prepare(x: tf.Tensor): void;
  /** Per-example surrogate score [B]; differentiable with respect to x. */
  value(x: tf.Tensor): tf.Tensor1D;
  dispose(): void;
}

export interface Detector {
  readonly kind: DetectorKind;
  /** A short name for reports, with the settings that matter. */
  readonly name: string;
  /** True while the detector still needs `fit` on clean data before it can score. */
  readonly needsFit: boolean;
  /** Fits statistics on clean inputs (labels, when given, restrict the fit to correctly classified ones). */
  fit(f: LogitsFn, x: tf.Tensor, labels?: Int32Array): void;
  /** Per-example suspicion scores for a batch; higher = more suspicious. Batches internally. */
  score(f: LogitsFn, x: tf.Tensor): Float32Array;
  surrogate(f: LogitsFn, o: SurrogateOptions): Surrogate;
  /** The noise settings the detector draws from ([] when deterministic), for an EOT attacker. */
  noise(): NoiseSpec[];
  /** Serialisable config that rebuilds this detector exactly, fitted statistics included. */
  describe(): DetectorConfig;
}

/**
 * Runs `fn` over x in chunks of at most `rows` inputs and concatenates the per-example results. Each
 * chunk runs in its own tidy scope.
 */
export function inChunks(x: tf.Tensor, rows: number, fn: (chunk: tf.Tensor, start: number) => tf.Tensor1D): Float32Array {
  const n = x.shape[0] as number;
  const out = new Float32Array(n);
  const step = Math.max(1, Math.floor(rows));
  for (let i = 0; i < n; i += step) {
    const size = Math.min(step, n - i);
    const v = tf.tidy(() => {
      const chunk = size === n ? x : tf.slice(x, i, size);
      return fn(chunk, i).dataSync() as Float32Array;
    });
    out.set(v, i);
  }
  for (let i = 0; i < n; i++) {
    if (Number.isNaN(out[i] as number)) throw new Error(`detector score of input ${i} is NaN (does the model output finite logits?)`);
  }
  return out;
}

/** Inputs per chunk so that chunk × samples forward rows stay near `budget`. */
export function chunkRows(samples: number, budget = 4096): number {
  return Math.max(1, Math.floor(budget / Math.max(1, samples)));
}

/** Mean over noise draws: values [B·S] (example-major) → [B]. */
export function meanOverDraws(v: tf.Tensor, b: number, s: number): tf.Tensor1D {
  return tf.mean(tf.reshape(v, [b, s]), 1) as tf.Tensor1D;
}
