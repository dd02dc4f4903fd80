/**
 * The fast gradient sign method (Goodfellow et al. 2015): one step of length ε from the clean input
 * (for L2, one normalised-gradient step). Weak on purpose: it is the baseline that every claimed
 * robustness must clear by far.
 */
import type * as tf from '@tensorflow/tfjs';
import type { LogitsFn } from '../model/classifier.js';
import type { Attack, RunContext, SearchAttack, SingleRun } from './attack.js';
import { gradientRun, type AttackResult } from './gradient-attack.js';
import { searchWithRestarts } from './runner.js';
import type { ObjectiveName } from './objectives.js';
import { rejectUnknownOptions } from './options.js';
import type { ThreatModel } from './threat-model.js';

export interface FgsmOptions {
  threat: ThreatModel;
  /** Default 'ce'. */
  loss?: ObjectiveName;
}

export class Fgsm implements Attack, SearchAttack {
  readonly name: string;
  readonly threat: ThreatModel;
  readonly loss: ObjectiveName;
  /** FGSM draws nothing at random; the runner still asks for a seed. */
  readonly seed = 0;

  constructor(o: FgsmOptions) {
    rejectUnknownOptions('FGSM', o, ['threat', 'loss']);
    this.threat = o.threat;
    this.loss = o.loss ?? 'ce';
    this.name = `fgsm-${this.threat.norm}-${this.loss}`;
  }

  /** @internal Unverified: run it with `runAttack`. */
  run(f: LogitsFn, x: tf.Tensor, labels: tf.Tensor1D, targets?: tf.Tensor1D, ids?: readonly number[]): AttackResult {
    return searchWithRestarts(this, f, x, labels, { targets, ids });
  }

  runs(): number {
    return 1;
  }

  single(f: LogitsFn, x: tf.Tensor, labels: tf.Tensor1D, targets: tf.Tensor1D | undefined, ctx: RunContext): SingleRun {
    return gradientRun(f, x, targets ?? labels, {
      threat: this.threat, steps: 1, stepSize: this.threat.eps, randomStart: false, loss: this.loss, targeted: targets !== undefined, seed: 0,
    }, ctx);
  }

  describe(): Record<string, unknown> {
    return { attack: 'fgsm', norm: this.threat.norm, eps: this.threat.eps, loss: this.loss };
  }
}
