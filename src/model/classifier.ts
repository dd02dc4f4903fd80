/**
 * What an attack needs from a model: a function from a batch of inputs to logits. A tf.LayersModel is
 * wrapped in inference mode (no dropout, batch-norm statistics frozen), as attacks must see the model a
 * user deploys.
 */
import * as tf from '@tensorflow/tfjs';
import { nativeNetworkOf, type NativeNetwork } from '../backend/native-network.js';

export type LogitsFn = (x: tf.Tensor) => tf.Tensor2D;

const NETWORK = Symbol('alp.nativeNetwork');
type WithNetwork = LogitsFn & { [NETWORK]?: NativeNetwork };

/**
 * The model's logits. In inference mode, when the model runs on the native network
 * (backend/native-network.ts), the function carries it, and the gradient attacks take their input
 * gradients from it (attack/native-gradient.ts); a function wrapping this one carries nothing, and its
 * gradients are TF.js'.
 */
export function logitsOf(model: tf.LayersModel | LogitsFn, training = false): LogitsFn {
  if (typeof model === 'function') return model;
  const f = (x: tf.Tensor): tf.Tensor2D => model.apply(x, { training }) as tf.Tensor2D;
  if (training) return f;
  const net = nativeNetworkOf(model);
  return net === null ? f : withNativeNetwork(f, net);
}

/** f, carrying a native network that computes the same function (attacks take gradients from it). */
export function withNativeNetwork(f: LogitsFn, net: NativeNetwork): LogitsFn {
  const g: WithNetwork = (x) => f(x);
  g[NETWORK] = net;
  return g;
}

/** The native network f carries, or null. */
export function nativeNetworkBehind(f: LogitsFn): NativeNetwork | null {
  return (f as WithNetwork)[NETWORK] ?? null;
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
