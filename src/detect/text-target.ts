/**
 * What a detector on a text model looks at, from the loaded model: token ids cannot carry noise or
 * gradients, so the detectors score the message's embeddings through the model's head (the layers
 * after its Embedding layer), their noise is added there without a box, and the attacks on them swap
 * real words. The one place that splits the model for detection: `alp detect calibrate` and
 * `alp detect eval` (in this thread and in each worker) call it, and so can a library user:
 *
 *   const target = textDetectorTarget(model);
 *   const det = buildDetector('margin', textDetectorSettings({ seed: 0 }));
 *   const { calibration } = calibrateTextDetector(target, det, clean, { fpr: 0.05 });   // → detector.json
 *   const fresh = buildDetector('margin', textDetectorSettings({ seed: 0 }));           // evaluation calibrates its own
 *   const r = await evaluateTextDetection(target, 'spam', 'runs/spam', test, clean, [fresh], { budget: { k: 2 },
 *     candidates: target.candidates({ kind: 'vocabulary' }, test.vocabulary), seed: 0 });
 */
import type * as tf from '@tensorflow/tfjs';
import { buildCandidates } from '../attack/text/build.js';
import type { CandidateSet, CandidateSpec } from '../attack/text/candidates.js';
import { wordModel, type WordModel } from '../attack/text/word-model.js';
import type { Dataset } from '../data/dataset.js';
import { vocabularyOf } from '../data/text.js';
import type { LogitsFn } from '../model/classifier.js';
import { embedDataset, splitAtEmbedding, type EmbeddingSplit } from '../model/text.js';
import { UserError } from '../util/errors.js';
import { headLogits } from './adaptive-swaps.js';
import { calibrateDetector, type CalibrateOptions, type CalibrationReport } from './calibrate.js';
import type { Detector } from './detector.js';

export interface TextDetectorTarget {
  /** The loaded model (workers get a replica of it). */
  model: tf.LayersModel;
  split: EmbeddingSplit;
  /** What the detectors score: the head's logits of embedded messages [n, L, D, 1]. */
  head: LogitsFn;
  /** Embeddings have no box: the detectors' noise is not clipped and no [0,1] check applies. */
  bounds: null;
  /** The model on token ids, for the word-swap attacks. */
  words: WordModel;
  /** A text dataset's messages (token ids) in the space the detectors score: rows [L, D, 1]. */
  embed(ds: Dataset): Dataset;
  /** The words that may replace a word, over the dataset's vocabulary (the set keeps its spec, for workers). */
  candidates(spec: CandidateSpec, vocabulary: readonly string[] | undefined): CandidateSet;
}

/** The detector target of a text model (one with an Embedding layer); the split shares the model's weights. */
export function textDetectorTarget(model: tf.LayersModel): TextDetectorTarget {
  const split = splitAtEmbedding(model);
  const words = wordModel(split);
  return {
    model, split, head: headLogits(split), bounds: null, words,
    embed: (ds) => embedDataset(ds, split),
    candidates: (spec, vocabulary) => {
      if (vocabulary === undefined) throw new UserError(`candidates: the ${spec.kind} candidate set needs the dataset's vocabulary (a text dataset)`);
      const { kind, ...options } = spec;
      return buildCandidates(kind, words, vocabularyOf([...vocabulary]), options);
    },
  };
}

/**
 * Fits (when needed) and calibrates a detector on clean messages (token ids), scored on their
 * embeddings without a box: the text counterpart of calibrateDetector.
 */
export function calibrateTextDetector(target: TextDetectorTarget, det: Detector, clean: Dataset, o: Omit<CalibrateOptions, 'bounds'>): CalibrationReport {
  return calibrateDetector(det, target.head, target.embed(clean), { ...o, bounds: target.bounds });
}
