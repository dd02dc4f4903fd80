/**
 * LayerNormalization without `center` or `scale`, made differentiable.
 *
 * tfjs-layers 4.22 passes null offset/scale to tf.batchNorm for such a layer; the forward pass works
 * but its gradient throws inside the engine (the same fault as BatchNormalization's, see
 * ./batch-normalization.ts and docs/tfjs-gradient-bugs.md). The class here is registered under the
 * same class name; with both center and scale it is exactly TF.js' layer, otherwise it normalises with
 * element-wise ops: y = (x − mean)·rsqrt(var + ε)·γ + β over the layer's axes, γ and β left out when
 * absent.
 */
import * as tf from '@tensorflow/tfjs';

interface LnState {
  center: boolean;
  scale: boolean;
  axis: number[];
  epsilon: number;
  gamma?: tf.LayerVariable;
  beta?: tf.LayerVariable;
}

type LayerCtor = new (args: Record<string, unknown>) => tf.layers.Layer;

/** TF.js' own LayerNormalization class (not exported by name from @tensorflow/tfjs). */
const TfLayerNormalization = tf.layers.layerNormalization({}).constructor as unknown as LayerCtor;

export class AlpLayerNormalization extends TfLayerNormalization {
  static className = 'LayerNormalization';

  override call(inputs: tf.Tensor | tf.Tensor[], kwargs: Record<string, unknown>): tf.Tensor | tf.Tensor[] {
    const self = this as unknown as LnState;
    if (self.center && self.scale) return super.call(inputs, kwargs);
    return tf.tidy(() => {
      const x = Array.isArray(inputs) ? (inputs[0] as tf.Tensor) : inputs;
      // build() has turned `axis` into non-negative axes of the input.
      const { mean, variance } = tf.moments(x, self.axis, true);
      const shape = Array<number>(x.rank).fill(1);
      for (const a of self.axis) shape[a] = x.shape[a] as number;
      let y = tf.mul(tf.sub(x, mean), tf.rsqrt(tf.add(variance, self.epsilon)));
      if (self.scale && self.gamma !== undefined) y = tf.mul(y, tf.reshape(self.gamma.read(), shape));
      if (self.center && self.beta !== undefined) y = tf.add(y, tf.reshape(self.beta.read(), shape));
      return y;
    });
  }
}

/** A LayerNormalization layer (same options as tf.layers.layerNormalization) that alp can differentiate. */
export function layerNormalization(args: Record<string, unknown> = {}): tf.layers.Layer {
  return new AlpLayerNormalization(args);
}
