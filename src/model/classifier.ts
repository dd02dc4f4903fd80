/**
 * What an attack needs from a model: a function from a batch of inputs to logits. A tf.LayersModel is
 * wrapped in inference mode (no dropout, batch-norm statistics frozen), as attacks must see the model a
 * user deploys.
 */
import * as tf from '@tensorflow/tfjs';

export type LogitsFn = (x: tf.Tensor) => tf.Tensor2D;

export function logitsOf(model: tf.LayersModel | LogitsFn, training = false): LogitsFn {
  if (typeof model === 'function') return model;
  return (x: tf.Tensor) => model.apply(x, { training }) as tf.Tensor2D;
}

/** Predicted classes for a batch, as a plain array. */
export function predict(model: tf.LayersModel | LogitsFn, x: tf.Tensor, batchSize = 256): Int32Array {
  const f = logitsOf(model);
  const n = x.shape[0] as number;
  const out = new Int32Array(n);
  for (let i = 0; i < n; i += batchSize) {
    const size = Math.min(batchSize, n - i);
    const p = tf.tidy(() => f(x.slice(i, size)).argMax(-1));
    out.set(p.dataSync() as Int32Array, i);
    p.dispose();
  }
  return out;
}
