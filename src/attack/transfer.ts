/**
 * A transfer (black-box) attack: adversarial examples are crafted with white-box access to a surrogate
 * model and then simply shown to the target model, which is queried once per example to score them.
 * A defence that only masks its own gradients does not stop these, so a transfer attack that beats the
 * white-box attacks on a defended model is a red flag for gradient masking.
 *
 * The default inner attack is PGD (CE, 40 steps, 1 restart) on the surrogate. Run through its own
 * evaluation mode PGD would stop each example at the first iterate that fools the surrogate, i.e. right on
 * the surrogate's decision boundary, where it transfers badly; so by default a PGD inner runs all its steps
 * and, over restarts, keeps the iterate of highest surrogate loss (`untilFooled: true` restores PGD's own
 * early stop). An inner attack without `craft` is used through its `run`.
 *
 * Success is judged on the target model only: misclassified (or, with targets, classified as the target).
 * As in the other attacks, a clean input the target already gets wrong counts as its own adversarial example.
 */
import * as tf from '@tensorflow/tfjs';
import { logitsOf, type LogitsFn } from '../model/classifier.js';
import { UserError } from '../util/errors.js';
import { rejectUnknownOptions } from './options.js';
import { assertValidInputs } from '../util/validate.js';
import type { Attack } from './attack.js';
import type { AttackResult } from './gradient-attack.js';
import { isSuccess } from './objectives.js';
import { Pgd } from './pgd.js';
import { boundsOf, type ThreatModel } from './threat-model.js';

export interface TransferOptions {
  /** The model the adversarial examples are crafted on. */
  surrogate: LogitsFn | tf.LayersModel;
  /** Required unless `inner` is given (then it must match the inner attack's). */
  threat?: ThreatModel;
  /** The white-box attack run on the surrogate. Default: PGD, CE, 40 steps, 1 restart. */
  inner?: Attack;
  /** Use the inner attack's own `run` (which stops at the first iterate that fools the surrogate) even when it has a `craft`. Default false. */
  untilFooled?: boolean;
  /** Seed of the default PGD inner. Default 0. */
  seed?: number;
  /** A label for reports. Default 'surrogate'. */
  surrogateName?: string;
}

export class Transfer implements Attack {
  readonly name: string;
  readonly threat: ThreatModel;
  readonly inner: Attack;
  readonly untilFooled: boolean;
  readonly surrogateName: string;
  private readonly surrogate: LogitsFn;

  constructor(o: TransferOptions) {
    rejectUnknownOptions('transfer', o, ['surrogate', 'threat', 'inner', 'untilFooled', 'seed', 'surrogateName']);
    const threat = o.threat ?? o.inner?.threat;
    if (threat === undefined) throw new UserError('transfer attack: give a threat model or an inner attack');
    if (o.inner !== undefined && (o.inner.threat.norm !== threat.norm || o.inner.threat.eps !== threat.eps)) {
      throw new UserError(`transfer attack: the inner attack's threat model (${o.inner.threat.norm}, ε=${o.inner.threat.eps}) differs from ${threat.norm}, ε=${threat.eps}`);
    }
    this.threat = threat;
    this.inner = o.inner ?? new Pgd({ threat, loss: 'ce', steps: 40, restarts: 1, seed: o.seed ?? 0 });
    this.untilFooled = o.untilFooled ?? false;
    this.surrogateName = o.surrogateName ?? 'surrogate';
    this.surrogate = logitsOf(o.surrogate);
    this.name = `transfer-${this.inner.name}`;
  }

  /** @internal Unverified: run it with `runAttack`. */
  run(f: LogitsFn, x: tf.Tensor, labels: tf.Tensor1D, targets?: tf.Tensor1D, ids?: readonly number[]): AttackResult {
    assertValidInputs(x.dataSync() as Float32Array, 'attack input', boundsOf(this.threat));
    const crafted = this.craftOnSurrogate(x, labels, targets, ids);
    const targeted = targets !== undefined;
    const goal = Int32Array.from((targets ?? labels).dataSync());
    const n = x.shape[0] as number;
    const [advPred, cleanPred] = tf.tidy(() => [f(crafted).argMax(-1).dataSync() as Int32Array, f(x).argMax(-1).dataSync() as Int32Array]) as [Int32Array, Int32Array];
    const advOk = isSuccess(advPred, goal, targeted);
    const cleanOk = isSuccess(cleanPred, goal, targeted);
    const success = new Uint8Array(n);
    // Keep the crafted example unless only the clean input meets the goal on the target.
    const useClean = new Float32Array(n);
    for (let i = 0; i < n; i++) {
      success[i] = Number(advOk[i] === 1 || cleanOk[i] === 1);
      if (!advOk[i] && cleanOk[i]) useClean[i] = 1;
    }
    const adversarial = tf.tidy(() => {
      const m = tf.tensor(useClean, [n, ...x.shape.slice(1).map(() => 1)]);
      return tf.add(tf.mul(crafted, tf.sub(1, m)), tf.mul(x, m));
    });
    crafted.dispose();
    return { adversarial, success };
  }

  /** Adversarial examples for the surrogate: the inner attack's transfer mode when it has one. */
  private craftOnSurrogate(x: tf.Tensor, labels: tf.Tensor1D, targets?: tf.Tensor1D, ids?: readonly number[]): tf.Tensor {
    const inner = this.inner;
    if (this.untilFooled || inner.craft === undefined) return inner.run(this.surrogate, x, labels, targets, ids).adversarial;
    return inner.craft(this.surrogate, x, labels, targets, ids);
  }

  describe(): Record<string, unknown> {
    return {
      attack: 'transfer', norm: this.threat.norm, eps: this.threat.eps, surrogate: this.surrogateName,
      inner: this.inner.describe(), untilFooled: this.untilFooled,
    };
  }
}
