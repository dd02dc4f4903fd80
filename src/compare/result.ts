/**
 * What `alp compare` finds, owned here so every reader (artifacts/compare.ts, the report) and the job
 * that runs the comparison (jobs/compare.ts) share one schema: compare.json's fields, a method's audit
 * summary, the best method, and the shifts that apply to the data.
 */
import type { ThreatModel } from '../attack/threat-model.js';
import type { Dataset } from '../data/index.js';
import { DEFAULT_SHIFTS, type ShiftSpec } from '../data/shift.js';
import type { DataRecord } from '../data/digest.js';
import type { AuditResult, AuditVersion } from '../eval/audit.js';
import type { GeneralisationResult } from '../eval/generalisation.js';
import type { Method, TrainConfig } from '../train/config.js';
import { OptionError } from '../util/errors.js';
import type { Pace } from './budget.js';

export const COMPARE_SCHEMA = 'alp.compare/1';

export interface MethodAudit {
  cleanAccuracy: number;
  worstCaseAccuracy: number;
  cascade: Array<{ attack: string; robustAccuracyAfter: number; fooledHere: number; seconds: number }>;
  epsSweep: AuditResult['epsSweep'];
  findings: Array<{ id: string; status: string; title: string; detail: string }>;
  seconds: number;
}

export interface MethodResult {
  method: Method;
  folder: string;
  config: TrainConfig;
  pace: Pace;
  steps: number;
  trainSeconds: number;
  /** CPU seconds of training in the session that finished it (a resumed method counts its last session only). */
  trainCpuSeconds?: number;
  /** False when training stopped before its steps (interrupted); such a model is not comparable. */
  complete: boolean;
  audit: MethodAudit;
  generalisation: GeneralisationResult;
}

export interface CompareResult {
  schema: typeof COMPARE_SCHEMA;
  dataset: string;
  /** The test examples audited and shifted: content digest and source (a resume on other data is refused). */
  data?: DataRecord;
  threat: ThreatModel;
  preset: string;
  seed: number;
  budgetSeconds: number;
  auditVersion: AuditVersion;
  testExamples: number;
  /** The methods asked for, in order (the configuration a resume must match; `methods` holds the finished ones). */
  methodList?: Method[];
  /** The shifts asked for (JSON of the list, or 'default'), and the OOD set's name (null: none). */
  shifts?: string;
  ood?: string | null;
  /** The command line that produced it, when run from the CLI. */
  command?: string;
  methods: MethodResult[];
  /** The method(s) with the highest audited worst-case accuracy among complete runs (several on a tie), once all have run. */
  best: { methods: Method[]; worstCaseAccuracy: number } | null;
}

export const COMPARE_FILE = 'compare.json';

export function summariseAudit(r: AuditResult): MethodAudit {
  return {
    cleanAccuracy: r.cleanAccuracy,
    worstCaseAccuracy: r.worstCaseAccuracy,
    cascade: r.cascade.map((s) => ({ attack: s.attack, robustAccuracyAfter: s.robustAccuracyAfter, fooledHere: s.fooledHere, seconds: s.seconds })),
    epsSweep: r.epsSweep,
    findings: r.findings.map((f) => ({ id: f.id, status: f.status, title: f.title, detail: f.detail })),
    seconds: r.seconds,
  };
}

export function bestOf(methods: MethodResult[]): CompareResult['best'] {
  const done = methods.filter((m) => m.complete);
  if (done.length === 0) return null;
  const top = Math.max(...done.map((m) => m.audit.worstCaseAccuracy));
  return { methods: done.filter((m) => m.audit.worstCaseAccuracy === top).map((m) => m.method), worstCaseAccuracy: top };
}

/**
 * The shifts that apply to this data, checked before any training: none for text (token ids cannot be
 * rotated or blurred), noise and contrast for audio (a one-row waveform has no rotation), all for images.
 * Asked-for shifts that do not apply are refused, not skipped.
 */
export function shiftsFor(test: Dataset, asked: readonly ShiftSpec[] | undefined): readonly ShiftSpec[] | undefined {
  const text = test.vocabulary !== undefined, audio = test.sampleRate !== undefined;
  if (!text && !audio) return asked;
  const fits = (s: ShiftSpec): boolean => !text && (s.kind === 'noise' || s.kind === 'contrast');
  const bad = (asked ?? []).find((s) => !fits(s));
  if (bad !== undefined) throw new OptionError(`{shifts}: ${bad.kind} does not apply to ${test.name} (${text ? 'text: token ids take no shifts' : 'audio: only noise and contrast'})`);
  return asked ?? DEFAULT_SHIFTS.filter(fits);
}
