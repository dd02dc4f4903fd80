/**
 * BatchNormalization without `center` or `scale`, made differentiable and trainable.
 *
 * tfjs-layers 4.22 fails on such a layer in two places (docs/tfjs-gradient-bugs.md):
 *  - in training mode its call() reads `gamma`/`beta` unconditionally and throws before computing
 *    anything, so the model cannot be trained;
 *  - in inference mode it passes null offset/scale to tf.batchNorm, whose gradient then throws inside
 *    the engine (the op records the missing input), so no attack can differentiate it.
 *
 * The class here is registered under the same class name, so every model.json loaded afterwards
 * builds it instead. When both center and scale are on, it is exactly TF.js' layer; otherwise it
 * normalises with plain element-wise ops, whose gradients are TF.js' ordinary ones:
 * y = (x − mean)·rsqrt(var + ε)·γ + β, with γ and β left out when absent, and in training mode the
 * batch moments (biased variance, as TF.js) and the same moving-average update as TF.js.
 */
import * as tf from '@tensorflow/tfjs';

/** The BatchNormalization members the layer's own types keep private. */
interface BnState {
  center: boolean;
  scale: boolean;
  axis: number;
  epsilon: number;
  momentum: number;
  gamma?: tf.LayerVariable;
  beta?: tf.LayerVariable;
  movingMean: tf.LayerVariable;
  movingVariance: tf.LayerVariable;
}

type Kwargs = Record<string, unknown>;
type LayerCtor = new (args: Record<string, unknown>) => tf.layers.Layer;

/** TF.js' own BatchNormalization class (not exported by name from @tensorflow/tfjs). */
const TfBatchNormalization = tf.layers.batchNormalization({}).constructor as unknown as LayerCtor;

function normalize(layer: BnState, x: tf.Tensor, training: boolean): tf.Tensor {
  const ndim = x.rank;
  const axis = layer.axis >= 0 ? layer.axis : layer.axis + ndim;
  const reduce = [...Array(ndim).keys()].filter((a) => a !== axis);
  const shape = Array<number>(ndim).fill(1);
  shape[axis] = x.shape[axis] as number;
  let mean: tf.Tensor, variance: tf.Tensor;
  if (training) {
    ({ mean, variance } = tf.moments(x, reduce));
    const update = (v: tf.LayerVariable, value: tf.Tensor): void => {
      // v ← v − (v − value)·(1 − momentum), as TF.js (a variable write records no gradient).
      tf.tidy(() => {
        const old = v.read();
        v.write(tf.sub(old, tf.mul(tf.sub(old, value), 1 - layer.momentum)));
      });
    };
    update(layer.movingMean, mean);
    update(layer.movingVariance, variance);
  } else {
    mean = layer.movingMean.read();
    variance = layer.movingVariance.read();
  }
  let factor = tf.rsqrt(tf.add(variance, layer.epsilon));
  if (layer.scale && layer.gamma !== undefined) factor = tf.mul(factor, layer.gamma.read());
  let y = tf.mul(tf.sub(x, tf.reshape(mean, shape)), tf.reshape(factor, shape));
  if (layer.center && layer.beta !== undefined) y = tf.add(y, tf.reshape(layer.beta.read(), shape));
  return y;
}

/** BatchNormalization that also works (forward, gradient, training) without center or scale. */
export class AlpBatchNormalization extends TfBatchNormalization {
  static className = 'BatchNormalization';

  override call(inputs: tf.Tensor | tf.Tensor[], kwargs: Kwargs): tf.Tensor | tf.Tensor[] {
    const self = this as unknown as BnState;
    if (self.center && self.scale) return super.call(inputs, kwargs);
    return tf.tidy(() => {
      const x = Array.isArray(inputs) ? (inputs[0] as tf.Tensor) : inputs;
      return normalize(self, x, kwargs['training'] === true);
    });
  }
}

/** A BatchNormalization layer (same options as tf.layers.batchNormalization) that alp can differentiate. */
export function batchNormalization(args: Record<string, unknown> = {}): tf.layers.Layer {
  return new AlpBatchNormalization(args);
}
