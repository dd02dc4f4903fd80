/**
 * The one gradient loop behind FGSM, PGD (and the adaptive attacks built on it): iterate
 * x ← Π_{ε-ball ∩ box}(x + step(∇ objective)), with random starts and restarts supplied by the threat
 * model's norm. In evaluation mode (`gradientRun`) it hands every iterate to the runner, which keeps
 * per example the first iterate that meets the success criterion (checked at every step, not only the
 * last) and runs further restarts only on examples not yet done. In training mode it just returns the
 * last iterate, with no read-backs.
 */
import * as tf from '@tensorflow/tfjs';
import type { LogitsFn } from '../model/classifier.js';
import type { RunContext, SingleRun } from './attack.js';
import { nativeGradientSource } from './native-gradient.js';
import { objective, type ObjectiveName } from './objectives.js';
import { boundsOf, normOf, projectToThreat, randomStartRows, type ThreatModel } from './threat-model.js';

export interface GradientAttackConfig {
  threat: ThreatModel;
  steps: number;
  /** Step length in the threat model's norm. */
  stepSize: number;
  randomStart: boolean;
  /** Independent runs from fresh random starts; an example counts as robust only if all fail. */
  restarts: number;
  /**
   * A named objective, or any per-example function to maximise of the logits and the input they came
   * from (e.g. TRADES' KL on the logits; a detector-aware objective that also scores the input).
   */
  loss: ObjectiveName | LossHook;
  targeted: boolean;
  seed: number;
}

/** A per-example objective of the logits and the (adversarial) input they were computed from. */
export type LossHook = (logits: tf.Tensor2D, x: tf.Tensor) => tf.Tensor1D;

function objectiveFn(cfg: Pick<GradientAttackConfig, 'loss' | 'targeted'>, cls: tf.Tensor1D): LossHook {
  const loss = cfg.loss;
  if (typeof loss === 'function') return loss;
  return (z) => objective(loss, z, cls, cfg.targeted);
}

export interface AttackResult {
  /** Adversarial inputs, same shape as x, inside the ε-ball around x and the threat model's box. */
  adversarial: tf.Tensor;
  /** 1 where the attack achieved its goal (misclassified, or classified as the target). */
  success: Uint8Array;
}

/** One pass of the loop from one start; returns the last iterate (training mode). */
export function gradientAscent(
  f: LogitsFn,
  x: tf.Tensor,
  cls: tf.Tensor1D,
  cfg: Omit<GradientAttackConfig, 'restarts'>,
  onStep?: (xAdv: tf.Tensor, logits: tf.Tensor2D, step: number) => boolean | void,
  init?: tf.Tensor,
  /** Runs before each gradient, e.g. to fix a surrogate's inner choices or draw EOT noise at the iterate. */
  beforeStep?: (xAdv: tf.Tensor, step: number) => void,
): tf.Tensor {
  const norm = normOf(cfg.threat.norm);
  const eps = cfg.threat.eps;
  const box = boundsOf(cfg.threat);
  const obj = objectiveFn(cfg, cls);
  let xAdv: tf.Tensor;
  if (init !== undefined) xAdv = projectToThreat(norm, x, init, eps, box);
  else if (cfg.randomStart) xAdv = tf.tidy(() => projectToThreat(norm, x, tf.add(x, norm.randomStart(x.shape, eps, cfg.seed)), eps, box));
  else xAdv = tf.clone(x);
  // The gradient's source: the native network when f carries one and the objective is a named one
  // (./native-gradient.ts), else TF.js' tf.grad through f. The loop is the same for both.
  const native = beforeStep === undefined ? nativeGradientSource(f, x, cls, cfg.loss, cfg.targeted) : null;
  const lossOf = (xa: tf.Tensor, keepLogits: { t?: tf.Tensor2D }): tf.Scalar => {
    const z = f(xa);
    if (onStep !== undefined) keepLogits.t = tf.keep(z);
    return tf.sum(obj(z, xa)) as tf.Scalar;
  };
  for (let s = 0; s < cfg.steps; s++) {
    beforeStep?.(xAdv, s);
    const holder: { t?: tf.Tensor2D } = {};
    const g = native !== null ? native(xAdv, onStep !== undefined ? holder : null) : tf.grad((xa: tf.Tensor) => lossOf(xa, holder))(xAdv);
    if (onStep !== undefined && holder.t !== undefined) {
      const stop = onStep(xAdv, holder.t, s);
      holder.t.dispose();
      if (stop === true) {
        g.dispose();
        return xAdv;
      }
    }
    const next = tf.tidy(() => projectToThreat(norm, x, tf.add(xAdv, norm.step(g, cfg.stepSize)), eps, box));
    g.dispose();
    xAdv.dispose();
    xAdv = next;
  }
  return xAdv;
}

/**
 * One evaluation-mode run of the loop on the examples given: every iterate is handed to the runner
 * (which keeps the first that meets the criterion for each example, and stops the run once all are
 * done); returns the last iterate with its objective, the point the runner keeps for examples never done.
 */
export function gradientRun(f: LogitsFn, x: tf.Tensor, cls: tf.Tensor1D, cfg: Omit<GradientAttackConfig, 'restarts'>, ctx: RunContext): SingleRun {
  const record = (xa: tf.Tensor, z: tf.Tensor2D): boolean => {
    const pred = tf.tidy(() => z.argMax(-1).dataSync() as Int32Array);
    return ctx.record(() => xa.dataSync() as Float32Array, pred).every((v) => v === 1);
  };
  // The random start is drawn per example from its own seed, so it does not depend on the batch.
  const init = cfg.randomStart ? tf.tidy(() => tf.add(x, randomStartRows(normOf(cfg.threat.norm), x.shape, cfg.threat.eps, ctx.seeds))) : undefined;
  const last = gradientAscent(f, x, cls, cfg, ctx.stopEarly ? record : undefined, init);
  init?.dispose();
  const score = tf.tidy(() => {
    const z = f(last);
    if (ctx.stopEarly) record(last, z);
    return Float32Array.from(objectiveFn(cfg, cls)(z, last).dataSync() as Float32Array);
  });
  return { adversarial: last, score };
}
