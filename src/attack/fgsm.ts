/**
 * The fast gradient sign method (Goodfellow et al. 2015): one step of length ε from the clean input
 * (for L2, one normalised-gradient step). Weak on purpose: it is the baseline that every claimed
 * robustness must clear by far.
 */
import type * as tf from '@tensorflow/tfjs';
import type { LogitsFn } from '../model/classifier.js';
import type { Attack } from './attack.js';
import { gradientAttack, type AttackResult } from './gradient-attack.js';
import type { ObjectiveName } from './objectives.js';
import { rejectUnknownOptions } from './options.js';
import type { ThreatModel } from './threat-model.js';

export interface FgsmOptions {
  threat: ThreatModel;
  /** Default 'ce'. */
  loss?: ObjectiveName;
}

export class Fgsm implements Attack {
  readonly name: string;
  readonly threat: ThreatModel;
  readonly loss: ObjectiveName;

  constructor(o: FgsmOptions) {
    rejectUnknownOptions('FGSM', o, ['threat', 'loss']);
    this.threat = o.threat;
    this.loss = o.loss ?? 'ce';
    this.name = `fgsm-${this.threat.norm}-${this.loss}`;
  }

  run(f: LogitsFn, x: tf.Tensor, labels: tf.Tensor1D, targets?: tf.Tensor1D): AttackResult {
    return gradientAttack(f, x, targets ?? labels, {
      threat: this.threat, steps: 1, stepSize: this.threat.eps, randomStart: false, restarts: 1,
      loss: this.loss, targeted: targets !== undefined, seed: 0,
    });
  }

  describe(): Record<string, unknown> {
    return { attack: 'fgsm', norm: this.threat.norm, eps: this.threat.eps, loss: this.loss };
  }
}
