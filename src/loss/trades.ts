import * as tf from '@tensorflow/tfjs';

/**
 * Per-example KL(p(x) ‖ p(x')) between the softmax of clean logits and adversarial logits: the
 * robustness term of TRADES (Zhang et al. 2019), which sums it over classes and averages over the batch.
 */
export function klPerExample(cleanLogits: tf.Tensor2D, advLogits: tf.Tensor2D): tf.Tensor1D {
  return tf.tidy(() => {
    const lp = tf.logSoftmax(cleanLogits);
    const lq = tf.logSoftmax(advLogits);
    return tf.sum(tf.mul(tf.exp(lp), tf.sub(lp, lq)), -1) as tf.Tensor1D;
  });
}

/** Mean over the batch of klPerExample: TRADES' regulariser before the β factor. */
export function tradesKl(cleanLogits: tf.Tensor2D, advLogits: tf.Tensor2D): tf.Scalar {
  return tf.tidy(() => tf.mean(klPerExample(cleanLogits, advLogits)) as tf.Scalar);
}
