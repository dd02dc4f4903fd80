import * as tf from '@tensorflow/tfjs';

/**
 * Logit squeezing (Kannan et al. 2018): a penalty on the size of the logits, here the mean squared
 * logit (1 / (B·K)) Σ_i ‖z(x_i)‖², the same normalisation as the pairing term so that λ values are
 * comparable. Mosbach et al. 2018 showed this mostly masks gradients; alp keeps it for comparison.
 */
export function logitSqueezing(logits: tf.Tensor2D): tf.Scalar {
  return tf.tidy(() => tf.mean(tf.square(logits)) as tf.Scalar);
}
