import * as tf from '@tensorflow/tfjs';

/**
 * The logit-pairing penalty of Kannan, Kurakin & Goodfellow 2018 (arXiv 1803.06373), normalised as in
 * their official code (tensorflow/models research/adversarial_logit_pairing/train.py, which calls
 * tf.losses.mean_squared_error on the two halves of the logits): the squared difference averaged over
 * every element, i.e. (1 / (B·K)) Σ_i ‖z(x_i) − z(x'_i)‖². Multiply by λ outside.
 */
export function logitPairing(a: tf.Tensor2D, b: tf.Tensor2D): tf.Scalar {
  return tf.tidy(() => tf.mean(tf.squaredDifference(a, b)) as tf.Scalar);
}

/**
 * Clean logit pairing (Kannan et al. 2018, §"clean logit pairing"): pairs random clean examples, here
 * the first half of a shuffled batch with the second half. Returns the same normalisation as
 * logitPairing. An odd last example is left unpaired.
 */
export function cleanLogitPairing(logits: tf.Tensor2D): tf.Scalar {
  return tf.tidy(() => {
    const half = Math.floor((logits.shape[0] as number) / 2);
    if (half === 0) return tf.scalar(0);
    const a = logits.slice([0, 0], [half, -1]);
    const b = logits.slice([half, 0], [half, -1]);
    return logitPairing(a, b);
  });
}
