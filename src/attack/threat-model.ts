/**
 * A threat model: which perturbations the adversary may add. It supplies the three pieces of norm
 * geometry every gradient attack needs: a random start inside the ball, the steepest-ascent step
 * direction for that norm, and the projection back onto the ball. Inputs live in a box, [0,1] unless
 * the threat model says otherwise: images and audio use [0,1]; perturbed embeddings (text) have no box.
 */
import * as tf from '@tensorflow/tfjs';
import { OptionError, optionRef } from '../util/errors.js';

import { NORMS, type NormName } from './norms.js';

export { NORMS, type NormName };

/** The box inputs must stay in, [lo, hi], or null for none (embeddings). */
export type Bounds = readonly [number, number] | null;
export const UNIT_BOX: Bounds = [0, 1];

export interface ThreatModel {
  norm: NormName;
  /** Radius of the ball, in input units (pixels scaled to [0,1]). */
  eps: number;
  /** The input box; default [0,1]. */
  bounds?: Bounds;
}

/** The box of a threat model ([0,1] unless it names another, or null). */
export function boundsOf(t: Pick<ThreatModel, 'bounds'>): Bounds {
  return t.bounds === undefined ? UNIT_BOX : t.bounds;
}

export interface Norm {
  readonly name: NormName;
  /** A random perturbation inside the ε-ball, shaped like x. */
  randomStart(shape: number[], eps: number, seed: number): tf.Tensor;
  /** The ascent step of length `alpha` (in this norm) along the gradient. */
  step(grad: tf.Tensor, alpha: number): tf.Tensor;
  /** Projects a perturbation onto the ε-ball. */
  project(delta: tf.Tensor, eps: number): tf.Tensor;
  /** The per-example size of a perturbation in this norm, [B]. */
  size(delta: tf.Tensor): tf.Tensor1D;
}

const TINY = 1e-12;

function flat(t: tf.Tensor): tf.Tensor2D {
  return t.reshape([t.shape[0] as number, -1]) as tf.Tensor2D;
}

/** Per-example L2 norm broadcastable against t ([B,1,1,...]). */
function l2Keep(t: tf.Tensor): tf.Tensor {
  const n = tf.sqrt(tf.sum(tf.square(flat(t)), 1));
  return n.reshape([t.shape[0] as number, ...t.shape.slice(1).map(() => 1)]);
}

export const LINF: Norm = {
  name: 'linf',
  randomStart: (shape, eps, seed) => tf.randomUniform(shape, -eps, eps, 'float32', seed),
  step: (grad, alpha) => tf.tidy(() => tf.mul(tf.sign(grad), alpha)),
  project: (delta, eps) => tf.clipByValue(delta, -eps, eps),
  size: (delta) => tf.tidy(() => tf.max(tf.abs(flat(delta)), 1) as tf.Tensor1D),
};

export const L2: Norm = {
  name: 'l2',
  randomStart: (shape, eps, seed) =>
    tf.tidy(() => {
      // Uniform in the ball: a Gaussian direction, radius eps·u^(1/d).
      const g = tf.randomNormal(shape, 0, 1, 'float32', seed);
      const d = shape.slice(1).reduce((a, b) => a * b, 1);
      const r = tf.pow(tf.randomUniform([shape[0] as number], 0, 1, 'float32', seed + 1), 1 / d);
      const radius = tf.mul(r, eps).reshape([shape[0] as number, ...shape.slice(1).map(() => 1)]);
      return tf.mul(tf.div(g, tf.add(l2Keep(g), TINY)), radius);
    }),
  step: (grad, alpha) => tf.tidy(() => tf.mul(tf.div(grad, tf.add(l2Keep(grad), TINY)), alpha)),
  project: (delta, eps) =>
    tf.tidy(() => {
      const n = l2Keep(delta);
      const factor = tf.minimum(1, tf.div(eps, tf.add(n, TINY)));
      return tf.mul(delta, factor);
    }),
  size: (delta) => tf.tidy(() => tf.sqrt(tf.sum(tf.square(flat(delta)), 1)) as tf.Tensor1D),
};

export function normOf(name: NormName): Norm {
  if (name === 'linf') return LINF;
  if (name === 'l2') return L2;
  throw new OptionError(`{norm}: expected one of ${NORMS.join(', ')}, got '${String(name)}'`);
}

/**
 * Checks a threat model against the [0,1] input box. Under L∞ a radius ≥ 1 (or under L2 one that
 * covers the whole box) makes every input reachable and the evaluation meaningless.
 */
export function validateThreatModel(t: ThreatModel, inputSize: number, option = 'eps'): void {
  const ref = optionRef(option);
  if (!NORMS.includes(t.norm)) throw new OptionError(`{norm}: expected one of ${NORMS.join(', ')}, got '${String(t.norm)}'`);
  if (!Number.isFinite(t.eps) || t.eps < 0) throw new OptionError(`${ref}: expected a finite number ≥ 0, got ${t.eps}`);
  const box = boundsOf(t);
  if (box === null) return; // no box: every radius is meaningful
  // The box's width: 1 for alp's [0,1] inputs, hi − lo for a library caller's own box.
  const width = box[1] - box[0];
  const max = t.norm === 'linf' ? width : Math.sqrt(inputSize) * width;
  if (t.eps >= max) {
    throw new OptionError(`${ref}: ${t.eps} is outside the [${box[0]},${box[1]}] input box for ${t.norm} (must be < ${t.norm === 'linf' ? max : max.toFixed(2)})`);
  }
}

/**
 * x + δ projected onto the ε-ball around x and then into the box (which keeps it in the ball, since
 * x is in the box and both sets are convex and axis-aligned for clipping).
 */
export function projectToThreat(norm: Norm, x: tf.Tensor, xAdv: tf.Tensor, eps: number, bounds: Bounds = UNIT_BOX): tf.Tensor {
  return tf.tidy(() => {
    const inBall = tf.add(x, norm.project(tf.sub(xAdv, x), eps));
    return bounds === null ? inBall : tf.clipByValue(inBall, bounds[0], bounds[1]);
  });
}

/** A random start per example, each drawn from its own seed (so independent of the batch). */
export function randomStartRows(norm: Norm, shape: number[], eps: number, seeds: ArrayLike<number>): tf.Tensor {
  return tf.tidy(() => {
    const row = [1, ...shape.slice(1)];
    const rows = Array.from({ length: shape[0] as number }, (_, j) => norm.randomStart(row, eps, seeds[j] as number));
    return rows.length === 0 ? tf.zeros(shape) : tf.concat(rows, 0);
  });
}
