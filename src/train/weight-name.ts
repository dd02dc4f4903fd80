/**
 * The name a weight is saved under in checkpoints and replica states: the layer's own name, so a
 * checkpoint lines up with the model by name, or its position when a weight has none.
 */
import type * as tf from '@tensorflow/tfjs';

export function weightName(model: tf.LayersModel, i: number): string {
  return model.weights[i]?.originalName ?? `w${i}`;
}
