/** Shared test fixtures: the backend, small synthetic data, tiny models. Not part of the public API. */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { setupBackend } from '../backend/select.js';
import type { Dataset } from '../data/dataset.js';
import { buildArch } from '../model/architectures.js';
import { saveModel } from '../model/io.js';
import { Rng } from '../util/rng.js';

let ready: Promise<string> | undefined;

/** Tests run on wasm (with alp's kernels) when it initialises, else cpu. */
export function useBackend(): Promise<string> {
  ready ??= setupBackend('wasm').catch(() => setupBackend('cpu'));
  return ready;
}

/**
 * A linearly separable toy problem on 6x6x1 "images": class k lights up a 2x2 patch (k in 0..3),
 * plus seeded noise. Small enough that training and attacks take milliseconds.
 */
export function toyDataset(count: number, seed = 1): Dataset {
  const rng = new Rng(seed);
  const h = 6, w = 6;
  const images = new Float32Array(count * h * w);
  const labels = new Int32Array(count);
  for (let i = 0; i < count; i++) {
    const k = rng.int(4);
    labels[i] = k;
    const r0 = k < 2 ? 1 : 3, c0 = k % 2 === 0 ? 1 : 3;
    for (let p = 0; p < h * w; p++) images[i * h * w + p] = 0.1 + 0.1 * rng.next();
    for (let dr = 0; dr < 2; dr++) for (let dc = 0; dc < 2; dc++) images[i * h * w + (r0 + dr) * w + c0 + dc] = 0.8 + 0.2 * rng.next();
  }
  return { name: 'toy', images, labels, count, shape: [h, w, 1], numClasses: 4 };
}

export function tensorsOf(ds: Dataset): { x: tf.Tensor4D; y: tf.Tensor1D } {
  return {
    x: tf.tensor4d(ds.images, [ds.count, ds.shape[0], ds.shape[1], ds.shape[2]]),
    y: tf.tensor1d(ds.labels, 'int32'),
  };
}

/** Trains a model with plain CE for a few full-batch Adam steps. */
export function fitQuick(model: tf.LayersModel, ds: Dataset, steps: number, lr = 0.01): void {
  const { x, y } = tensorsOf(ds);
  const opt = tf.train.adam(lr);
  const vars = model.trainableWeights.map((v) => v.read() as tf.Variable);
  for (let s = 0; s < steps; s++) {
    tf.tidy(() => {
      opt.minimize(() => tf.losses.softmaxCrossEntropy(tf.oneHot(y, ds.numClasses), model.apply(x) as tf.Tensor2D) as tf.Scalar, false, vars);
    });
  }
  opt.dispose();
  tf.dispose([x, y]);
}

/**
 * A toy mlp on 6×6×1 inputs, trained for `steps` full-batch Adam steps (lr 0.02) on `train` the first time it
 * is asked for, and the same model after that: training it once per test is most of such a file's time.
 */
export function toyModelOnce(o: { seed: number; train: Dataset; steps: number }): () => Promise<tf.LayersModel> {
  let model: tf.LayersModel | undefined;
  return async () => {
    await useBackend();
    if (model === undefined) {
      model = buildArch('mlp', { inputShape: [6, 6, 1], numClasses: o.train.numClasses, seed: o.seed });
      fitQuick(model, o.train, o.steps, 0.02);
    }
    return model;
  };
}

const trainedToys = new Map<number, () => Promise<tf.LayersModel>>();

/**
 * The attack tests' victim: an MLP trained on toyDataset(256, 3) to > 95% accuracy, built once per
 * process (by architecture seed) and shared, so every attack is tested against a model that works.
 */
export async function trainedToyModel(seed = 2): Promise<{ model: tf.LayersModel; ds: Dataset }> {
  let once = trainedToys.get(seed);
  if (once === undefined) {
    once = toyModelOnce({ seed, train: toyDataset(256, 3), steps: 150 });
    trainedToys.set(seed, once);
  }
  return { model: await once(), ds: toyDataset(256, 3) };
}

/**
 * An untrained MNIST MLP (seed 1) saved in `dir` (once; later calls reuse it): about 10% of examples
 * right, enough for CLI tests to attack, quick to run.
 */
export async function savedMnistMlp(dir: string): Promise<string> {
  if (!existsSync(join(dir, 'model.json'))) {
    await useBackend();
    await saveModel(buildArch('mlp', { inputShape: [28, 28, 1], numClasses: 10, seed: 1 }), dir);
  }
  return dir;
}
