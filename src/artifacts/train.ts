/**
 * train.json: what a training run (src/jobs/train.ts: `alp train`, the demo, compare) writes beside its
 * model, and how `alp report` and the CLI read it back. Version 1 adds the schema field; files without
 * one (written before it) are read the same way.
 */
import type { ValidationSplit } from '../train/val-split.js';
import { existsSync } from 'node:fs';
import type { TrainConfig } from '../train/config.js';
import type { SourceRecord } from '../data/source.js';
import type { DataDefaults } from '../train/data-defaults.js';
import type { TrainState } from '../train/trainer.js';
import { writeJsonAtomic } from '../util/atomic.js';
import { arr, isObj, num, obj, readJsonObject, str, versionsOf, type Obj } from './fields.js';

export const TRAIN_SCHEMA = 'alp.train/1';
export const TRAIN_FILE = 'train.json';

/** train.json as written. */
export interface TrainArtifact {
  schema: typeof TRAIN_SCHEMA;
  /** Without `arch` when a user's model was fine-tuned (no built-in architecture was used). */
  config: TrainConfig | Omit<TrainConfig, 'arch'>;
  /** The model.json fine-tuned, or null for a model built from `config.arch`. */
  fineTunedFrom: string | null;
  /** The model trained: a built-in architecture, or the user's model file with its class and name. */
  model?: TrainedModel;
  /** Fine-tuning only: whether a final softmax was removed first. */
  strippedSoftmax?: boolean;
  /** Notices given during the run (e.g. a stripped softmax). */
  warnings: string[];
  /** The value range the fine-tuned model was trained on (an adapter in front maps [0,1] onto it). */
  inputRange?: [number, number];
  /**
   * `validation`: how the held-out examples were chosen (jobs/train.ts), absent when none were; `source`: a
   * user's own data (path, format, loader options, class names, input shape, kind), so later commands read
   * it again; `defaults`: the config fields whose default came from the data's kind.
   */
  data: { dataset: string; trainExamples: number; valExamples: number; validation?: ValidationSplit; source?: SourceRecord; defaults?: DataDefaults };
  steps: number;
  /** Data-parallel worker threads (1 = in-thread); not part of the config, it changes only summation order. */
  workers?: number;
  /** False for a run stopped early (Ctrl-C, time budget) that `--resume` continues. */
  complete: boolean;
  epochs: TrainState['epochs'];
  evals: TrainState['evals'];
  trainSeconds: number;
}

export type TrainedModel =
  | { source: 'built-in'; arch: string }
  | { source: 'file'; path: string; format: string; className: string | null; name: string | null };

/** One short label for a trained model: the built-in architecture, or `path (Class 'name')`. */
export function trainedModelLabel(m: TrainedModel): string {
  if (m.source === 'built-in') return m.arch;
  const what = [m.className, m.name !== null ? `'${m.name}'` : null].filter((x) => x !== null).join(' ');
  return what === '' ? m.path : `${m.path} (${what})`;
}

/** `meta` is what the caller adds (versions, the command line as `argv`); it cannot replace the fields above. */
export function trainArtifact(a: Omit<TrainArtifact, 'schema'>, meta: Record<string, unknown> = {}): TrainArtifact {
  return { ...meta, ...a, schema: TRAIN_SCHEMA };
}

export function writeTrainArtifact(path: string, a: TrainArtifact): void {
  writeJsonAtomic(path, a);
}

/** The train.json at `path` parsed, or null when there is none; a damaged file is a UserError naming it. */
export function readTrainFile(path: string): TrainData | null {
  return existsSync(path) ? parseTrain(readJsonObject(path), path) : null;
}

export interface EpochPoint {
  /** 0-based, as the trainer counts. */
  epoch: number;
  loss: number | null;
  parts: Record<string, number>;
  seconds: number | null;
}

export interface ValPoint {
  step: number;
  epoch: number | null;
  cleanAcc: number | null;
  robustAcc: number | null;
  examples: number | null;
}

export interface TrainData {
  file: string;
  schema: string | null;
  config: Obj | null;
  fineTunedFrom: string | null;
  /** The trained model's label (trainedModelLabel), null when train.json does not record it. */
  modelLabel: string | null;
  /** `source`: a user's data as data/source.ts SourceRecord records it (raw; data/source.ts sourceOfRecord reads it). */
  /** `defaults`: the fields the data's kind chose (train/data-defaults.ts DataDefaults, raw). */
  data: { dataset: string | null; trainExamples: number | null; valExamples: number | null; source: Obj | null; defaults: Obj | null } | null;
  steps: number | null;
  epochs: EpochPoint[];
  evals: ValPoint[];
  trainSeconds: number | null;
  versions: Record<string, string>;
  /** The command line `alp train` was given, when train.json recorded it. */
  argv: string[] | null;
  /** False for a run stopped early; null when not recorded. */
  complete: boolean | null;
}

export function valPointOf(v: unknown): ValPoint | null {
  if (!isObj(v)) return null;
  const step = num(v['step']);
  if (step === null) return null;
  return { step, epoch: num(v['epoch']), cleanAcc: num(v['cleanAcc']), robustAcc: num(v['robustAcc']), examples: num(v['examples']) };
}

function modelLabelOf(v: unknown): string | null {
  if (!isObj(v)) return null;
  if (v['source'] === 'built-in') return str(v['arch']);
  const path = str(v['path']);
  if (v['source'] !== 'file' || path === null) return null;
  return trainedModelLabel({ source: 'file', path, format: str(v['format']) ?? 'layers-model', className: str(v['className']), name: str(v['name']) });
}

export function parseTrain(j: Obj, file: string): TrainData {
  const epochs: EpochPoint[] = [];
  for (const e of arr(j['epochs'])) {
    if (!isObj(e)) continue;
    const epoch = num(e['epoch']);
    if (epoch === null) continue;
    const parts: Record<string, number> = {};
    if (isObj(e['parts'])) for (const [k, v] of Object.entries(e['parts'])) if (num(v) !== null) parts[k] = v as number;
    epochs.push({ epoch, loss: num(e['loss']), parts, seconds: num(e['seconds']) });
  }
  const evals = arr(j['evals']).map(valPointOf).filter((p): p is ValPoint => p !== null);
  const data = obj(j['data']);
  const argv = Array.isArray(j['argv']) && j['argv'].every((a) => typeof a === 'string') ? (j['argv'] as string[]) : null;
  return {
    file,
    schema: str(j['schema']),
    config: obj(j['config']),
    fineTunedFrom: str(j['fineTunedFrom']),
    modelLabel: modelLabelOf(j['model']),
    data: data === null ? null : { dataset: str(data['dataset']), trainExamples: num(data['trainExamples']), valExamples: num(data['valExamples']), source: obj(data['source']), defaults: obj(data['defaults']) },
    steps: num(j['steps']),
    epochs,
    evals,
    trainSeconds: num(j['trainSeconds']),
    versions: versionsOf(j['versions']),
    argv,
    complete: typeof j['complete'] === 'boolean' ? j['complete'] : null,
  };
}
