/**
 * The detect-eval set-ups that the parallel and the shard tests share (jobs/detect-parallel.test.ts,
 * jobs/detect-shard.test.ts): toy data, detectors and options small enough for a unit test, yet such
 * that attacks fool examples and detectors flag some, so comparisons between runs bite.
 */
import type * as tf from '@tensorflow/tfjs';
import type { Dataset } from '../data/dataset.js';
import type { DetectEvalOptions } from '../detect/evaluate.js';
import type { Detector } from '../detect/detector.js';
import { buildDetector } from '../detect/registry.js';
import { OddsAreOddDetector } from '../detect/odds-are-odd.js';
import { textDetectorSettings, type TextDetectEvalOptions } from '../detect/text-evaluate.js';
import { textDetectorTarget, type TextDetectorTarget } from '../detect/text-target.js';
import { toyDataset } from './setup.js';
import { keywordTexts, tinyTextModel } from './tiny-text.js';

export interface ImageDetectFixture {
  testSet: Dataset;
  calib: Dataset;
  /** Fresh detectors each call (fitting one changes it). */
  detectors: () => Detector[];
  options: DetectEvalOptions;
}

/** FGSM and PGD-CW plus the adaptive attack against the margin and odds detectors (fitted statistics, noise), on toy images. */
export function imageDetectFixture(): ImageDetectFixture {
  return {
    testSet: toyDataset(24, 41),
    calib: toyDataset(100, 42),
    detectors: () => [buildDetector('margin'), new OddsAreOddDetector({ samples: 8, seed: 1 })],
    options: {
      threat: { norm: 'linf', eps: 0.3 }, attacks: ['fgsm', 'pgd-cw'], steps: 5, restarts: 1, seed: 3, fprs: [0.05, 0.2], operatingFpr: 0.1,
      adaptive: { steps: 4, lambdas: [0, 10], eotSamples: 4, checkEvery: 2 }, batchSize: 7,
    },
  };
}

export interface TextDetectFixture {
  model: tf.LayersModel;
  target: TextDetectorTarget;
  testSet: Dataset;
  calib: Dataset;
  detectors: () => Detector[];
  options: TextDetectEvalOptions;
}

/** The tiny keyword model, HotFlip and the adaptive swap search against the margin and logit-discrepancy detectors. */
export async function textDetectFixture(): Promise<TextDetectFixture> {
  const { model } = await tinyTextModel();
  const target = textDetectorTarget(model);
  const testSet = keywordTexts(20, 3), calib = keywordTexts(60, 21);
  const settings = textDetectorSettings({ seed: 3, samples: 4, adversarial: { norm: 'l2', eps: 0.5, steps: 2 } });
  return {
    model, target, testSet, calib,
    detectors: () => ['margin', 'logit-discrepancy'].map((k) => buildDetector(k, settings)),
    options: {
      // The candidates are embedding neighbours: workers build them again from this spec.
      budget: { k: 1 }, candidates: target.candidates({ kind: 'neighbours', neighbours: 8 }, testSet.vocabulary), seed: 1, operatingFpr: 0.1, fprs: [0.05],
      adaptive: { lambdas: [1, 10], probe: 2, eotSamples: 2 }, batchSize: 7,
    },
  };
}
