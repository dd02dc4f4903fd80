/**
 * Random input noise for the noise-based detectors and for the attacker who averages over it (EOT).
 * Every draw is seeded. A draw has shape [S, ...one input's shape] and is shared by all inputs of a
 * batch, so an input's score never depends on what else is in its batch.
 */
import * as tf from '@tensorflow/tfjs';
import { UserError } from '../util/errors.js';

export type NoiseDist = 'gaussian' | 'uniform' | 'sign';
export const NOISE_DISTS: readonly NoiseDist[] = ['gaussian', 'uniform', 'sign'];

/** One noise setting: Gaussian with standard deviation eps, uniform on [−eps, eps], or ±eps per value. */
export interface NoiseSpec {
  dist: NoiseDist;
  eps: number;
}

export function checkNoise(n: unknown, where: string): NoiseSpec {
  if (typeof n !== 'object' || n === null) throw new UserError(`${where}: expected a noise setting {dist, eps}, found ${JSON.stringify(n)}`);
  const r = n as Record<string, unknown>;
  if (!NOISE_DISTS.includes(r['dist'] as NoiseDist)) {
    throw new UserError(`${where}.dist: expected one of ${NOISE_DISTS.join(', ')}, found ${JSON.stringify(r['dist'])}`);
  }
  const eps = r['eps'];
  if (typeof eps !== 'number' || !Number.isFinite(eps) || eps <= 0 || eps >= 1) {
    throw new UserError(`${where}.eps: expected a number in (0, 1) (inputs live in [0,1]), found ${JSON.stringify(eps)}`);
  }
  return { dist: r['dist'] as NoiseDist, eps };
}

/** `samples` noise draws shaped like one input ([S, ...inputShape]). */
export function drawNoise(spec: NoiseSpec, samples: number, inputShape: readonly number[], seed: number): tf.Tensor {
  const shape = [samples, ...inputShape];
  return tf.tidy(() => {
    switch (spec.dist) {
      case 'gaussian':
        return tf.randomNormal(shape, 0, spec.eps, 'float32', seed);
      case 'uniform':
        return tf.randomUniform(shape, -spec.eps, spec.eps, 'float32', seed);
      case 'sign':
        return tf.mul(tf.sign(tf.randomUniform(shape, -1, 1, 'float32', seed)), spec.eps);
    }
  });
}

/**
 * Every input of x [B, ...] plus every noise draw [S, ...], clipped to the [0,1] box: [B·S, ...],
 * example-major (rows b·S … b·S+S−1 belong to input b).
 */
export function noisyCopies(x: tf.Tensor, noise: tf.Tensor, clip = true): tf.Tensor {
  return tf.tidy(() => {
    const b = x.shape[0] as number;
    const s = noise.shape[0] as number;
    const rest = x.shape.slice(1);
    const sum = tf.add(tf.expandDims(x, 1), tf.expandDims(noise, 0));
    const flat = tf.reshape(sum, [b * s, ...rest]);
    return clip ? tf.clipByValue(flat, 0, 1) : flat;
  });
}

/** Mixes a seed with a counter into a fresh 31-bit seed (for per-chunk, per-step draws). */
export function mixSeed(seed: number, k: number): number {
  let h = (Math.floor(seed) ^ 0x5bd1e995) >>> 0;
  h = Math.imul(h ^ (h >>> 15), 0x85ebca6b);
  h = (h ^ Math.imul(k + 0x632be5ab, 0x9e3779b1)) >>> 0;
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  h ^= h >>> 16;
  return h & 0x7fffffff;
}
