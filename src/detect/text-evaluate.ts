/**
 * Detection on a text model: the detectors look at the message's embeddings (the input of the model's
 * head, text-target.ts), their noise is added in embedding space without a box, and they are attacked
 * with real word swaps. Same numbers, same artifact as the image evaluation (evaluate.ts):
 *
 *  - thresholds calibrated on clean messages disjoint from the test messages, for the target FPR;
 *  - the non-adaptive attack is HotFlip with at most k swaps (the verifying word runner: legal swaps
 *    only, success decided on the real new message);
 *  - the adaptive attack (adaptive-swaps.ts) knows the detector and its threshold; a message counts as
 *    broken by it when the plain HotFlip message already evades (λ = 0) or a weighted search finds a
 *    misclassified, unflagged message. Every such message is checked again here: within the budget,
 *    legal swaps, misclassified on a fresh forward pass, real detector score ≤ threshold.
 *
 * As for images, the work is cut in three: the detectors are calibrated once (prepareTextDetection),
 * the test messages are evaluated in fixed groups of `batchSize` rows (textDetectPart, in this thread
 * or in workers: jobs/detect-parallel.ts), and the joined per-message results are summarised.
 */
import type * as tf from '@tensorflow/tfjs';
import { maxSwaps, type SwapBudget } from '../attack/text/budget.js';
import type { CandidateSet } from '../attack/text/candidates.js';
import { hotflip } from '../attack/text/hotflip.js';
import { runWordAttack } from '../attack/text/verify.js';
import type { Dataset } from '../data/dataset.js';
import { UserError } from '../util/errors.js';
import { checkpointInterrupt } from '../util/interrupt.js';
import { AdaptiveSwapAttack, embedIds, type AdaptiveSwapOptions } from './adaptive-swaps.js';
import { calibrateDetector, flags, type Calibration, type CalibrationReport } from './calibrate.js';
import type { Detector } from './detector.js';
import type { DetectorSettings } from './registry.js';
import { detectionResult, type ModelDetectionResult } from './detection-result.js';
import { addCounts, concatF32, joinRowParts, sumOf, type RowPart } from './row-parts.js';
import { textDetectorTarget, type TextDetectorTarget } from './text-target.js';

export interface TextDetectEvalOptions {
  budget: SwapBudget;
  candidates: CandidateSet;
  /** HotFlip's beam width (the non-adaptive attack). */
  beamWidth?: number;
  seed: number;
  fprs?: number[];
  operatingFpr?: number;
  fitFraction?: number;
  /** Messages per group: each group of rows is attacked and scored together, whatever evaluates it. Default 100. */
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

/** A detector fitted and calibrated once, on the clean calibration messages. */
export interface PreparedTextDetector {
  detector: Detector;
  report: CalibrationReport;
  seconds: number;
}

/** The per-message results of the test rows [start, end): everything the summary is computed from. */
export interface TextDetectPart extends RowPart {
  /** HotFlip: the correctly classified rows it fooled (ascending); per detector their scores and the seconds (attack + scoring). */
  plain: { fooledIds: number[]; scores: Float32Array[]; seconds: number[] };
  /**
   * Per detector, its adaptive attack (empty when skipped): the rows whose returned message is
   * misclassified on a fresh pass (ascending) with their real scores, how many the search claimed to
   * break, and per strategy how many.
   */
  adaptive: Array<{ fooledIds: number[]; scores: Float32Array; claimed: number; perStrategy: Record<string, number>; seconds: number }>;
}

/** Message `r`'s ids of a text dataset. */
function idsOf(ds: Dataset, r: number): Int32Array {
  const L = ds.shape[0];
  return Int32Array.from(ds.images.subarray(r * L, (r + 1) * L));
}

/** The messages `rows` of a text dataset, one after the other. */
function idsOfRows(ds: Dataset, rows: readonly number[]): Int32Array {
  const L = ds.shape[0];
  const out = new Int32Array(rows.length * L);
  rows.forEach((r, j) => out.set(ds.images.subarray(r * L, (r + 1) * L), j * L));
  return out;
}

function argmaxRows(logits: Float32Array, n: number, C: number): Int32Array {
  return Int32Array.from({ length: n }, (_, r) => {
    let best = 0;
    for (let j = 1; j < C; j++) if ((logits[r * C + j] as number) > (logits[r * C + best] as number)) best = j;
    return best;
  });
}

/** Scores of n messages' ids under a detector, in chunks. */
function scoreIds(det: Detector, t: TextDetectorTarget, ids: Int32Array, n: number, batchSize: number): Float32Array {
  const L = t.split.sequenceLength;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i += batchSize) {
    const m = Math.min(batchSize, n - i);
    const x = embedIds(t.split, ids.subarray(i * L, (i + m) * L), m);
    try {
      out.set(det.score(t.head, x), i);
    } finally {
      x.dispose();
    }
  }
  return out;
}

/** Fits and calibrates every detector on the clean calibration messages (once, in the calling thread). */
export function prepareTextDetection(t: TextDetectorTarget, label: string, calibration: Dataset, detectors: Detector[], o: TextDetectEvalOptions): PreparedTextDetector[] {
  const bs = o.batchSize ?? 100;
  // Embedded once for all detectors (lookups: the same rows whatever the batch).
  const calE = t.embed(calibration);
  return detectors.map((det) => {
    const t0 = Date.now();
    const stage = `${label}: calibrating ${det.name}`;
    o.onProgress?.({ stage, done: 0, total: 1 });
    const report = calibrateDetector(det, t.head, calE, { fpr: o.operatingFpr ?? 0.05, ...(o.fitFraction !== undefined ? { fitFraction: o.fitFraction } : {}), batchSize: bs, bounds: t.bounds });
    o.onProgress?.({ stage, done: 1, total: 1 });
    return { detector: det, report, seconds: (Date.now() - t0) / 1000 };
  });
}

/** The rows [start, end) cut into groups of `size` from `start`: what one batch holds, whoever runs it. */
function groupsOf(start: number, end: number, size: number): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  for (let a = start; a < end; a += size) out.push([a, Math.min(end, a + size)]);
  return out;
}

/**
 * Evaluates the test messages [start, end) against calibrated detectors: clean predictions and
 * scores, HotFlip (run once, scored by every detector) and each detector's adaptive swap search.
 * Every batch holds (the correct messages of) one group of `batchSize` rows from `start`, and every
 * search is seeded by the message's row, so parts computed apart (in workers) and joined are exactly
 * the part of the whole range.
 */
export async function textDetectPart(
  t: TextDetectorTarget, label: string, test: Dataset, detectors: CalibratedTextDetectors,
  o: TextDetectEvalOptions, range: readonly [number, number] = [0, test.count],
): Promise<TextDetectPart> {
  const [start, end] = range;
  const L = t.split.sequenceLength;
  const C = t.words.numClasses;
  const bs = o.batchSize ?? 100;
  const groups = groupsOf(start, end, bs);
  const progress = (stage: string, total: number) => (done: number) => o.onProgress?.({ stage: `${label}: ${stage}`, done, total });

  // 1. Clean predictions and scores, group by group.
  const pred = new Int32Array(end - start);
  const clean = detectors.map(() => new Float32Array(end - start));
  const cleanSeconds = detectors.map(() => 0);
  for (const [a, b] of groups) {
    const ids = Int32Array.from(test.images.subarray(a * L, b * L));
    pred.set(argmaxRows(t.words.logits(ids, b - a), b - a, C), a - start);
    detectors.forEach((d, i) => {
      const t0 = Date.now();
      (clean[i] as Float32Array).set(scoreIds(d.detector, t, ids, b - a, bs), a - start);
      cleanSeconds[i] = (cleanSeconds[i] as number) + (Date.now() - t0) / 1000;
    });
  }
  const correctIn = ([a, b]: [number, number]): number[] => {
    const out: number[] = [];
    for (let r = a; r < b; r++) if (pred[r - start] === test.labels[r]) out.push(r);
    return out;
  };
  const correctGroups = groups.map(correctIn);
  const nCorrect = correctGroups.reduce((s, g) => s + g.length, 0);

  // 2. Non-adaptive: HotFlip with at most k swaps on the correctly classified messages.
  const k = o.budget.k;
  const plainAttack = hotflip(o.beamWidth !== undefined ? { beamWidth: o.beamWidth } : {});
  const report = progress(`hotflip, ≤ ${k} swaps`, nCorrect);
  const fooledIds: number[] = [];
  const fooledMsgs = new Map<number, Int32Array>();
  const plainScores: Float32Array[][] = detectors.map(() => []);
  const plainSeconds = detectors.map(() => 0);
  let done = 0;
  for (const group of correctGroups) {
    if (group.length === 0) continue;
    await checkpointInterrupt(o.signal);
    const t0 = Date.now();
    const r = await runWordAttack(plainAttack, t.words, idsOfRows(test, group), Int32Array.from(group, (i) => test.labels[i] as number), {
      budget: o.budget, candidates: o.candidates, indices: group, onMessage: (d) => report(done + d), ...(o.signal !== undefined ? { signal: o.signal } : {}),
    });
    const attackSeconds = (Date.now() - t0) / 1000;
    const fooled = group.filter((_, j) => r.success[j] === 1);
    const msgs = new Int32Array(fooled.length * L);
    let m = 0;
    group.forEach((id, j) => {
      if (r.success[j] !== 1) return;
      const msg = r.adversarial.slice(j * L, (j + 1) * L);
      fooledMsgs.set(id, msg);
      msgs.set(msg, (m++) * L);
    });
    fooledIds.push(...fooled);
    detectors.forEach((d, i) => {
      const t1 = Date.now();
      plainScores[i]?.push(scoreIds(d.detector, t, msgs, fooled.length, bs));
      plainSeconds[i] = (plainSeconds[i] as number) + attackSeconds + (Date.now() - t1) / 1000;
    });
    done += group.length;
  }
  const plain = { fooledIds, scores: plainScores.map(concatF32), seconds: plainSeconds };

  // 3. Adaptive, per detector: the plain message when it already evades, else the weighted searches.
  const adaptive: TextDetectPart['adaptive'] = [];
  if (o.adaptive !== null) {
    for (const [di, d] of detectors.entries()) {
      const t1 = Date.now();
      const attack = adaptiveSwapAttack(t, d.detector, d.calibration, o);
      const plainScore = new Map<number, number>();
      fooledIds.forEach((id, m) => plainScore.set(id, (plain.scores[di] as Float32Array)[m] as number));
      const plainFlags = flags(plain.scores[di] as Float32Array, d.calibration);
      const flagged = new Set(fooledIds.filter((_, m) => plainFlags[m] === 1));
      const perStrategy: Record<string, number> = {};
      const keptIds: number[] = [];
      const keptScores: number[] = [];
      let claimed = 0;
      const rep = progress(`adaptive word swaps vs ${d.detector.kind}`, nCorrect);
      let doneA = 0;
      for (const group of correctGroups) {
        // The message each row ends with: an evading one (found), else the misclassified one with the lowest real score.
        const found = new Map<number, Int32Array>();
        const detectedBest = new Map<number, Int32Array>();
        for (const id of group) {
          const m = fooledMsgs.get(id);
          if (m === undefined) continue;
          if (flagged.has(id)) detectedBest.set(id, m);
          else {
            found.set(id, m);
            perStrategy['hotflip'] = (perStrategy['hotflip'] ?? 0) + 1;
          }
        }
        for (const id of group) {
          if (doneA % 8 === 0) await checkpointInterrupt(o.signal);
          if (!found.has(id)) {
            const r = attack.run(idsOf(test, id), test.labels[id] as number, id);
            if (r.evaded) {
              found.set(id, r.ids);
              perStrategy[r.strategy] = (perStrategy[r.strategy] ?? 0) + 1;
            } else if (r.fooled && (!plainScore.has(id) || r.score < (plainScore.get(id) as number))) detectedBest.set(id, r.ids);
          }
          rep(++doneA);
        }
        claimed += found.size;
        // Verification on the real messages: budget, legal swaps, fresh prediction, fresh real score.
        const ids = group.filter((id) => found.has(id) || detectedBest.has(id));
        const msgs = new Int32Array(ids.length * L);
        ids.forEach((id, m) => {
          const adv = (found.get(id) ?? detectedBest.get(id)) as Int32Array;
          checkSwaps(adv, idsOf(test, id), id, o);
          msgs.set(adv, m * L);
        });
        const advPred = argmaxRows(t.words.logits(msgs, ids.length), ids.length, C);
        const scores = scoreIds(d.detector, t, msgs, ids.length, bs);
        ids.forEach((id, m) => {
          if (advPred[m] === test.labels[id]) return; // not misclassified after all: nothing to detect
          keptIds.push(id);
          keptScores.push(scores[m] as number);
        });
      }
      adaptive.push({ fooledIds: keptIds, scores: Float32Array.from(keptScores), claimed, perStrategy, seconds: (Date.now() - t1) / 1000 });
    }
  }
  return { start, end, pred, clean, cleanSeconds, plain, adaptive };
}

function adaptiveSwapAttack(t: TextDetectorTarget, det: Detector, calibration: Calibration, o: TextDetectEvalOptions): AdaptiveSwapAttack {
  return new AdaptiveSwapAttack(t.split, t.words, det, calibration, { ...(o.adaptive ?? {}), budget: o.budget, candidates: o.candidates, seed: o.adaptive?.seed ?? o.seed + 7919 });
}

/** An adaptive message must be within the budget and use legal swaps only: anything else is a bug in the search. */
function checkSwaps(adv: Int32Array, orig: Int32Array, id: number, o: TextDetectEvalOptions): void {
  let changed = 0;
  for (let i = 0; i < orig.length; i++) {
    if (adv[i] === orig[i]) continue;
    changed++;
    if (!o.candidates.allows(orig[i] as number, adv[i] as number)) throw new Error(`adaptive word swaps: message ${id}, position ${i}: ${adv[i]} is not a legal ${o.candidates.kind} substitute for ${orig[i]}`);
  }
  if (changed > maxSwaps(o.budget, orig)) throw new Error(`adaptive word swaps: message ${id}: ${changed} words swapped, the budget allows ${maxSwaps(o.budget, orig)}`);
}

/** Parts covering contiguous ranges, joined in row order (what one part over all the rows would hold, timings added). */
export function joinTextDetectParts(parts: readonly TextDetectPart[]): TextDetectPart {
  const { sorted, first, rows } = joinRowParts(parts, 'text detection');
  return {
    ...rows,
    plain: {
      fooledIds: sorted.flatMap((p) => p.plain.fooledIds),
      scores: first.plain.scores.map((_, d) => concatF32(sorted.map((p) => p.plain.scores[d] as Float32Array))),
      seconds: first.plain.seconds.map((_, d) => sumOf(sorted.map((p) => p.plain.seconds[d] as number))),
    },
    adaptive: first.adaptive.map((_, d) => {
      const each = sorted.map((p) => p.adaptive[d] as TextDetectPart['adaptive'][number]);
      return {
        fooledIds: each.flatMap((a) => a.fooledIds), scores: concatF32(each.map((a) => a.scores)), claimed: sumOf(each.map((a) => a.claimed)),
        perStrategy: addCounts(each.map((a) => a.perStrategy)), seconds: sumOf(each.map((a) => a.seconds)),
      };
    }),
  };
}

/** The detection result of a text model from its prepared detectors and the (joined) part of all its test messages. */
export function summariseTextDetection(
  t: TextDetectorTarget, label: string, modelPath: string, test: Dataset, prepared: readonly PreparedTextDetector[], part: TextDetectPart, o: TextDetectEvalOptions,
): ModelDetectionResult {
  const k = o.budget.k;
  const plainConfig = { attack: 'hotflip', swaps: k, fraction: o.budget.fraction ?? null, candidates: o.candidates.kind, beamWidth: o.beamWidth ?? 1, success: 'misclassified on the real new message' };
  return detectionResult(label, modelPath, test, prepared, part, o.fprs ?? [0.01, 0.05], (d, sum, cal) => {
    const hot = sum(`hotflip-${k}`, false, plainConfig, { fooledIds: part.plain.fooledIds, scores: part.plain.scores[d] as Float32Array, seconds: part.plain.seconds[d] as number });
    const ad = part.adaptive[d];
    if (ad === undefined) return [hot];
    // Claimed by the search vs verified here on the real messages (misclassified and score ≤ τ).
    const described = adaptiveSwapAttack(t, (prepared[d] as PreparedTextDetector).detector, cal, o).describe();
    const verified = ad.scores.filter((s) => s <= cal.threshold).length;
    return [hot, sum(`adaptive-swaps-${k}`, true, { ...described, claimed: ad.claimed, verified }, ad)];
  });
}

/** The calibrated detectors as textDetectPart takes them. */
export type CalibratedTextDetectors = ReadonlyArray<{ detector: Detector; calibration: Calibration }>;

/**
 * Evaluates detectors on a text model, in this thread: `model` is the loaded model or its detector
 * target (textDetectorTarget). `test` and `calibration` hold token ids (disjoint messages); `detectors`
 * are fresh, with noise meant for embeddings (textDetectorSettings). With workers:
 * evaluateTextDetectionParallel (jobs/detect-parallel.ts).
 */
export function evaluateTextDetection(
  model: tf.LayersModel | TextDetectorTarget, label: string, modelPath: string, test: Dataset, calibration: Dataset, detectors: Detector[], o: TextDetectEvalOptions,
): Promise<ModelDetectionResult> {
  return runTextDetection(model, label, modelPath, test, calibration, detectors, o, (t, calibrated) => textDetectPart(t, label, test, calibrated, o));
}

/** Checks, calibrates here, has `rows` evaluate all the test messages (in this thread or in workers), summarises. */
export async function runTextDetection(
  model: tf.LayersModel | TextDetectorTarget, label: string, modelPath: string, test: Dataset, calibration: Dataset, detectors: Detector[], o: TextDetectEvalOptions,
  rows: (t: TextDetectorTarget, calibrated: CalibratedTextDetectors) => Promise<TextDetectPart>,
): Promise<ModelDetectionResult> {
  if (test.vocabulary === undefined || calibration.vocabulary === undefined) throw new UserError(`${test.name}: text detection needs token ids (a text dataset)`);
  const t = 'split' in model && 'words' in model ? model : textDetectorTarget(model);
  const prepared = prepareTextDetection(t, label, calibration, detectors, o);
  const part = await rows(t, prepared.map((p) => ({ detector: p.detector, calibration: p.report.calibration })));
  return summariseTextDetection(t, label, modelPath, test, prepared, part, o);
}
