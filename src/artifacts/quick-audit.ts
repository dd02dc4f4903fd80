/**
 * quick-audit.json and quick-examples.f32: what `alp demo` writes beside each model's eval.json so its
 * page has pictures, an ε curve and masking findings (eval/quick-audit.ts). It shares audit.json's
 * field names, so the report reads it with the audit's parser, but it is never taken for an audit:
 * its numbers are not a worst case, and the page labels it as the quick version.
 */
import type { ThreatModel } from '../attack/threat-model.js';
import type { Finding } from '../eval/diagnostics.js';
import type { CascadeStep } from '../eval/cascade.js';
import type { QuickSweepConfig, ShownExample } from '../eval/quick-audit.js';
import type { SweepPoint } from '../eval/evaluate.js';
import { writeFileAtomic, writeJsonAtomic } from '../util/atomic.js';
import { parseAudit, type AuditData } from './audit.js';
import { arr, isObj, num, str, type Obj } from './fields.js';

export const QUICK_AUDIT_SCHEMA = 'alp.quick-audit/1';
export const QUICK_AUDIT_FILE = 'quick-audit.json';
export const QUICK_EXAMPLES_FILE = 'quick-examples.f32';

/** One shown example (eval/quick-audit.ts). */
export type QuickExample = ShownExample;

/** quick-audit.json as written. */
export interface QuickAuditArtifact {
  schema: typeof QUICK_AUDIT_SCHEMA;
  command: string;
  model: string | null;
  weightsHash: string | null;
  dataset: string;
  threat: ThreatModel;
  /** The evaluation's examples (the findings that use it); the ε curve uses the first `sweep.examples`. */
  examples: number;
  cleanAccuracy: number;
  /** The evaluation read as a cascade (eval/quick-audit.ts `evalCascade`). */
  cascade: CascadeStep[];
  epsSweep: SweepPoint[];
  sweep: QuickSweepConfig & { monotone: true };
  findings: Finding[];
  notRun: Array<{ id: string; title: string; why: string }>;
  examplesFile: {
    file: string; shape: number[]; clean: number[]; labels: number[]; attack: string[]; cleanPred: number[]; advPred: number[]; fooled: boolean[];
  } | null;
  /** Seconds of the ε curve and of the model-level checks (the rest comes from the evaluation). */
  seconds: number;
  seed: number;
  versions: Record<string, string>;
}

export function quickAuditArtifact(
  a: Omit<QuickAuditArtifact, 'schema' | 'examplesFile'>, shown: readonly QuickExample[], shape: readonly number[],
): { artifact: QuickAuditArtifact; examples: Float32Array } {
  const row = shape.reduce((x, y) => x * y, 1);
  const data = new Float32Array(shown.length * row);
  shown.forEach((e, j) => data.set(e.data, j * row));
  return {
    artifact: {
      schema: QUICK_AUDIT_SCHEMA, ...a,
      examplesFile: shown.length === 0 ? null : {
        file: QUICK_EXAMPLES_FILE, shape: [shown.length, ...shape], clean: shown.map((e) => e.id), labels: shown.map((e) => e.label),
        attack: shown.map((e) => e.attack), cleanPred: shown.map((e) => e.cleanPred), advPred: shown.map((e) => e.advPred), fooled: shown.map((e) => e.fooled),
      },
    },
    examples: data,
  };
}

/** Writes quick-examples.f32 then quick-audit.json. */
export function writeQuickAudit(json: string, examplesPath: string, a: { artifact: QuickAuditArtifact; examples: Float32Array }): void {
  writeFileAtomic(examplesPath, new Uint8Array(a.examples.buffer, a.examples.byteOffset, a.examples.byteLength));
  writeJsonAtomic(json, a.artifact);
}

/** quick-audit.json as the report reads it: the audit's fields, plus what the quick version ran and left out. */
export interface QuickAuditData extends AuditData {
  command: string | null;
  sweepConfig: { examples: number | null; steps: number | null; losses: string[]; radii: number[] } | null;
  notRun: Array<{ id: string; title: string; why: string }>;
}

export function parseQuickAudit(j: Obj, file: string, warnings: string[] = []): QuickAuditData {
  const s = j['sweep'];
  const notRun: QuickAuditData['notRun'] = [];
  for (const x of arr(j['notRun'])) {
    if (!isObj(x)) continue;
    const id = str(x['id']);
    if (id !== null) notRun.push({ id, title: str(x['title']) ?? id, why: str(x['why']) ?? '' });
  }
  return {
    ...parseAudit(j, file, warnings),
    command: str(j['command']),
    sweepConfig: isObj(s) ? {
      examples: num(s['examples']), steps: num(s['steps']),
      losses: arr(s['losses']).filter((x): x is string => typeof x === 'string'), radii: arr(s['radii']).filter((x): x is number => typeof x === 'number'),
    } : null,
    notRun,
  };
}
