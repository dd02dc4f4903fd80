/**
 * The one gradient loop behind FGSM, PGD (and the adaptive attacks built on it): iterate
 * x ← Π_{ε-ball ∩ box}(x + step(∇ objective)), with random starts and restarts supplied by the threat
 * model's norm. In evaluation mode it keeps, per example, the first iterate that fools the model
 * (checked at every step, not only the last) and runs further restarts only on examples not yet
 * fooled. In training mode it just returns the last iterate, with no read-backs.
 */
import * as tf from '@tensorflow/tfjs';
import type { LogitsFn } from '../model/classifier.js';
import { Rng } from '../util/rng.js';
import { assertValidInputs } from '../util/validate.js';
import { objective, isSuccess, type ObjectiveName } from './objectives.js';
import { boundsOf, normOf, projectToThreat, type ThreatModel } from './threat-model.js';

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
): tf.Tensor {
  const norm = normOf(cfg.threat.norm);
  const eps = cfg.threat.eps;
  const box = boundsOf(cfg.threat);
  const obj = objectiveFn(cfg, cls);
  let xAdv: tf.Tensor;
  if (init !== undefined) xAdv = projectToThreat(norm, x, init, eps, box);
  else if (cfg.randomStart) xAdv = tf.tidy(() => projectToThreat(norm, x, tf.add(x, norm.randomStart(x.shape, eps, cfg.seed)), eps, box));
  else xAdv = tf.clone(x);
  const lossOf = (xa: tf.Tensor, keepLogits: { t?: tf.Tensor2D }): tf.Scalar => {
    const z = f(xa);
    if (onStep !== undefined) keepLogits.t = tf.keep(z);
    return tf.sum(obj(z, xa)) as tf.Scalar;
  };
  for (let s = 0; s < cfg.steps; s++) {
    const holder: { t?: tf.Tensor2D } = {};
    const g = tf.grad((xa: tf.Tensor) => lossOf(xa, holder))(xAdv);
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

function rowsOf(t: tf.Tensor): number {
  return t.shape[0] as number;
}

/**
 * Evaluation-mode attack: restarts, per-step success tracking, worst case kept per example.
 * `cls` holds true labels (untargeted) or targets (targeted).
 */
export function gradientAttack(f: LogitsFn, x: tf.Tensor, cls: tf.Tensor1D, cfg: GradientAttackConfig): AttackResult {
  const n = rowsOf(x);
  const rowSize = x.size / Math.max(n, 1);
  const clsArr = cls.dataSync() as Int32Array;
  const best = new Float32Array(x.dataSync() as Float32Array);
  assertValidInputs(best, 'attack input', boundsOf(cfg.threat));
  const bestLoss = new Float32Array(n).fill(-Infinity);
  const success = new Uint8Array(n);
  const rng = new Rng(cfg.seed);

  // The clean input may already be misclassified: then it is its own adversarial example.
  tf.tidy(() => {
    const pred = f(x).argMax(-1).dataSync() as Int32Array;
    const ok = isSuccess(pred, clsArr, cfg.targeted);
    for (let i = 0; i < n; i++) if (ok[i]) success[i] = 1;
  });

  for (let r = 0; r < Math.max(1, cfg.restarts); r++) {
    const active: number[] = [];
    for (let i = 0; i < n; i++) if (!success[i]) active.push(i);
    if (active.length === 0) break;
    const idx = tf.tensor1d(active, 'int32');
    const xs = tf.gather(x, idx);
    const cs = tf.gather(cls, idx) as tf.Tensor1D;
    const csArr = cs.dataSync() as Int32Array;
    const local = new Uint8Array(active.length);
    const record = (xa: tf.Tensor, logits: tf.Tensor2D): boolean => {
      const pred = logits.argMax(-1);
      const ok = isSuccess(pred.dataSync() as Int32Array, csArr, cfg.targeted);
      pred.dispose();
      let newly = false;
      for (let j = 0; j < ok.length; j++) if (ok[j] && !local[j]) newly = true;
      if (newly) {
        const data = xa.dataSync() as Float32Array;
        for (let j = 0; j < ok.length; j++) {
          if (ok[j] && !local[j]) {
            local[j] = 1;
            const i = active[j] as number;
            best.set(data.subarray(j * rowSize, (j + 1) * rowSize), i * rowSize);
          }
        }
      }
      return local.every((v) => v === 1);
    };
    const last = gradientAscent(f, xs, cs, { ...cfg, seed: rng.seed() }, (xa, z) => record(xa, z));
    // The last iterate has not been checked yet; for examples still not fooled keep the iterate with
    // the highest objective across restarts, so that downstream losses see the strongest point.
    tf.tidy(() => {
      const z = f(last);
      record(last, z);
      const obj = objectiveFn(cfg, cs)(z, last).dataSync() as Float32Array;
      const data = last.dataSync() as Float32Array;
      for (let j = 0; j < active.length; j++) {
        const i = active[j] as number;
        if (local[j]) {
          success[i] = 1;
        } else if ((obj[j] as number) > (bestLoss[i] as number)) {
          bestLoss[i] = obj[j] as number;
          best.set(data.subarray(j * rowSize, (j + 1) * rowSize), i * rowSize);
        }
      }
    });
    tf.dispose([last, idx, xs, cs]);
  }
  return { adversarial: tf.tensor(best, x.shape), success };
}
