/**
 * `alp detect eval --shard K/N`: every shard fits and calibrates each detector on the whole calibration
 * set (the same seeded fit in every shard, so the same thresholds and target pool), and evaluates the
 * test rows [⌊(K−1)·n/N⌋, ⌊K·n/N⌋) of each model exactly as the unsharded run does (attacks seeded per
 * example, batches of --batch-size rows). The shard records, per model and detector, the calibration,
 * the clean score of each of its rows and each attack's fooled rows with their scores; `alp merge`
 * joins them in row order and computes every number with detectionResult, as the unsharded run does.
 */
import type { Dataset } from '../data/dataset.js';
import { subset } from '../data/dataset.js';
import type { Calibration } from '../detect/calibrate.js';
import type { DetectorConfig } from '../detect/detector.js';
import { detectionResult, type AttackRows } from '../detect/detection-result.js';
import type { ModelDetectionResult, RowPart } from '../detect/evaluate.js';
import type { ShardRecord } from '../artifacts/shard.js';
import { UserError } from '../util/errors.js';
import { buildDetectionReport, type DetectionReport } from '../artifacts/detect-eval.js';
import type { Detector } from '../detect/detector.js';

/** One attack's rows on the shard's examples (ids are rows of the whole test set). */
export interface DetectShardAttack {
  attack: string;
  adaptive: boolean;
  config: Record<string, unknown>;
  fooledIds: number[];
  scores: number[];
  seconds: number;
  perStrategy?: Record<string, number>;
  /** Text, adaptive: how many the swap search claimed to break (its config's `claimed`, summed by merge). */
  claimed?: number;
}

export interface DetectShardDetector {
  detector: string;
  kind: string;
  config: DetectorConfig;
  calibration: Calibration;
  calibrationSplit: { fit: [number, number] | null; threshold: [number, number] };
  /** Seconds of fitting and calibrating (every shard pays them once). */
  seconds: number;
  clean: number[];
  cleanSeconds: number;
  attacks: DetectShardAttack[];
}

export interface DetectShardModel {
  label: string;
  model: string;
  weightsHash: string | null;
  /** The shard's rows: true labels and the model's clean predictions. */
  labels: number[];
  pred: number[];
  detectors: DetectShardDetector[];
}

/** detect-eval.json's `shard` field. */
export interface DetectEvalShard extends ShardRecord {
  fprs: number[];
  models: DetectShardModel[];
}

type PlainRows = { fooledIds: number[]; scores: Float32Array[]; seconds: number[] };
type AdaptiveRows = { fooledIds: number[]; scores: Float32Array; seconds: number; perStrategy: Record<string, number>; claimed?: number };
/** A detection part of either modality: images have a list of plain attacks, text one (HotFlip). */
export type AnyDetectPart = RowPart & { plain: PlainRows | PlainRows[]; adaptive: AdaptiveRows[] };

const plainList = (p: AnyDetectPart): PlainRows[] => (Array.isArray(p.plain) ? p.plain : [p.plain]);

/** The part of rows [start, end) as if those rows were the whole test set (ids from 0), for the shard's own numbers. */
export function rebasePart<P extends AnyDetectPart>(part: P): P {
  const shift = (ids: number[]): number[] => ids.map((i) => i - part.start);
  const plain = Array.isArray(part.plain) ? part.plain.map((a) => ({ ...a, fooledIds: shift(a.fooledIds) })) : { ...part.plain, fooledIds: shift(part.plain.fooledIds) };
  return { ...part, start: 0, end: part.end - part.start, plain, adaptive: part.adaptive.map((a) => ({ ...a, fooledIds: shift(a.fooledIds) })) };
}

/** The shard's test rows as a dataset of their own. */
export function shardRows(test: Dataset, part: RowPart): Dataset {
  return subset(test, part.start, part.end - part.start);
}

/**
 * What a shard records of one model: `own` is its summary of the shard's rows (rebasePart), whose
 * attack list per detector names and configures the part's rows in order (plain attacks, then the
 * adaptive one).
 */
export function shardModel(
  own: ModelDetectionResult, part: AnyDetectPart, test: Dataset, prepared: ReadonlyArray<{ report: { calibration: Calibration; split: DetectShardDetector['calibrationSplit'] }; seconds: number }>,
  weightsHash: string | null,
): DetectShardModel {
  const plain = plainList(part);
  return {
    label: own.label, model: own.model, weightsHash, labels: Array.from(test.labels.subarray(part.start, part.end)), pred: Array.from(part.pred),
    detectors: own.detectors.map((d, k) => {
      const p = prepared[k];
      const ad = part.adaptive[k];
      if (p === undefined || d.attacks.length !== plain.length + (ad !== undefined ? 1 : 0)) throw new Error(`detect eval shard: ${d.detector}'s attacks do not match the part's rows`);
      return {
        detector: d.detector, kind: d.kind, config: d.config, calibration: p.report.calibration, calibrationSplit: p.report.split, seconds: p.seconds,
        clean: Array.from(part.clean[k] as Float32Array), cleanSeconds: part.cleanSeconds[k] as number,
        attacks: d.attacks.map((a, j) => {
          const rows = j < plain.length ? plain[j] as PlainRows : ad as AdaptiveRows;
          const scores = rows.scores instanceof Float32Array ? rows.scores : rows.scores[k] as Float32Array;
          const seconds = typeof rows.seconds === 'number' ? rows.seconds : rows.seconds[k] as number;
          const extra = j < plain.length ? {} : { perStrategy: (rows as AdaptiveRows).perStrategy, ...((rows as AdaptiveRows).claimed !== undefined ? { claimed: (rows as AdaptiveRows).claimed as number } : {}) };
          return { attack: a.attack, adaptive: a.adaptive, config: a.config, fooledIds: [...rows.fooledIds], scores: Array.from(scores), seconds, ...extra };
        }),
      };
    }),
  };
}

/** Every model's result over all the shards' rows (shards in row order, all of one run). */
export function mergeDetectModels(shards: ReadonlyArray<{ file: string; shard: DetectEvalShard }>): ModelDetectionResult[] {
  const first = shards[0];
  if (first === undefined) throw new UserError('alp merge: no detect eval shards');
  return first.shard.models.map((m0, i) => {
    const each = shards.map((s) => {
      const m = s.shard.models[i];
      if (m === undefined || m.label !== m0.label || m.detectors.length !== m0.detectors.length) throw new UserError(`${s.file}: field shard.models[${i}]: expected model ${m0.label} with ${m0.detectors.length} detectors (as in ${first.file})`);
      return m;
    });
    const labels = Int32Array.from(each.flatMap((m) => m.labels));
    const part: RowPart = {
      start: 0, end: labels.length, pred: Int32Array.from(each.flatMap((m) => m.pred)),
      clean: m0.detectors.map((_, d) => Float32Array.from(each.flatMap((m) => (m.detectors[d] as DetectShardDetector).clean))),
      cleanSeconds: m0.detectors.map((_, d) => each.reduce((a, m) => a + (m.detectors[d] as DetectShardDetector).cleanSeconds, 0)),
    };
    const dets = m0.detectors.map((d0, d) => {
      shards.forEach((s, k) => {
        const c = (each[k]?.detectors[d] as DetectShardDetector).calibration;
        if (c.threshold !== d0.calibration.threshold) throw new UserError(`${s.file}: field shard.models[${i}].detectors[${d}].calibration.threshold: ${c.threshold}, but ${d0.calibration.threshold} in ${first.file}: shards calibrated on other data or settings`);
      });
      return { detector: { name: d0.detector, kind: d0.kind as Detector['kind'], describe: () => d0.config }, report: { calibration: d0.calibration, split: d0.calibrationSplit }, seconds: d0.seconds };
    });
    const r = detectionResult(m0.label, m0.model, { count: labels.length, labels }, dets, part, first.shard.fprs, (d, sum, cal) =>
      (m0.detectors[d] as DetectShardDetector).attacks.map((a0, j) => {
        const rows = each.map((m) => (m.detectors[d] as DetectShardDetector).attacks[j] as DetectShardAttack);
        const scores = Float32Array.from(rows.flatMap((a) => a.scores));
        const joined: AttackRows = { fooledIds: rows.flatMap((a) => a.fooledIds), scores, seconds: rows.reduce((a, b) => a + b.seconds, 0) };
        if (a0.perStrategy !== undefined) {
          joined.perStrategy = {};
          for (const a of rows) for (const [s, v] of Object.entries(a.perStrategy ?? {})) joined.perStrategy[s] = (joined.perStrategy[s] ?? 0) + v;
        }
        // Text: what the search claimed (summed) and what the real detector confirms (recounted on all rows).
        const config = a0.claimed !== undefined
          ? { ...a0.config, claimed: rows.reduce((a, b) => a + (b.claimed ?? 0), 0), verified: scores.filter((s) => s <= cal.threshold).length }
          : a0.config;
        return sum(a0.attack, a0.adaptive, config, joined);
      }));
    return { ...r, weightsHash: m0.weightsHash };
  });
}

/**
 * The merged detect-eval.json: the first shard's setup (its seconds the shards' sum), every model's
 * result over all rows (mergeDetectModels), and the side-by-side summary, as the unsharded run writes it.
 */
export function mergeDetectEval(shards: ReadonlyArray<{ file: string; json: Record<string, unknown>; shard: DetectEvalShard }>): DetectionReport {
  for (const { file, shard } of shards) {
    const n = shard.end - shard.start;
    if (!Array.isArray(shard.models) || !Array.isArray(shard.fprs)) throw new UserError(`${file}: field shard.models: expected the per-model rows of a detect eval shard`);
    shard.models.forEach((m, i) => {
      if (!Array.isArray(m.labels) || m.labels.length !== n || !Array.isArray(m.pred) || m.pred.length !== n) throw new UserError(`${file}: field shard.models[${i}].labels/pred: expected ${n} rows each`);
      m.detectors.forEach((d, k) => {
        if (!Array.isArray(d.clean) || d.clean.length !== n) throw new UserError(`${file}: field shard.models[${i}].detectors[${k}].clean: expected ${n} scores`);
        for (const a of d.attacks) {
          if (a.fooledIds.length !== a.scores.length || a.fooledIds.some((id) => id < shard.start || id >= shard.end)) throw new UserError(`${file}: field shard.models[${i}].detectors[${k}].attacks (${a.attack}): expected fooled rows in [${shard.start}, ${shard.end}) with one score each`);
        }
      });
    });
  }
  const first = shards[0] as (typeof shards)[number];
  const setup = (first.json['setup'] ?? {}) as Record<string, unknown>;
  const seconds = shards.reduce((a, s) => a + (typeof (s.json['setup'] as Record<string, unknown> | undefined)?.['seconds'] === 'number' ? (s.json['setup'] as Record<string, number>)['seconds'] as number : 0), 0);
  return buildDetectionReport(mergeDetectModels(shards), { ...setup, seconds });
}
