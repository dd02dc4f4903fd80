/**
 * Auto-PGD (Croce & Hein 2020, "Reliable evaluation of adversarial robustness with an ensemble of
 * diverse parameter-free attacks"): PGD with momentum whose step size needs no tuning. It starts at
 * η = 2ε and, at checkpoints w_j = ⌈p_j·N⌉ (p_0 = 0, p_1 = 0.22, p_{j+1} = p_j + max(p_j − p_{j−1} − 0.03, 0.06)),
 * halves η and restarts from the best point found so far when the loss stalled: fewer than ρ·(w_j − w_{j−1})
 * of the steps since the last checkpoint increased the loss (condition 1), or neither η nor the best
 * loss changed since the last checkpoint (condition 2). One update is
 *   z      = P(x_k + η·step(∇f(x_k)))
 *   x_k+1  = P(x_k + α(z − x_k) + (1 − α)(x_k − x_k−1)),   α = 0.75 (α = 1 on the first step),
 * with step(·) the threat model's steepest-ascent direction (sign for L∞, normalised gradient for L2)
 * and P the projection onto the ε-ball ∩ [0,1] box.
 *
 * Losses: 'ce', 'cw' (the margin max_{j≠y} z_j − z_y: with two classes the DLR losses are undefined, and
 * the margin keeps its gradient where a saturated softmax starves CE), untargeted 'dlr', and 'dlr-targeted' (APGD-T as in AutoAttack: each of the `targetClasses`
 * most likely wrong classes of the clean input is tried in turn as the target, each run counting as a
 * restart, and success means misclassification). When `run` is given explicit targets the attack is
 * targeted: CE becomes −CE(target), the margin aims at the target, both DLR variants become the targeted DLR towards the given target,
 * and success means the target is predicted.
 *
 * APGD supplies one run; the runner's restart search does the rest as for PGD: an already-misclassified
 * clean input counts, every iterate is checked by its prediction, further restarts only run on examples
 * not yet fooled, and for examples never fooled the point of highest loss is returned.
 */
import * as tf from '@tensorflow/tfjs';
import type { LogitsFn } from '../model/classifier.js';
import { UserError } from '../util/errors.js';
import { rejectUnknownOptions } from './options.js';
import type { Attack, RunContext, SearchAttack, SingleRun } from './attack.js';
import { dlr, dlrTargeted } from './dlr.js';
import type { AttackResult } from './gradient-attack.js';
import { objective } from './objectives.js';
import { searchWithRestarts } from './runner.js';
import { boundsOf, normOf, projectToThreat, randomStartRows, type ThreatModel } from './threat-model.js';

export const APGD_LOSSES = ['ce', 'cw', 'dlr', 'dlr-targeted'] as const;
export type ApgdLoss = (typeof APGD_LOSSES)[number];

export interface ApgdOptions {
  threat: ThreatModel;
  /** Update steps per run (N). Default 100, as in AutoAttack. */
  steps?: number;
  /** Random restarts per run (per target class for 'dlr-targeted'). Default 1. */
  restarts?: number;
  loss?: ApgdLoss;
  /** 'dlr-targeted' only: how many of the most likely wrong classes to try as targets. Default 9. */
  targetClasses?: number;
  /** Condition-1 threshold ρ. Default 0.75. */
  rho?: number;
  /** Momentum weight α. Default 0.75. */
  momentum?: number;
  /** Start each run at a random point of the ball (default) or at the clean input. */
  randomStart?: boolean;
  seed?: number;
  /**
   * Called after each update k (1 ≤ k < N) of every run that goes on, with the per-example step sizes in
   * force for the next update (a copy). For diagnostics and tests.
   */
  onStep?: (k: number, stepSizes: Float32Array) => void;
}

const round10 = (v: number): number => Math.round(v * 1e10) / 1e10;

/** The checkpoint fractions p_0 = 0, p_1 = 0.22, p_{j+1} = p_j + max(p_j − p_{j−1} − 0.03, 0.06), up to 1. */
export function apgdCheckpointFractions(): number[] {
  const p = [0, 0.22];
  for (;;) {
    const j = p.length - 1;
    const next = round10((p[j] as number) + Math.max((p[j] as number) - (p[j - 1] as number) - 0.03, 0.06));
    if (next > 1) return p;
    p.push(next);
  }
}

/** The checkpoint iterations w_j = ⌈p_j·N⌉ for N steps, starting with w_0 = 0, strictly increasing. */
export function apgdCheckpoints(steps: number): number[] {
  const out: number[] = [];
  for (const p of apgdCheckpointFractions()) {
    const w = Math.min(steps, Math.ceil(round10(p * steps)));
    if (out.length === 0 || w > (out[out.length - 1] as number)) out.push(w);
  }
  return out;
}

/** Per-example loss to maximise, from the logits. */
type LossFn = (z: tf.Tensor2D) => tf.Tensor1D;

interface RunState {
  /** The highest-loss point of the run (the caller owns it). */
  xMax: tf.Tensor;
  lossMax: Float32Array;
}

/** Broadcast shape [B,1,1,...] for a per-example scalar against x. */
function perExampleShape(x: tf.Tensor): number[] {
  return [x.shape[0] as number, ...x.shape.slice(1).map(() => 1)];
}

/** Rows of `b` where mask is 1, rows of `a` elsewhere (exact for 0/1 masks). */
function blendRows(a: tf.Tensor, b: tf.Tensor, mask: Float32Array): tf.Tensor {
  return tf.tidy(() => {
    const m = tf.tensor(mask, perExampleShape(a));
    return tf.add(tf.mul(a, tf.sub(1, m)), tf.mul(b, m));
  });
}

export class Apgd implements Attack, SearchAttack {
  readonly name: string;
  readonly threat: ThreatModel;
  readonly steps: number;
  readonly restarts: number;
  readonly loss: ApgdLoss;
  readonly targetClasses: number;
  readonly rho: number;
  readonly momentum: number;
  readonly randomStart: boolean;
  readonly seed: number;
  private readonly onStep: ((k: number, stepSizes: Float32Array) => void) | undefined;

  constructor(o: ApgdOptions) {
    rejectUnknownOptions('APGD', o, ['threat', 'steps', 'restarts', 'loss', 'targetClasses', 'rho', 'momentum', 'randomStart', 'seed', 'onStep']);
    this.threat = o.threat;
    this.steps = o.steps ?? 100;
    this.restarts = o.restarts ?? 1;
    this.loss = o.loss ?? 'ce';
    this.targetClasses = o.targetClasses ?? 9;
    this.rho = o.rho ?? 0.75;
    this.momentum = o.momentum ?? 0.75;
    this.randomStart = o.randomStart ?? true;
    this.seed = o.seed ?? 0;
    this.onStep = o.onStep;
    if (!Number.isInteger(this.steps) || this.steps < 1) throw new UserError(`APGD steps: expected an integer ≥ 1, got ${this.steps}`);
    if (!Number.isInteger(this.restarts) || this.restarts < 1) throw new UserError(`APGD restarts: expected an integer ≥ 1, got ${this.restarts}`);
    if (!APGD_LOSSES.includes(this.loss)) throw new UserError(`APGD loss: expected one of ${APGD_LOSSES.join(', ')}, got '${String(this.loss)}'`);
    if (!Number.isInteger(this.targetClasses) || this.targetClasses < 1) throw new UserError(`APGD target classes: expected an integer ≥ 1, got ${this.targetClasses}`);
    if (!(this.rho > 0 && this.rho <= 1)) throw new UserError(`APGD rho: expected a number in (0,1], got ${this.rho}`);
    if (!(this.momentum > 0 && this.momentum <= 1)) throw new UserError(`APGD momentum: expected a number in (0,1], got ${this.momentum}`);
    const t = this.loss === 'dlr-targeted' ? `-t${this.targetClasses}` : '';
    this.name = `apgd-${this.threat.norm}-${this.loss}-${this.steps}x${this.restarts}${t}`;
  }

  /** @internal Unverified: run it with `runAttack`. */
  run(f: LogitsFn, x: tf.Tensor, labels: tf.Tensor1D, targets?: tf.Tensor1D, ids?: readonly number[]): AttackResult {
    return searchWithRestarts(this, f, x, labels, { targets, ids });
  }

  /** `restarts` runs; for untargeted 'dlr-targeted', that many per target class (APGD-T's restart groups). */
  runs(classes: number, targeted: boolean): number {
    const groups = !targeted && this.loss === 'dlr-targeted' ? Math.min(this.targetClasses, classes - 1) : 1;
    return groups * this.restarts;
  }

  single(f: LogitsFn, x: tf.Tensor, labels: tf.Tensor1D, targets: tf.Tensor1D | undefined, ctx: RunContext): SingleRun {
    const targeted = targets !== undefined;
    // Run r of APGD-T aims, per example, at the (⌊r/restarts⌋+1)-th most likely wrong class of the clean input.
    let ts = targets;
    if (!targeted && this.loss === 'dlr-targeted') {
      const y = labels.dataSync() as Int32Array;
      const m = y.length;
      const k = ctx.cleanLogits.length / Math.max(m, 1);
      const rank = Math.floor(ctx.run / this.restarts);
      const t = new Int32Array(m);
      for (let j = 0; j < m; j++) {
        const row = ctx.cleanLogits.subarray(j * k, (j + 1) * k);
        const order = Array.from({ length: k }, (_, q) => q)
          .filter((q) => q !== y[j])
          .sort((p, q) => (row[q] as number) - (row[p] as number) || p - q);
        t[j] = order[rank] as number;
      }
      ts = tf.tensor1d(t, 'int32');
    }
    try {
      const lossFn = this.lossFn(labels, ts, targeted);
      const record = (xa: tf.Tensor, z: tf.Tensor2D): boolean => {
        const pred = tf.tidy(() => z.argMax(-1).dataSync() as Int32Array);
        return ctx.record(() => xa.dataSync() as Float32Array, pred).every((v) => v === 1);
      };
      const { xMax, lossMax } = this.once(f, x, lossFn, record, ctx.seeds);
      return { adversarial: xMax, score: lossMax };
    } finally {
      if (ts !== targets) ts?.dispose();
    }
  }

  private lossFn(ys: tf.Tensor1D, ts: tf.Tensor1D | undefined, targeted: boolean): LossFn {
    if (targeted) {
      const t = ts as tf.Tensor1D;
      if (this.loss === 'ce' || this.loss === 'cw') return (z) => objective(this.loss as 'ce' | 'cw', z, t, true);
      return (z) => dlrTargeted(z, ys, t);
    }
    if (this.loss === 'ce' || this.loss === 'cw') return (z) => objective(this.loss as 'ce' | 'cw', z, ys, false);
    if (this.loss === 'dlr') return (z) => dlr(z, ys);
    const t = ts as tf.Tensor1D;
    return (z) => dlrTargeted(z, ys, t);
  }

  /** One APGD run from one start; `record` sees every iterate with its logits and returns true when all are fooled. */
  private once(f: LogitsFn, x: tf.Tensor, lossFn: LossFn, record: (xa: tf.Tensor, z: tf.Tensor2D) => boolean, seeds: Int32Array): RunState {
    const n = x.shape[0] as number;
    const norm = normOf(this.threat.norm);
    const eps = this.threat.eps;
    const box = boundsOf(this.threat);
    const nSteps = this.steps;
    const checkpoints = new Set(apgdCheckpoints(nSteps).slice(1));

    /** Loss per example, logits and (unless forwardOnly) the gradient of the summed loss. */
    const evaluate = (xa: tf.Tensor, forwardOnly: boolean): { loss: Float32Array; grad?: tf.Tensor; allFooled: boolean } => {
      if (forwardOnly) {
        const z = tf.tidy(() => f(xa));
        const allFooled = record(xa, z);
        const loss = tf.tidy(() => lossFn(z).dataSync() as Float32Array);
        z.dispose();
        return { loss: Float32Array.from(loss), allFooled };
      }
      const held: { z?: tf.Tensor2D; l?: tf.Tensor1D } = {};
      const grad = tf.grad((xi: tf.Tensor) => {
        const z = f(xi);
        const l = lossFn(z);
        held.z = tf.keep(z);
        held.l = tf.keep(l);
        return tf.sum(l) as tf.Scalar;
      })(xa);
      const z = held.z as tf.Tensor2D;
      const l = held.l as tf.Tensor1D;
      const allFooled = record(xa, z);
      const loss = Float32Array.from(l.dataSync() as Float32Array);
      tf.dispose([z, l]);
      return { loss, grad, allFooled };
    };

    let xCur: tf.Tensor = this.randomStart
      ? tf.tidy(() => projectToThreat(norm, x, tf.add(x, randomStartRows(norm, x.shape, eps, seeds)), eps, box))
      : tf.clone(x);
    const first = evaluate(xCur, false);
    let grad = first.grad as tf.Tensor;
    let lossCur = first.loss;
    let xPrev: tf.Tensor = tf.clone(xCur);
    let xMax: tf.Tensor = tf.clone(xCur);
    let gradMax: tf.Tensor = tf.clone(grad);
    const lossMax = Float32Array.from(lossCur);
    if (first.allFooled) {
      tf.dispose([xCur, xPrev, grad, gradMax]);
      return { xMax, lossMax };
    }

    const eta = new Float32Array(n).fill(2 * eps);
    let lossMaxAtCheck = Float32Array.from(lossMax);
    let reducedAtCheck = new Uint8Array(n);
    const increases = new Int32Array(n);
    let lastCheck = 0;

    for (let k = 0; k < nSteps; k++) {
      const alpha = k === 0 ? 1 : this.momentum;
      const xNext = tf.tidy(() => {
        const etaT = tf.tensor(eta, perExampleShape(x));
        const z = projectToThreat(norm, x, tf.add(xCur, tf.mul(norm.step(grad, 1), etaT)), eps, box);
        const moved = tf.add(tf.add(xCur, tf.mul(tf.sub(z, xCur), alpha)), tf.mul(tf.sub(xCur, xPrev), 1 - alpha));
        return projectToThreat(norm, x, moved, eps, box);
      });
      const last = k === nSteps - 1;
      const ev = evaluate(xNext, last);
      const loss = ev.loss;
      const improved = new Float32Array(n);
      let anyImproved = false;
      for (let i = 0; i < n; i++) {
        if ((loss[i] as number) > (lossCur[i] as number)) increases[i] = (increases[i] as number) + 1;
        if ((loss[i] as number) > (lossMax[i] as number)) {
          lossMax[i] = loss[i] as number;
          improved[i] = 1;
          anyImproved = true;
        }
      }
      if (anyImproved) {
        const nx = blendRows(xMax, xNext, improved);
        xMax.dispose();
        xMax = nx;
        if (ev.grad !== undefined) {
          const ng = blendRows(gradMax, ev.grad, improved);
          gradMax.dispose();
          gradMax = ng;
        }
      }
      xPrev.dispose();
      xPrev = xCur;
      xCur = xNext;
      grad.dispose();
      lossCur = loss;
      // The last iterate needs no gradient; once every example is fooled there is nothing left to do.
      if (ev.grad === undefined) break;
      grad = ev.grad;
      if (ev.allFooled) break;

      if (checkpoints.has(k + 1)) {
        const span = k + 1 - lastCheck;
        const reduce = new Float32Array(n);
        let anyReduce = false;
        for (let i = 0; i < n; i++) {
          const cond1 = (increases[i] as number) < this.rho * span;
          const cond2 = !reducedAtCheck[i] && (lossMax[i] as number) <= (lossMaxAtCheck[i] as number);
          if (cond1 || cond2) {
            reduce[i] = 1;
            anyReduce = true;
            eta[i] = (eta[i] as number) / 2;
            lossCur[i] = lossMax[i] as number;
          }
        }
        if (anyReduce) {
          const nx = blendRows(xCur, xMax, reduce);
          xCur.dispose();
          xCur = nx;
          const ng = blendRows(grad, gradMax, reduce);
          grad.dispose();
          grad = ng;
        }
        reducedAtCheck = Uint8Array.from(reduce);
        lossMaxAtCheck = Float32Array.from(lossMax);
        increases.fill(0);
        lastCheck = k + 1;
      }
      this.onStep?.(k + 1, Float32Array.from(eta));
    }
    tf.dispose([xCur, xPrev, grad, gradMax]);
    return { xMax, lossMax };
  }

  describe(): Record<string, unknown> {
    return {
      attack: 'apgd', norm: this.threat.norm, eps: this.threat.eps, steps: this.steps, restarts: this.restarts, loss: this.loss,
      ...(this.loss === 'dlr-targeted' ? { targetClasses: this.targetClasses } : {}),
      rho: this.rho, momentum: this.momentum, initialStepSize: 2 * this.threat.eps, randomStart: this.randomStart, seed: this.seed,
    };
  }
}
