/**
 * Weight constraints (unit-norm embeddings, max-norm kernels) are projections applied after each
 * update. TF.js applies them only when a LayerVariable is written through `write()`, not when an
 * optimizer updates the underlying variable, so alp's trainer applies them itself after every step.
 */
import * as tf from '@tensorflow/tfjs';

interface Constrained {
  constraint?: { apply(w: tf.Tensor): tf.Tensor } | null;
  read(): tf.Tensor;
}

/** Projects every constrained trainable weight of `model` onto its constraint set, in place. */
export function applyConstraints(model: tf.LayersModel): void {
  for (const w of model.trainableWeights as unknown as Constrained[]) {
    const c = w.constraint;
    if (c === undefined || c === null) continue;
    const v = w.read() as tf.Variable;
    tf.tidy(() => v.assign(c.apply(v)));
  }
}
