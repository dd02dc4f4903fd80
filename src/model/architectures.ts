/**
 * Reference architectures. Each returns a tf.LayersModel whose last layer is linear (logits): every
 * attack and loss in alp works on logits, never on softmax outputs.
 */
import * as tf from '@tensorflow/tfjs';
import { UserError } from '../util/errors.js';
import { applyConstraints } from './constraints.js';

import { ARCH_NAMES, HIDDEN_ACTIVATIONS, type ArchName, type HiddenActivation } from './arch-names.js';

export { ARCH_NAMES, HIDDEN_ACTIVATIONS, type ArchName, type HiddenActivation };

export interface ArchOptions {
  inputShape: [number, number, number];
  numClasses: number;
  seed: number;
  /** Text models: how many token ids the embedding has rows for. */
  vocabularySize?: number;
  /** The hidden layers' activation (default relu). */
  activation?: HiddenActivation;
}

const hidden = (o: ArchOptions): HiddenActivation => o.activation ?? 'relu';

function init(seed: number, k: number): ReturnType<typeof tf.initializers.glorotUniform> {
  // One seed per layer so that architectures stay reproducible if layers are added or reordered.
  return tf.initializers.glorotUniform({ seed: seed * 31 + k });
}

/**
 * The MNIST network of Madry et al. 2018 (their mnist_challenge model): conv 5x5x32 → maxpool 2 →
 * conv 5x5x64 → maxpool 2 → dense 1024 → dense classes. ~3.3M parameters.
 */
export function madryCnn(o: ArchOptions): tf.LayersModel {
  return tf.sequential({
    name: 'madry_cnn',
    layers: [
      tf.layers.conv2d({ inputShape: o.inputShape, filters: 32, kernelSize: 5, padding: 'same', activation: hidden(o), kernelInitializer: init(o.seed, 1) }),
      tf.layers.maxPooling2d({ poolSize: 2, strides: 2 }),
      tf.layers.conv2d({ filters: 64, kernelSize: 5, padding: 'same', activation: hidden(o), kernelInitializer: init(o.seed, 2) }),
      tf.layers.maxPooling2d({ poolSize: 2, strides: 2 }),
      tf.layers.flatten(),
      tf.layers.dense({ units: 1024, activation: hidden(o), kernelInitializer: init(o.seed, 3) }),
      tf.layers.dense({ units: o.numClasses, kernelInitializer: init(o.seed, 4), name: 'logits' }),
    ],
  });
}

/**
 * fast-cnn at twice the width: conv 4x4x32 /2 → conv 4x4x64 /2 → dense 256 → dense classes. ~0.84M
 * parameters, ~4x fast-cnn's multiply-adds and ~1/6 of madry-cnn's: robustness at MNIST ε = 0.3 needs
 * capacity (Madry et al. 2018, Fig. 4), and this is what a 2-core CPU can adversarially train in an hour.
 */
export function wideCnn(o: ArchOptions): tf.LayersModel {
  return stridedCnn(o, 'wide_cnn', 32, 64, 256);
}

/**
 * A small CNN with strided convolutions (the shape used by Wong, Rice & Kolter 2020 for MNIST):
 * conv 4x4x16 /2 → conv 4x4x32 /2 → dense 100 → dense classes. ~0.17M parameters, ~25x fewer
 * multiply-adds than madry-cnn, which is what makes adversarial training feasible on a laptop CPU.
 */
export function fastCnn(o: ArchOptions): tf.LayersModel {
  return stridedCnn(o, 'fast_cnn', 16, 32, 100);
}

/** conv 4x4xc1 /2 → conv 4x4xc2 /2 → dense `units` → dense classes: fast-cnn and wide-cnn. */
function stridedCnn(o: ArchOptions, name: string, c1: number, c2: number, units: number): tf.LayersModel {
  return tf.sequential({
    name,
    layers: [
      tf.layers.conv2d({ inputShape: o.inputShape, filters: c1, kernelSize: 4, strides: 2, padding: 'same', activation: hidden(o), kernelInitializer: init(o.seed, 1) }),
      tf.layers.conv2d({ filters: c2, kernelSize: 4, strides: 2, padding: 'same', activation: hidden(o), kernelInitializer: init(o.seed, 2) }),
      tf.layers.flatten(),
      tf.layers.dense({ units, activation: hidden(o), kernelInitializer: init(o.seed, 3) }),
      tf.layers.dense({ units: o.numClasses, kernelInitializer: init(o.seed, 4), name: 'logits' }),
    ],
  });
}

/**
 * A raw-waveform CNN for one-row inputs [1, T, 1] (spoken-digits): four strided 1×9 convolutions
 * (×4, ×4, ×4, ×2 downsampling; 16/32/64/64 channels), flatten, dense classes. ~100k parameters,
 * ~7M multiply-adds per 1 s clip at 8 kHz.
 */
export function audioCnn(o: ArchOptions): tf.LayersModel {
  if (o.inputShape[0] !== 1) throw new UserError(`architecture audio-cnn: expects one-row inputs [1, T, C] (audio), found [${o.inputShape.join(', ')}]`);
  const conv = (filters: number, stride: number, k: number): tf.layers.Layer =>
    tf.layers.conv2d({ filters, kernelSize: [1, 9], strides: [1, stride], padding: 'same', activation: hidden(o), kernelInitializer: init(o.seed, k) });
  return tf.sequential({
    name: 'audio_cnn',
    layers: [
      // Back from the [0,1] box to the waveform: a constant 0.5 offset would otherwise dominate the
      // first convolution's output.
      tf.layers.rescaling({ inputShape: o.inputShape, scale: 2, offset: -1 }),
      conv(16, 4, 1),
      conv(32, 4, 2),
      conv(64, 4, 3),
      conv(64, 2, 5),
      tf.layers.flatten(),
      tf.layers.dense({ units: o.numClasses, kernelInitializer: init(o.seed, 4), name: 'logits' }),
    ],
  });
}

/**
 * A text CNN over token ids [L] (Kim 2014, one filter width): unit-norm word embeddings (64-d) →
 * conv 5×64 → global max pool over positions → dense classes. The embeddings are constrained to unit
 * length so that an L2 radius in embedding space has a fixed meaning: two different words are between
 * 0 and 2 apart, so ε ≈ 1.4 buys roughly one word's worth of change (model/text.ts).
 */
export function textCnn(o: ArchOptions): tf.LayersModel {
  const [len, a, b] = o.inputShape;
  if (a !== 1 || b !== 1) throw new UserError(`architecture text-cnn: expects token-id rows [L, 1, 1] (a text dataset), found [${o.inputShape.join(', ')}]`);
  if (o.vocabularySize === undefined) throw new UserError('architecture text-cnn: needs a text dataset (one with a vocabulary)');
  const model = tf.sequential({
    name: 'text_cnn',
    layers: [
      tf.layers.embedding({
        inputDim: o.vocabularySize, outputDim: 64, inputLength: len, name: 'embedding',
        embeddingsInitializer: tf.initializers.randomNormal({ seed: o.seed * 31 + 1 }),
        embeddingsConstraint: tf.constraints.unitNorm({ axis: 1 }),
      }),
      tf.layers.conv1d({ filters: 64, kernelSize: 5, padding: 'same', activation: hidden(o), kernelInitializer: init(o.seed, 2) }),
      tf.layers.globalMaxPooling1d({}),
      tf.layers.dense({ units: o.numClasses, kernelInitializer: init(o.seed, 3), name: 'logits' }),
    ],
  });
  applyConstraints(model); // start from unit-norm embeddings, not only after the first update
  return model;
}

/** A two-layer perceptron, mostly for tests and tabular-like inputs. */
export function mlp(o: ArchOptions): tf.LayersModel {
  return tf.sequential({
    name: 'mlp',
    layers: [
      tf.layers.flatten({ inputShape: o.inputShape }),
      tf.layers.dense({ units: 64, activation: hidden(o), kernelInitializer: init(o.seed, 1) }),
      tf.layers.dense({ units: o.numClasses, kernelInitializer: init(o.seed, 2), name: 'logits' }),
    ],
  });
}

const BUILDERS: Record<ArchName, (o: ArchOptions) => tf.LayersModel> = {
  'madry-cnn': madryCnn,
  'fast-cnn': fastCnn,
  'wide-cnn': wideCnn,
  mlp,
  'audio-cnn': audioCnn,
  'text-cnn': textCnn,
};

export function buildArch(name: ArchName, o: ArchOptions): tf.LayersModel {
  if (!Object.hasOwn(BUILDERS, name)) {
    throw new UserError(`architecture: expected one of ${ARCH_NAMES.join(', ')}, got '${String(name)}'`);
  }
  return BUILDERS[name](o);
}
