/**
 * Projected gradient descent (Madry et al. 2018) under L∞ or L2, with random start and restarts,
 * untargeted or targeted, on the CE or CW-margin objective.
 */
import * as tf from '@tensorflow/tfjs';
import type { LogitsFn } from '../model/classifier.js';
import { UserError } from '../util/errors.js';
import type { Attack, RunContext, SearchAttack, SingleRun } from './attack.js';
import { rejectUnknownOptions } from './options.js';
import { gradientRun, type AttackResult } from './gradient-attack.js';
import { searchWithRestarts } from './runner.js';
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

export class Pgd implements Attack, SearchAttack {
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

  /** @internal Unverified: run it with `runAttack`. */
  run(f: LogitsFn, x: tf.Tensor, labels: tf.Tensor1D, targets?: tf.Tensor1D, ids?: readonly number[]): AttackResult {
    return searchWithRestarts(this, f, x, labels, { targets, ids });
  }

  runs(): number {
    return this.restarts;
  }

  single(f: LogitsFn, x: tf.Tensor, labels: tf.Tensor1D, targets: tf.Tensor1D | undefined, ctx: RunContext): SingleRun {
    return gradientRun(f, x, targets ?? labels, {
      threat: this.threat, steps: this.steps, stepSize: this.stepSize, randomStart: this.randomStart,
      loss: this.loss, targeted: targets !== undefined, seed: this.seed,
    }, ctx);
  }

  /** @internal Transfer mode (the runner's 'strongest' search): every step of every restart, keeping per example the iterate of highest objective. */
  craft(f: LogitsFn, x: tf.Tensor, labels: tf.Tensor1D, targets?: tf.Tensor1D, ids?: readonly number[]): tf.Tensor {
    return searchWithRestarts(this, f, x, labels, { targets, ids, mode: 'strongest' }).adversarial;
  }

  describe(): Record<string, unknown> {
    return {
      attack: 'pgd', norm: this.threat.norm, eps: this.threat.eps, steps: this.steps, stepSize: this.stepSize,
      randomStart: this.randomStart, restarts: this.restarts, loss: this.loss, seed: this.seed,
    };
  }
}
