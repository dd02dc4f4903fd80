/**
 * Projected gradient descent (Madry et al. 2018) under L∞ or L2, with random start and restarts,
 * untargeted or targeted, on the CE or CW-margin objective.
 */
import * as tf from '@tensorflow/tfjs';
import type { LogitsFn } from '../model/classifier.js';
import { UserError } from '../util/errors.js';
import type { Attack } from './attack.js';
import { Rng } from '../util/rng.js';
import { rejectUnknownOptions } from './options.js';
import { gradientAscent, gradientAttack, type AttackResult } from './gradient-attack.js';
import { objective, type ObjectiveName } from './objectives.js';
import type { ThreatModel } from './threat-model.js';

export interface PgdOptions {
  threat: ThreatModel;
  steps?: number;
  /** Defaults to 2.5·ε/steps (Madry et al.), which lets any point of the ball be reached. */
  stepSize?: number;
  randomStart?: boolean;
  restarts?: number;
  loss?: ObjectiveName;
  seed?: number;
}

export class Pgd implements Attack {
  readonly name: string;
  readonly threat: ThreatModel;
  readonly steps: number;
  readonly stepSize: number;
  readonly randomStart: boolean;
  readonly restarts: number;
  readonly loss: ObjectiveName;
  readonly seed: number;

  constructor(o: PgdOptions) {
    rejectUnknownOptions('PGD', o, ['threat', 'steps', 'stepSize', 'randomStart', 'restarts', 'loss', 'seed']);
    this.threat = o.threat;
    this.steps = o.steps ?? 40;
    this.stepSize = o.stepSize ?? (2.5 * o.threat.eps) / Math.max(this.steps, 1);
    this.randomStart = o.randomStart ?? true;
    this.restarts = o.restarts ?? 1;
    this.loss = o.loss ?? 'ce';
    this.seed = o.seed ?? 0;
    if (!Number.isInteger(this.steps) || this.steps < 1) throw new UserError(`PGD steps: expected an integer ≥ 1, got ${this.steps}`);
    if (!Number.isInteger(this.restarts) || this.restarts < 1) throw new UserError(`PGD restarts: expected an integer ≥ 1, got ${this.restarts}`);
    if (!(this.stepSize > 0)) throw new UserError(`PGD step size: expected a number > 0, got ${this.stepSize}`);
    this.name = `pgd-${this.threat.norm}-${this.loss}-${this.steps}x${this.restarts}`;
  }

  run(f: LogitsFn, x: tf.Tensor, labels: tf.Tensor1D, targets?: tf.Tensor1D): AttackResult {
    return gradientAttack(f, x, targets ?? labels, {
      threat: this.threat,
      steps: this.steps,
      stepSize: this.stepSize,
      randomStart: this.randomStart,
      restarts: this.restarts,
      loss: this.loss,
      targeted: targets !== undefined,
      seed: this.seed,
    });
  }

  /** Transfer mode: every step of every restart, keeping per example the iterate of highest objective. */
  craft(f: LogitsFn, x: tf.Tensor, labels: tf.Tensor1D, targets?: tf.Tensor1D): tf.Tensor {
    const cls = targets ?? labels;
    const targeted = targets !== undefined;
    const cfg = { threat: this.threat, steps: this.steps, stepSize: this.stepSize, randomStart: this.randomStart, loss: this.loss, targeted };
    const rng = new Rng(this.seed);
    let best: tf.Tensor | undefined;
    let bestLoss: tf.Tensor1D | undefined;
    for (let r = 0; r < this.restarts; r++) {
      const last = gradientAscent(f, x, cls, { ...cfg, seed: rng.seed() });
      const loss = tf.tidy(() => objective(this.loss, f(last), cls, targeted));
      if (best === undefined || bestLoss === undefined) {
        best = last;
        bestLoss = loss;
        continue;
      }
      const prev = best, prevLoss = bestLoss;
      [best, bestLoss] = tf.tidy(() => {
        const better = tf.greater(loss, prevLoss);
        const m = better.toFloat().reshape([x.shape[0] as number, ...x.shape.slice(1).map(() => 1)]);
        return [tf.add(tf.mul(prev, tf.sub(1, m)), tf.mul(last, m)), tf.maximum(prevLoss, loss) as tf.Tensor1D];
      }) as [tf.Tensor, tf.Tensor1D];
      tf.dispose([prev, prevLoss, last, loss]);
    }
    bestLoss?.dispose();
    return best as tf.Tensor;
  }

  describe(): Record<string, unknown> {
    return {
      attack: 'pgd', norm: this.threat.norm, eps: this.threat.eps, steps: this.steps, stepSize: this.stepSize,
      randomStart: this.randomStart, restarts: this.restarts, loss: this.loss, seed: this.seed,
    };
  }
}
