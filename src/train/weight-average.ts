/**
 * An exponential moving average of a model's weights during training (weight averaging as Gowal et al.
 * 2020, "Uncovering the limits of adversarial training", use it): after every optimizer step,
 * avg ← d·avg + (1 − d)·w, for every weight the model has (batch-norm moving statistics included, as
 * timm's ModelEmaV2 does). Validation and the saved model use the average; the optimizer keeps stepping
 * the raw weights.
 *
 * The decay warms up as TensorFlow's ExponentialMovingAverage does with num_updates,
 * d_t = min(d, (1 + t) / (10 + t)) after t earlier updates, so the first steps' random weights do not
 * linger in the average. It is a function of the step alone, which keeps resume exact.
 */
import * as tf from '@tensorflow/tfjs';

/** The decay of the update after `updates` earlier ones, for a configured decay `target`. */
export function averageDecay(target: number, updates: number): number {
  return Math.min(target, (1 + updates) / (10 + updates));
}

export class WeightAverage {
  private readonly avg: tf.Variable[];

  /** Starts at the model's current weights, or at `from` (a resumed run's average, in model.weights order). */
  constructor(private readonly model: tf.LayersModel, from: tf.Tensor[] | null = null) {
    const start = from ?? model.weights.map((w) => w.read());
    if (start.length !== model.weights.length) {
      throw new Error(`weight average: ${start.length} tensors for a model with ${model.weights.length} weights`);
    }
    this.avg = start.map((t, i) => {
      const shape = (model.weights[i] as tf.LayerVariable).read().shape;
      if (t.size !== shape.reduce((a, b) => a * b, 1)) throw new Error(`weight average: tensor ${i} has ${t.size} values, weight ${model.weights[i]?.originalName} has shape [${shape.join(', ')}]`);
      return tf.variable(t.reshape(shape), false);
    });
  }

  /** One update with decay `d` (from averageDecay). */
  update(d: number): void {
    tf.tidy(() => {
      this.model.weights.forEach((w, i) => {
        const a = this.avg[i] as tf.Variable;
        // avg + (1 − d)·(w − avg): the same as d·avg + (1 − d)·w, one multiply fewer.
        a.assign(tf.add(a, tf.mul(tf.sub(w.read(), a), 1 - d)));
      });
    });
  }

  /** The average, in model.weights order (the variables themselves: copy before keeping). */
  values(): tf.Tensor[] {
    return this.avg;
  }

  dispose(): void {
    tf.dispose(this.avg);
  }
}

/**
 * Runs `fn` with `weights` in the model, then puts the model's own weights back: validation of the
 * average while the raw weights keep training.
 */
export async function withWeights<T>(model: tf.LayersModel, weights: tf.Tensor[], fn: () => T | Promise<T>): Promise<T> {
  // Clones: setWeights assigns into the very variables getWeights hands out.
  const own = model.getWeights().map((t) => t.clone());
  model.setWeights(weights);
  try {
    return await fn();
  } finally {
    model.setWeights(own);
    tf.dispose(own);
  }
}
