import type * as tf from '@tensorflow/tfjs';
import type { LogitsFn } from '../model/classifier.js';
import type { AttackResult } from './gradient-attack.js';
import type { ThreatModel } from './threat-model.js';

/** Every attack: a name for reports, its threat model, and a batched run. */
export interface Attack<R extends AttackResult = AttackResult> {
  readonly name: string;
  readonly threat: ThreatModel;
  /**
   * Attacks a batch. `labels` are the true classes; `targets`, when given, makes the attack targeted.
   * The result's adversarial tensor is owned by the caller.
   */
  run(f: LogitsFn, x: tf.Tensor, labels: tf.Tensor1D, targets?: tf.Tensor1D): R;
  /**
   * Optional transfer mode: adversarial points for `f` that run every step and keep the strongest
   * iterate rather than stopping at the decision boundary (which transfers badly). Owned by the caller.
   */
  craft?(f: LogitsFn, x: tf.Tensor, labels: tf.Tensor1D, targets?: tf.Tensor1D): tf.Tensor;
  /** The settings that reproduce this attack, for reports. */
  describe(): Record<string, unknown>;
}
