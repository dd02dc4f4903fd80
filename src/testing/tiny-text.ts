/**
 * A tiny text task for the word-level tests: 12-token messages over a 30-word vocabulary, class 1
 * ("spam") iff the keyword w7 or w8 occurs, and a text-cnn trained on it for a few seconds.
 */
import type * as tf from '@tensorflow/tfjs';
import { wordModel, type WordModel } from '../attack/text/word-model.js';
import type { Dataset } from '../data/dataset.js';
import { PAD, UNK, vocabularyOf, type Vocabulary } from '../data/text.js';
import { buildArch } from '../model/architectures.js';
import { splitAtEmbedding, type EmbeddingSplit } from '../model/text.js';
import { resolveConfig } from '../train/config.js';
import { trainModel } from '../train/trainer.js';
import { Rng } from '../util/rng.js';
import { useBackend } from './setup.js';

export const TINY_L = 12, TINY_V = 30;
export const tinyTokens = [PAD, UNK, ...Array.from({ length: TINY_V - 2 }, (_, i) => `w${i + 2}`)];
export const tinyVocab: Vocabulary = vocabularyOf(tinyTokens);

/** Messages of 6–12 words, the rest padding; odd rows carry one keyword (w7 or w8). */
export function keywordTexts(count: number, seed: number): Dataset {
  const L = TINY_L, V = TINY_V;
  const rng = new Rng(seed);
  const images = new Float32Array(count * L);
  const labels = new Int32Array(count);
  for (let i = 0; i < count; i++) {
    const len = 6 + rng.int(L - 5);
    for (let k = 0; k < len; k++) {
      let t = 2 + rng.int(V - 2);
      while (t === 7 || t === 8) t = 2 + rng.int(V - 2);
      images[i * L + k] = t;
    }
    labels[i] = i % 2;
    if (labels[i] === 1) images[i * L + rng.int(len)] = 7 + rng.int(2);
  }
  return { name: 'keywords', images, labels, count, shape: [L, 1, 1], numClasses: 2, vocabulary: tinyTokens };
}

export interface TinyText {
  model: tf.LayersModel;
  split: EmbeddingSplit;
  words: WordModel;
}

let trained: Promise<TinyText> | undefined;
/** A text-cnn trained for a few seconds on the keyword task (once per test process). */
export function tinyTextModel(): Promise<TinyText> {
  trained ??= (async () => {
    await useBackend();
    const model = buildArch('text-cnn', { inputShape: [TINY_L, 1, 1], numClasses: 2, seed: 1, vocabularySize: TINY_V });
    const c = resolveConfig(undefined, { method: 'standard', arch: 'text-cnn', epochs: 6, batchSize: 40, lr: 5e-3, epsRampEpochs: 0, valSize: 0, trainSize: 0, evalEvery: 0 });
    await trainModel(model, keywordTexts(400, 2), null, c);
    const split = splitAtEmbedding(model);
    return { model, split, words: wordModel(split) };
  })();
  return trained;
}
