/**
 * Detection on a text model: the detectors look at the message's embeddings (the input of the model's
 * head), their noise is added in embedding space without a box, and they are attacked with real word
 * swaps. Same numbers, same artifact as the image evaluation (evaluate.ts):
 *
 *  - thresholds calibrated on clean messages disjoint from the test messages, for the target FPR;
 *  - the non-adaptive attack is HotFlip with at most k swaps (the verifying word runner: legal swaps
 *    only, success decided on the real new message);
 *  - the adaptive attack (adaptive-swaps.ts) knows the detector and its threshold; a message counts as
 *    broken by it when the plain HotFlip message already evades (λ = 0) or a weighted search finds a
 *    misclassified, unflagged message. Every such message is checked again here: within the budget,
 *    legal swaps, misclassified on a fresh forward pass, real detector score ≤ threshold.
 */
import { maxSwaps, type SwapBudget } from '../attack/text/budget.js';
import type { CandidateSet } from '../attack/text/candidates.js';
import { hotflip } from '../attack/text/hotflip.js';
import { runWordAttack } from '../attack/text/verify.js';
import { wordModel } from '../attack/text/word-model.js';
import type { Dataset } from '../data/dataset.js';
import { embedDataset, type EmbeddingSplit } from '../model/text.js';
import { UserError } from '../util/errors.js';
import { checkpointInterrupt } from '../util/interrupt.js';
import { AdaptiveSwapAttack, embedIds, headLogits, type AdaptiveSwapOptions } from './adaptive-swaps.js';
import { calibrateDetector, flags, scoreDataset } from './calibrate.js';
import type { Detector } from './detector.js';
import type { DetectorSettings } from './registry.js';
import { summarise, type AttackDetection, type DetectorEvaluation, type ModelDetectionResult } from './evaluate.js';
import { rateAbove, scoreStats } from './metrics.js';

export interface TextDetectEvalOptions {
  budget: SwapBudget;
  candidates: CandidateSet;
  /** HotFlip's beam width (the non-adaptive attack). */
  beamWidth?: number;
  seed: number;
  fprs?: number[];
  operatingFpr?: number;
  fitFraction?: number;
  batchSize?: number;
  /** Adaptive attack settings (budget and candidates are taken from above); null skips it. */
  adaptive?: Omit<AdaptiveSwapOptions, 'budget' | 'candidates'> | null;
  onProgress?: (p: { stage: string; done: number; total: number }) => void;
  signal?: AbortSignal;
}

/**
 * The detectors' settings for a text model, where the user gave none: Gaussian noise of σ = 0.05 per
 * embedding coordinate (with 64-d unit word vectors, about 0.4 per word: a fifth of the largest distance
 * between two words, on every word at once), no box, and for logit-discrepancy an inner attack of L2
 * radius 0.5 over the message in 5 steps (the radius the spam preset trains ALP at).
 */
export function textDetectorSettings(s: DetectorSettings): DetectorSettings {
  return { ...s, box: false, noise: s.noise ?? [TEXT_NOISE], adversarial: s.adversarial ?? TEXT_INNER_ATTACK };
}
export const TEXT_NOISE = { dist: 'gaussian', eps: 0.05 } as const;
export const TEXT_INNER_ATTACK = { norm: 'l2', eps: 0.5, steps: 5 } as const;

/** Message `r`'s ids of a text dataset. */
function idsOf(ds: Dataset, r: number): Int32Array {
  const L = ds.shape[0];
  return Int32Array.from(ds.images.subarray(r * L, (r + 1) * L));
}

/** Scores of n messages' ids under a detector, in chunks. */
function scoreIds(det: Detector, split: EmbeddingSplit, ids: Int32Array, n: number, batchSize: number): Float32Array {
  const L = split.sequenceLength;
  const f = headLogits(split);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i += batchSize) {
    const m = Math.min(batchSize, n - i);
    const x = embedIds(split, ids.subarray(i * L, (i + m) * L), m);
    try {
      out.set(det.score(f, x), i);
    } finally {
      x.dispose();
    }
  }
  return out;
}

/**
 * Evaluates detectors on a text model split at its embedding. `test` and `calibration` hold token ids
 * (disjoint messages); `detectors` are fresh, with noise meant for embeddings (no box).
 */
export async function evaluateTextDetection(
  split: EmbeddingSplit, label: string, modelPath: string, test: Dataset, calibration: Dataset, detectors: Detector[], o: TextDetectEvalOptions,
): Promise<ModelDetectionResult> {
  if (test.vocabulary === undefined || calibration.vocabulary === undefined) throw new UserError(`${test.name}: text detection needs token ids (a text dataset)`);
  const L = split.sequenceLength;
  const bs = o.batchSize ?? 100;
  const fprs = o.fprs ?? [0.01, 0.05];
  const operating = o.operatingFpr ?? 0.05;
  const f = headLogits(split);
  const words = wordModel(split);
  const testE = embedDataset(test, split), calE = embedDataset(calibration, split);
  const allIds = Int32Array.from(test.images);
  const logits = words.logits(allIds, test.count);
  const C = words.numClasses;
  const correct = new Uint8Array(test.count);
  const correctIds: number[] = [];
  for (let r = 0; r < test.count; r++) {
    let best = 0;
    for (let j = 1; j < C; j++) if ((logits[r * C + j] as number) > (logits[r * C + best] as number)) best = j;
    if (best === test.labels[r]) { correct[r] = 1; correctIds.push(r); }
  }
  const progress = (stage: string, total: number) => (done: number) => o.onProgress?.({ stage: `${label}: ${stage}`, done, total });

  // 1. Calibrate every detector on clean messages; score the clean test messages.
  const evals = detectors.map((det) => {
    const t0 = Date.now();
    progress(`calibrating ${det.name}`, 1)(0);
    const cal = calibrateDetector(det, f, calE, { fpr: operating, ...(o.fitFraction !== undefined ? { fitFraction: o.fitFraction } : {}), batchSize: bs, bounds: null });
    const cleanScores = scoreDataset(det, f, testE, 0, test.count, bs);
    progress(`calibrating ${det.name}`, 1)(1);
    return { det, cal, cleanScores, seconds: (Date.now() - t0) / 1000, attacks: [] as AttackDetection[], broken: [] as Set<number>[] };
  });

  // 2. Non-adaptive: HotFlip with at most k swaps on the correctly classified messages.
  const k = o.budget.k;
  const t0 = Date.now();
  const plain = hotflip(o.beamWidth !== undefined ? { beamWidth: o.beamWidth } : {});
  const plainIds = new Int32Array(correctIds.length * L);
  const plainFooled = new Uint8Array(correctIds.length);
  const report = progress(`hotflip, ≤ ${k} swaps`, correctIds.length);
  for (let s = 0; s < correctIds.length; s += bs) {
    await checkpointInterrupt(o.signal);
    const part = correctIds.slice(s, s + bs);
    const ids = new Int32Array(part.length * L);
    part.forEach((r, j) => ids.set(idsOf(test, r), j * L));
    const r = runWordAttack(plain, words, ids, Int32Array.from(part, (i) => test.labels[i] as number), {
      budget: o.budget, candidates: o.candidates, indices: part, onMessage: (d) => report(s + d),
    });
    plainIds.set(r.adversarial, s * L);
    plainFooled.set(r.success, s);
  }
  const fooledPos: number[] = [];
  plainFooled.forEach((v, j) => { if (v) fooledPos.push(j); });
  const fooledIds = fooledPos.map((j) => correctIds[j] as number);
  const fooledMsgs = new Int32Array(fooledPos.length * L);
  fooledPos.forEach((j, m) => fooledMsgs.set(plainIds.subarray(j * L, (j + 1) * L), m * L));
  const attackSeconds = (Date.now() - t0) / 1000;
  const plainConfig = { attack: 'hotflip', swaps: k, fraction: o.budget.fraction ?? null, candidates: o.candidates.kind, beamWidth: o.beamWidth ?? 1, success: 'misclassified on the real new message' };
  const plainScores = evals.map((e) => {
    const t1 = Date.now();
    const adv = scoreIds(e.det, split, fooledMsgs, fooledIds.length, bs);
    const { summary, brokenIds } = summarise(`hotflip-${k}`, false, plainConfig, correctIds.length, fooledIds, adv, e.cleanScores, e.cal.calibration, fprs, correct, test.count, attackSeconds + (Date.now() - t1) / 1000);
    e.attacks.push(summary);
    e.broken.push(brokenIds);
    return adv;
  });

  // 3. Adaptive, per detector: the plain message when it already evades, else the weighted searches.
  if (o.adaptive !== null) {
    for (const [di, e] of evals.entries()) {
      const t1 = Date.now();
      const attack = new AdaptiveSwapAttack(split, words, e.det, e.cal.calibration, { ...(o.adaptive ?? {}), budget: o.budget, candidates: o.candidates, seed: o.adaptive?.seed ?? o.seed + 7919 });
      const tau = e.cal.calibration.threshold;
      const flagged = flags(plainScores[di] as Float32Array, e.cal.calibration);
      const plainScore = new Map<number, number>();
      fooledIds.forEach((id, m) => plainScore.set(id, (plainScores[di] as Float32Array)[m] as number));
      const found = new Map<number, { ids: Int32Array; strategy: string }>();
      const perStrategy: Record<string, number> = {};
      fooledIds.forEach((id, m) => {
        if (!flagged[m]) {
          found.set(id, { ids: fooledMsgs.slice(m * L, (m + 1) * L), strategy: 'hotflip' });
          perStrategy['hotflip'] = (perStrategy['hotflip'] ?? 0) + 1;
        }
      });
      // The best misclassified message per example when none evades (lowest real score), for the ROC.
      const detectedBest = new Map<number, Int32Array>();
      fooledIds.forEach((id, m) => { if (flagged[m]) detectedBest.set(id, fooledMsgs.slice(m * L, (m + 1) * L)); });
      const rep = progress(`adaptive word swaps vs ${e.det.kind}`, correctIds.length);
      for (const [j, id] of correctIds.entries()) {
        if (j % 8 === 0) await checkpointInterrupt(o.signal);
        if (!found.has(id)) {
          const r = attack.run(idsOf(test, id), test.labels[id] as number, id);
          if (r.evaded) {
            found.set(id, { ids: r.ids, strategy: r.strategy });
            perStrategy[r.strategy] = (perStrategy[r.strategy] ?? 0) + 1;
          } else if (r.fooled && (!plainScore.has(id) || r.score < (plainScore.get(id) as number))) detectedBest.set(id, r.ids);
        }
        rep(j + 1);
      }
      // Verification on the real messages: budget, legal swaps, fresh prediction, fresh real score.
      const ids = [...new Set([...found.keys(), ...detectedBest.keys()])].sort((a, b) => a - b);
      const msgs = new Int32Array(ids.length * L);
      ids.forEach((id, m) => {
        const adv = (found.get(id)?.ids ?? detectedBest.get(id)) as Int32Array;
        const orig = idsOf(test, id);
        let changed = 0;
        for (let i = 0; i < L; i++) {
          if (adv[i] === orig[i]) continue;
          changed++;
          if (!o.candidates.allows(orig[i] as number, adv[i] as number)) throw new Error(`adaptive word swaps: message ${id}, position ${i}: ${adv[i]} is not a legal ${o.candidates.kind} substitute for ${orig[i]}`);
        }
        if (changed > maxSwaps(o.budget, orig)) throw new Error(`adaptive word swaps: message ${id}: ${changed} words swapped, the budget allows ${maxSwaps(o.budget, orig)}`);
        msgs.set(adv, m * L);
      });
      const advLogits = words.logits(msgs, ids.length);
      const scores = scoreIds(e.det, split, msgs, ids.length, bs);
      const keptIds: number[] = [];
      const keptScores: number[] = [];
      ids.forEach((id, m) => {
        let best = 0;
        for (let j = 1; j < C; j++) if ((advLogits[m * C + j] as number) > (advLogits[m * C + best] as number)) best = j;
        if (best === test.labels[id]) return; // not misclassified after all: nothing to detect
        keptIds.push(id);
        keptScores.push(scores[m] as number);
      });
      const verifiedBroken = keptIds.filter((id, m) => (keptScores[m] as number) <= tau).length;
      const claimed = [...found.keys()].length;
      const { summary, brokenIds } = summarise(`adaptive-swaps-${k}`, true, { ...attack.describe(), claimed, verified: verifiedBroken }, correctIds.length, keptIds, Float32Array.from(keptScores), e.cleanScores, e.cal.calibration, fprs, correct, test.count, (Date.now() - t1) / 1000);
      summary.perStrategy = perStrategy;
      e.attacks.push(summary);
      e.broken.push(brokenIds);
    }
  }

  const detectorsOut: DetectorEvaluation[] = evals.map((e) => {
    let ok = 0;
    for (let i = 0; i < test.count; i++) if (correct[i] && e.broken.every((b) => !b.has(i))) ok++;
    return {
      detector: e.det.name, kind: e.det.kind, config: e.det.describe(), calibration: e.cal.calibration, calibrationSplit: e.cal.split,
      cleanTestScores: scoreStats(e.cleanScores), cleanTestFpr: rateAbove(e.cleanScores, e.cal.calibration.threshold),
      attacks: e.attacks, worstCaseRobustOrDetectedAccuracy: ok / Math.max(test.count, 1), calibrationSeconds: e.seconds,
    };
  });
  return { label, model: modelPath, testExamples: test.count, cleanAccuracy: correctIds.length / Math.max(test.count, 1), detectors: detectorsOut };
}
