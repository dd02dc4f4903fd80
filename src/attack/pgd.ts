/**
 * Projected gradient descent (Madry et al. 2018) under L∞ or L2, with random start and restarts,
 * untargeted or targeted, on the CE or CW-margin objective.
 */
import type * as tf from '@tensorflow/tfjs';
import type { LogitsFn } from '../model/classifier.js';
import { UserError } from '../util/errors.js';
import type { Attack } from './attack.js';
import { gradientAttack, type AttackResult } from './gradient-attack.js';
import type { ObjectiveName } from './objectives.js';
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

  describe(): Record<string, unknown> {
    return {
      attack: 'pgd', norm: this.threat.norm, eps: this.threat.eps, steps: this.steps, stepSize: this.stepSize,
      randomStart: this.randomStart, restarts: this.restarts, loss: this.loss, seed: this.seed,
    };
  }
}
