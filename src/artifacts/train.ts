/**
 * train.json, as `alp train` writes it (src/train/run.ts) and `alp report` reads it.
 */
import { arr, isObj, num, obj, str, versionsOf, type Obj } from './fields.js';

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
  config: Obj | null;
  fineTunedFrom: string | null;
  data: { dataset: string | null; trainExamples: number | null; valExamples: number | null } | null;
  steps: number | null;
  epochs: EpochPoint[];
  evals: ValPoint[];
  trainSeconds: number | null;
  versions: Record<string, string>;
  /** The command line `alp train` was given, when train.json recorded it. */
  argv: string[] | null;
}

export function valPointOf(v: unknown): ValPoint | null {
  if (!isObj(v)) return null;
  const step = num(v['step']);
  if (step === null) return null;
  return { step, epoch: num(v['epoch']), cleanAcc: num(v['cleanAcc']), robustAcc: num(v['robustAcc']), examples: num(v['examples']) };
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
    config: obj(j['config']),
    fineTunedFrom: str(j['fineTunedFrom']),
    data: data === null ? null : { dataset: str(data['dataset']), trainExamples: num(data['trainExamples']), valExamples: num(data['valExamples']) },
    steps: num(j['steps']),
    epochs,
    evals,
    trainSeconds: num(j['trainSeconds']),
    versions: versionsOf(j['versions']),
    argv,
  };
}
