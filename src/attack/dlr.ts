/**
 * The Difference of Logits Ratio losses of Croce & Hein 2020 (APGD-DLR / APGD-T). Unlike CE they are
 * invariant to shifting and rescaling the logits, so a defence that inflates or squashes logits (as
 * logit pairing and logit squeezing do) cannot starve them of gradient.
 *
 * Both are values to maximise, per example:
 *   untargeted DLR(z, y)     = −(z_y − max_{j≠y} z_j) / (z_π1 − z_π3 + 1e-12)
 *   targeted   DLR(z, y, t)  = −(z_y − z_t) / (z_π1 − (z_π3 + z_π4)/2 + 1e-12)
 * where π sorts the logits in decreasing order.
 *
 * tfjs has no gradient for TopK, so the sort order is read back and turned into constant one-hot masks:
 * the gradient then flows through the selected logits exactly as it does through a sort in PyTorch.
 */
import * as tf from '@tensorflow/tfjs';
import { UserError } from '../util/errors.js';

const DLR_TINY = 1e-12;

/** One-hot masks [B,K] for the sort positions `ranks` (0 = largest), computed off the gradient tape. */
function rankMasks(logits: tf.Tensor2D, ranks: number[]): tf.Tensor2D[] {
  const [b, k] = logits.shape;
  const z = logits.dataSync() as Float32Array;
  const masks = ranks.map(() => new Float32Array(b * k));
  const order = new Array<number>(k);
  for (let i = 0; i < b; i++) {
    for (let j = 0; j < k; j++) order[j] = j;
    const row = z.subarray(i * k, (i + 1) * k);
    // Stable: equal logits keep class order, so ties resolve deterministically.
    order.sort((p, q) => (row[q] as number) - (row[p] as number) || p - q);
    ranks.forEach((r, m) => {
      (masks[m] as Float32Array)[i * k + (order[r] as number)] = 1;
    });
  }
  return masks.map((m) => tf.tensor2d(m, [b, k]));
}

function pick(logits: tf.Tensor2D, mask: tf.Tensor): tf.Tensor1D {
  return tf.sum(tf.mul(logits, mask), -1) as tf.Tensor1D;
}

function need(k: number, min: number, what: string): void {
  if (k < min) throw new UserError(`${what} needs at least ${min} classes, the model has ${k}`);
}

/** Untargeted DLR loss per example (to maximise); needs ≥ 3 classes. */
export function dlr(logits: tf.Tensor2D, labels: tf.Tensor1D): tf.Tensor1D {
  const k = logits.shape[1];
  need(k, 3, 'the DLR loss');
  return tf.tidy(() => {
    const [m1, m3] = rankMasks(logits, [0, 2]) as [tf.Tensor2D, tf.Tensor2D];
    const yMask = tf.oneHot(labels.toInt(), k);
    const zy = pick(logits, yMask);
    const other = tf.max(tf.sub(logits, tf.mul(yMask, 1e9)), -1);
    const denom = tf.add(tf.sub(pick(logits, m1), pick(logits, m3)), DLR_TINY);
    return tf.neg(tf.div(tf.sub(zy, other), denom)) as tf.Tensor1D;
  });
}

/** Targeted DLR loss per example (to maximise: the target t overtakes the true class y); needs ≥ 4 classes. */
export function dlrTargeted(logits: tf.Tensor2D, labels: tf.Tensor1D, targets: tf.Tensor1D): tf.Tensor1D {
  const k = logits.shape[1];
  need(k, 4, 'the targeted DLR loss');
  return tf.tidy(() => {
    const [m1, m3, m4] = rankMasks(logits, [0, 2, 3]) as [tf.Tensor2D, tf.Tensor2D, tf.Tensor2D];
    const zy = pick(logits, tf.oneHot(labels.toInt(), k));
    const zt = pick(logits, tf.oneHot(targets.toInt(), k));
    const denom = tf.add(tf.sub(pick(logits, m1), tf.mul(tf.add(pick(logits, m3), pick(logits, m4)), 0.5)), DLR_TINY);
    return tf.neg(tf.div(tf.sub(zy, zt), denom)) as tf.Tensor1D;
  });
}
