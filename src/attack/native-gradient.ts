/**
 * The native network (backend/native-network.ts) as the gradient source of the one attack loop
 * (`gradientAscent` in ./gradient-attack.ts): ∇ₓ Σ objective(f(x)) computed outside TF.js' engine,
 * for the named objectives, when the LogitsFn carries a native network (model/classifier.ts attaches
 * one to `logitsOf(model)` in inference mode when the model runs natively). The loop itself, its
 * steps, projections and bookkeeping, stays the same TF.js code for every gradient source.
 *
 * CE's logit gradient is TF.js' to the bit (crossEntropyGradient); the CW margin's is ±1 (ties, as
 * TF.js' max gradient, all receive it); the network's backward pass is within float32 rounding of
 * TF.js' (docs/native-network.md).
 */
import * as tf from '@tensorflow/tfjs';
import { crossEntropyGradient, type NativeNetwork } from '../backend/native-network.js';
import { nativeNetworkBehind, type LogitsFn } from '../model/classifier.js';
import type { ObjectiveName } from './objectives.js';

/** ∇ₓ Σ objective at xa; with `keep`, also the logits at xa (a fresh tensor the caller disposes). */
export type GradientSource = (xa: tf.Tensor, keep: { t?: tf.Tensor2D } | null) => tf.Tensor;

/** ∂ Σ margin / ∂z for the CW margin max_{j≠c} z_j − z_c (negated when targeted), as TF.js differentiates `margin`. */
function marginGradient(z: Float32Array, cls: Int32Array, n: number, K: number, out: Float32Array): void {
  for (let r = 0; r < n; r++) {
    const c = cls[r] as number;
    let m = -Infinity;
    // The true class enters the max as z_c − 1e9 (objectives.ts); in float32 that is never the max when K > 1.
    const masked = (j: number): number => (j === c ? Math.fround((z[r * K + j] as number) - 1e9) : (z[r * K + j] as number));
    for (let j = 0; j < K; j++) m = Math.max(m, masked(j));
    for (let j = 0; j < K; j++) out[r * K + j] = (masked(j) === m ? 1 : 0) - (j === c ? 1 : 0);
  }
}

/**
 * The native gradient source for the loop's objective on f, or null (then tf.grad runs): f carries no
 * native network, the objective is a loss hook, or the input is not [n, …the network's input shape].
 * Reads the network's weights now (the model may have been updated since the last attack).
 */
export function nativeGradientSource(f: LogitsFn, x: tf.Tensor, cls: tf.Tensor1D, loss: ObjectiveName | ((...a: never[]) => unknown), targeted: boolean): GradientSource | null {
  const net = nativeNetworkBehind(f);
  if (net === null || typeof loss === 'function' || x.dtype !== 'float32') return null;
  const n = x.shape[0] as number;
  if (n === 0 || x.size !== n * net.inputSize || cls.size !== n) return null;
  net.load();
  const labels = Int32Array.from(cls.dataSync() as Int32Array | Float32Array);
  const K = net.classes;
  return (xa, keep) => {
    // A copy: a view of the backend's memory could move while the network runs.
    const z = net.logits(Float32Array.from(xa.dataSync() as Float32Array), n);
    if (keep !== null) keep.t = tf.tensor2d(Float32Array.from(z.subarray(0, n * K)), [n, K]);
    const dz = new Float32Array(n * K);
    if (loss === 'ce') crossEntropyGradient(z, labels, n, K, dz);
    else marginGradient(z, labels, n, K, dz);
    if (targeted) for (let i = 0; i < dz.length; i++) dz[i] = -(dz[i] as number);
    // A copy: the network's buffers are reused by its next pass, whatever its batch size.
    return tf.tensor(Float32Array.from(net.backward(dz, n)), xa.shape);
  };
}

export type { NativeNetwork };
