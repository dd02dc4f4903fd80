/**
 * The weight step of training on the native network (backend/native-network.ts): the training-mode
 * forward pass (batch norm on the batch's statistics, moving averages updated as tfjs-layers does) and
 * the backward pass to every weight run on alp's kernels; only the loss of the logits and its gradient
 * with respect to them ([n, classes] values) are TF.js', through the very `methodLoss` the TF.js path
 * minimises, so every method (CE, ALP's CE over [x; x'] plus pairing, TRADES, PGD-AT …) is the same
 * objective on either path.
 */
import * as tf from '@tensorflow/tfjs';
import { nativeNetworkPlan, networkPathOf, type NativeNetwork, type NetworkPath } from '../backend/native-network.js';
import type { LogitsFn } from '../model/classifier.js';
import type { TrainConfig } from './config.js';
import { methodLoss, type StepInputs } from './methods.js';

export interface WeightStep {
  /** The batch (or share) loss and its named terms. */
  loss: number;
  parts: Record<string, number>;
  /** The loss's gradient per trainable weight, in `model.trainableWeights` order. */
  grads: Float32Array[];
}

/** The network the weight step of `model` runs on, or null (TF.js): no network, or one that cannot train. */
export function weightStepNetwork(net: NativeNetwork | null): NativeNetwork | null {
  if (process.env['ALP_NO_NATIVE_WEIGHT_STEP'] === '1') return null;
  return net !== null && net.trainingRefusal === null ? net : null;
}

/** The path of a model's training: its attack gradients' and its weight step's, each with why when it is TF.js. */
export function trainingPathOf(model: tf.LayersModel): NetworkPath {
  const plan = nativeNetworkPlan(model);
  const reason = process.env['ALP_NO_NATIVE_WEIGHT_STEP'] === '1' ? 'turned off by ALP_NO_NATIVE_WEIGHT_STEP=1'
    : plan.net === null ? plan.reason : plan.net.trainingRefusal;
  return { ...networkPathOf(model), weightStep: reason === null ? { path: 'native', reason: null } : { path: 'tfjs', reason } };
}

/**
 * One step's loss and weight gradients on the native network. The model input is what `methodLoss`
 * hands the model (for ALP and TRADES the 2B batch [x; x'], so batch statistics are over both halves,
 * as on TF.js); the network's logits go back into `methodLoss` as a constant, whose gradient with
 * respect to them is then propagated natively.
 */
export function nativeWeightStep(net: NativeNetwork, model: tf.LayersModel, s: StepInputs, xAdv: tf.Tensor4D | null, c: TrainConfig): WeightStep {
  net.load();
  let z: tf.Tensor2D | null = null;
  let n = 0;
  const run: LogitsFn = (x) => {
    if (z !== null) throw new Error('native weight step: the loss ran the model twice');
    n = x.shape[0] as number;
    // A copy of the input: a view of the backend's memory could move while the network runs.
    const logits = net.trainLogits(Float32Array.from(x.dataSync() as Float32Array), n);
    z = tf.keep(tf.tensor2d(Float32Array.from(logits.subarray(0, n * net.classes)), [n, net.classes]));
    return z;
  };
  tf.tidy(() => {
    methodLoss(c.method, run, s, xAdv, c);
  });
  const logits = z as tf.Tensor2D | null;
  if (logits === null) throw new Error('native weight step: the loss did not run the model');
  const kept: Record<string, tf.Scalar> = {};
  const { value, grad } = tf.valueAndGrad((t: tf.Tensor) => {
    const r = methodLoss(c.method, () => t as tf.Tensor2D, s, xAdv, c);
    for (const [k, v] of Object.entries(r.parts)) kept[k] = tf.keep(v.clone());
    return r.total;
  })(logits);
  const byVariable = net.weightGradients(Float32Array.from(grad.dataSync() as Float32Array), n);
  const out: WeightStep = {
    loss: value.dataSync()[0] as number,
    parts: Object.fromEntries(Object.entries(kept).map(([k, v]) => [k, v.dataSync()[0] as number])),
    grads: model.trainableWeights.map((w) => byVariable.get(w) ?? new Float32Array((w.shape as number[]).reduce((a, d) => a * d, 1))),
  };
  tf.dispose([logits, value, grad, ...Object.values(kept)]);
  return out;
}

/** The gradients as the optimizer takes them (applyGradients), keyed by the variables' names. */
export function namedGradients(vars: tf.Variable[], grads: Float32Array[]): Array<{ name: string; tensor: tf.Tensor }> {
  return vars.map((v, i) => ({ name: v.name, tensor: tf.tensor(grads[i] as Float32Array, v.shape) }));
}
