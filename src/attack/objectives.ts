/**
 * What an attack maximises, per example. Untargeted objectives grow as the true class loses;
 * targeted ones grow as the target class wins. Both CE and the CW margin are here because a defence
 * that flattens the softmax (e.g. logit squeezing) can starve CE of gradient while the margin keeps it.
 */
import * as tf from '@tensorflow/tfjs';
import { crossEntropyPerExample } from '../loss/cross-entropy.js';

export type ObjectiveName = 'ce' | 'cw';
export const OBJECTIVES: readonly ObjectiveName[] = ['ce', 'cw'];

/** max_{j≠c} z_j − z_c per example. */
export function margin(logits: tf.Tensor2D, cls: tf.Tensor1D): tf.Tensor1D {
  return tf.tidy(() => {
    const k = logits.shape[1];
    const mask = tf.oneHot(cls.toInt(), k);
    const zc = tf.sum(tf.mul(logits, mask), -1);
    const others = tf.max(tf.sub(logits, tf.mul(mask, 1e9)), -1);
    return tf.sub(others, zc) as tf.Tensor1D;
  });
}

/**
 * The per-example objective to maximise. `cls` is the true label (untargeted) or the target
 * (targeted).
 */
export function objective(name: ObjectiveName, logits: tf.Tensor2D, cls: tf.Tensor1D, targeted: boolean): tf.Tensor1D {
  return tf.tidy(() => {
    const v = name === 'ce' ? crossEntropyPerExample(logits, cls) : margin(logits, cls);
    return (targeted ? tf.neg(v) : v) as tf.Tensor1D;
  });
}

/** Whether each example's prediction is what the attacker wants. */
export function isSuccess(pred: Int32Array, cls: Int32Array, targeted: boolean): Uint8Array {
  const out = new Uint8Array(pred.length);
  for (let i = 0; i < pred.length; i++) out[i] = targeted ? Number(pred[i] === cls[i]) : Number(pred[i] !== cls[i]);
  return out;
}
