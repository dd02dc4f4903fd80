/**
 * The whole state of a training optimizer as named tensors, for checkpoints that resume bit for bit.
 *
 * `Optimizer.getWeights()` is not the whole state in tfjs 4.22: Adam also keeps β₁ᵗ and β₂ᵗ as
 * variables that it multiplies by β at every step, and its `setWeights` recomputes them as
 * pow(β, t+1) — mathematically equal, but a few ulps off the product accumulated in float32, which
 * moves every later update (measured: up to 5e-2 in the weights after a resumed run). We save the
 * accumulated values themselves and put them back after `setWeights`.
 */
import * as tf from '@tensorflow/tfjs';

export interface NamedTensor {
  name: string;
  tensor: tf.Tensor;
}

/** Names of the extra entries; '/' cannot start a tfjs variable name, so they never collide. */
const ACC_BETA1 = '/alp/adam/accBeta1';
const ACC_BETA2 = '/alp/adam/accBeta2';

interface AdamInternals {
  accBeta1?: tf.Variable;
  accBeta2?: tf.Variable;
}

function adamInternals(opt: tf.Optimizer): { accBeta1: tf.Variable; accBeta2: tf.Variable } | undefined {
  // Not `instanceof`: tfjs' Optimizer overrides Symbol.hasInstance, so every optimizer passes it.
  if (opt.getClassName() !== 'Adam') return undefined;
  const o = opt as unknown as AdamInternals;
  if (!(o.accBeta1 instanceof tf.Variable) || !(o.accBeta2 instanceof tf.Variable)) {
    // A tfjs release that renamed these would silently make resume inexact again: say so loudly.
    throw new Error('optimizer-state: this tfjs AdamOptimizer has no accBeta1/accBeta2 variables; exact resume needs updating for it');
  }
  return { accBeta1: o.accBeta1, accBeta2: o.accBeta2 };
}

/** Everything the optimizer needs to continue exactly: its own weights plus hidden accumulators. */
export async function getOptimizerState(opt: tf.Optimizer): Promise<NamedTensor[]> {
  const list = await opt.getWeights();
  const adam = adamInternals(opt);
  if (adam !== undefined) list.push({ name: ACC_BETA1, tensor: adam.accBeta1 }, { name: ACC_BETA2, tensor: adam.accBeta2 });
  return list;
}

/** Restores what getOptimizerState saved (older checkpoints without the extras load as before). */
export async function setOptimizerState(opt: tf.Optimizer, list: NamedTensor[]): Promise<void> {
  const extras = new Map(list.filter((t) => t.name.startsWith('/alp/')).map((t) => [t.name, t.tensor]));
  const own = list.filter((t) => !t.name.startsWith('/alp/'));
  if (own.length > 0) await opt.setWeights(own);
  const adam = adamInternals(opt);
  if (adam === undefined) return;
  const b1 = extras.get(ACC_BETA1), b2 = extras.get(ACC_BETA2);
  tf.tidy(() => {
    if (b1 !== undefined) adam.accBeta1.assign(b1.reshape([]));
    if (b2 !== undefined) adam.accBeta2.assign(b2.reshape([]));
  });
}
