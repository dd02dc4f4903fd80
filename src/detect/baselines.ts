/**
 * Baseline detectors that look at one forward pass: the maximum softmax probability (Hendrycks &
 * Gimpel 2017) and the logit margin between the two largest logits. Both are deterministic, so their
 * surrogate for an adaptive attack is the score itself.
 */
import * as tf from '@tensorflow/tfjs';
import type { LogitsFn } from '../model/classifier.js';
import { UserError } from '../util/errors.js';
import { inChunks, type Detector, type DetectorConfig, type Surrogate } from './detector.js';
import type { NoiseSpec } from './noise.js';

/** 1 − max_k softmax(z)_k: low confidence is suspicious. */
export function maxSoftmaxScore(z: tf.Tensor2D): tf.Tensor1D {
  return tf.tidy(() => tf.sub(1, tf.max(tf.softmax(z), 1)) as tf.Tensor1D);
}

/** −(z_(1) − z_(2)), the gap between the two largest logits, negated: a small gap is suspicious. */
export function marginScore(z: tf.Tensor2D): tf.Tensor1D {
  return tf.tidy(() => {
    const k = z.shape[1];
    const top = tf.max(z, 1);
    const mask = tf.oneHot(tf.argMax(z, 1), k);
    const second = tf.max(tf.sub(z, tf.mul(mask, 1e9)), 1);
    return tf.neg(tf.sub(top, second)) as tf.Tensor1D;
  });
}

abstract class OnePassDetector implements Detector {
  abstract readonly kind: 'max-softmax' | 'margin';
  abstract readonly name: string;
  readonly needsFit = false;
  protected abstract of(z: tf.Tensor2D): tf.Tensor1D;

  fit(): void {
    /* nothing to fit */
  }

  score(f: LogitsFn, x: tf.Tensor): Float32Array {
    return inChunks(x, 512, (c) => this.of(f(c)));
  }

  surrogate(f: LogitsFn): Surrogate {
    return { prepare: () => undefined, value: (x) => this.of(f(x)), dispose: () => undefined };
  }

  noise(): NoiseSpec[] {
    return [];
  }

  describe(): DetectorConfig {
    return { kind: this.kind };
  }
}

export class MaxSoftmaxDetector extends OnePassDetector {
  readonly kind = 'max-softmax' as const;
  readonly name = 'max-softmax';
  protected of(z: tf.Tensor2D): tf.Tensor1D {
    return maxSoftmaxScore(z);
  }
}

export class MarginDetector extends OnePassDetector {
  readonly kind = 'margin' as const;
  readonly name = 'margin';
  protected of(z: tf.Tensor2D): tf.Tensor1D {
    return marginScore(z);
  }
}

export function baselineFromConfig(c: DetectorConfig, where: string): Detector {
  const extra = Object.keys(c).filter((k) => k !== 'kind');
  if (extra.length > 0) throw new UserError(`${where}: unknown field ${extra[0]} for detector kind '${c.kind}'`);
  if (c.kind === 'max-softmax') return new MaxSoftmaxDetector();
  if (c.kind === 'margin') return new MarginDetector();
  throw new UserError(`${where}.kind: not a baseline detector: ${JSON.stringify(c.kind)}`);
}
