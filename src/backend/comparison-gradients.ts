/**
 * Zero gradients for comparison ops. TF.js 4.22 registers none for Greater & co., so any layer that
 * multiplies by a mask computed from its input — ThresholdedReLU: x·(x > θ) — throws "gradient
 * function not found for Greater" when differentiated (and Masking, for Any), although the mask's
 * derivative is zero almost everywhere (TensorFlow itself treats comparisons as non-differentiable). Registered only where TF.js
 * has no gradient of its own.
 */
import * as tf from '@tensorflow/tfjs';

const COMPARISONS = ['Greater', 'GreaterEqual', 'Less', 'LessEqual', 'Equal', 'NotEqual'] as const;
/** Boolean reductions: Masking multiplies by any(x ≠ mask) over the features. */
const REDUCTIONS = ['Any', 'All'] as const;

export function installComparisonGradients(): void {
  for (const name of REDUCTIONS) {
    if (tf.getGradient(name) !== undefined) continue;
    tf.registerGradient({
      kernelName: name,
      inputsToSave: ['x'],
      gradFunc: (_dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) => ({ x: () => tf.zeros((saved[0] as tf.Tensor).shape) }),
    });
  }
  for (const name of COMPARISONS) {
    if (tf.getGradient(name) !== undefined) continue;
    tf.registerGradient({
      kernelName: name,
      inputsToSave: ['a', 'b'],
      gradFunc: (_dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) => {
        const [a, b] = saved as [tf.Tensor, tf.Tensor];
        return { a: () => tf.zeros(a.shape), b: () => tf.zeros(b.shape) };
      },
    });
  }
}
