/**
 * The parts of `alp attack`'s output that are library work rather than CLI formatting: what adversarial
 * text embeddings say in words (nearest vocabulary entries, and which words changed), and audio clips
 * written as WAV pairs to listen to.
 */
import { join } from 'node:path';
import { unitToWave } from '../data/audio.js';
import type { Dataset } from '../data/dataset.js';
import { decodeIds, vocabularyOf, PAD_ID, UNK } from '../data/text.js';
import { encodeWav } from '../data/wav.js';
import { writeFileAtomic } from '../util/atomic.js';

export interface TextReading {
  index: number;
  label: number;
  cleanPrediction: number;
  adversarialPrediction: number;
  success: boolean;
  clean: string;
  nearestWords: string;
  /** Token positions whose nearest word differs from the clean one (padding excluded). */
  substitutions: Array<{ position: number; from: string; to: string }>;
}

/**
 * Per message: the clean text, the nearest-word reading of its adversarial embeddings, and the words
 * that changed. `ids` holds the token ids (one row of `L` per message); `nearest` the nearest
 * vocabulary id of every adversarial embedding, in the same layout.
 */
export function textReadings(
  ids: Dataset, nearest: Int32Array | ArrayLike<number>,
  o: { count: number; tokens: number; labels: ArrayLike<number>; cleanPred: ArrayLike<number>; advPred: ArrayLike<number>; success: ArrayLike<number> },
): TextReading[] {
  const vocab = vocabularyOf(ids.vocabulary as string[]);
  const L = o.tokens;
  return Array.from({ length: o.count }, (_, i) => {
    const clean = Array.from(ids.images.subarray(i * L, (i + 1) * L), (v) => v | 0);
    const adv = Array.from({ length: L }, (_, k) => nearest[i * L + k] as number);
    const substitutions = clean.flatMap((id, k) => (id !== PAD_ID && adv[k] !== id ? [{ position: k, from: vocab.tokens[id] ?? UNK, to: vocab.tokens[adv[k] as number] ?? UNK }] : []));
    return {
      index: i, label: o.labels[i] as number, cleanPrediction: o.cleanPred[i] as number, adversarialPrediction: o.advPred[i] as number,
      success: o.success[i] === 1, clean: decodeIds(clean, vocab), nearestWords: decodeIds(adv.map((id, k) => (clean[k] === PAD_ID ? PAD_ID : id)), vocab),
      substitutions,
    };
  });
}

/**
 * wav/<i>-clean.wav and wav/<i>-adversarial.wav for every clip (inputs in [0,1] map to w = 2x − 1);
 * `first` is the index of the first clip (a shard's first example).
 */
export function writeClipPairs(out: string, c: { clean: Float32Array; adversarial: Float32Array; row: number; sampleRate: number; first?: number }): void {
  const count = c.row > 0 ? c.clean.length / c.row : 0;
  for (let i = 0; i < count; i++) {
    for (const [kind, data] of [['clean', c.clean], ['adversarial', c.adversarial]] as const) {
      writeFileAtomic(join(out, `wav/${(c.first ?? 0) + i}-${kind}.wav`), encodeWav({ samples: unitToWave(data.slice(i * c.row, (i + 1) * c.row)), sampleRate: c.sampleRate }));
    }
  }
}
