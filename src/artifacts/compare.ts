/**
 * compare.json: written by `alp compare` (src/jobs/compare.ts, whose CompareResult is its type) and
 * read here for `alp report`: the rows the page shows — budget and cost per method, audited robustness,
 * and accuracy off the training distribution — and the method folders it lists.
 */
import { join } from 'node:path';
import { COMPARE_SCHEMA, type CompareResult } from '../compare/result.js';
import { UserError } from '../util/errors.js';
import type { Obj } from './fields.js';

export interface ComparisonRow {
  method: string;
  steps: number;
  secondsPerStep: number;
  trainSeconds: number;
  complete: boolean;
  clean: number;
  robust: number;
  /** Masking findings that failed / warned in the method's audit. */
  failed: string[];
  warned: string[];
}

export interface ComparisonResults {
  file: string;
  dataset: string;
  eps: number;
  norm: string;
  budgetSeconds: number;
  auditVersion: string;
  testExamples: number;
  rows: ComparisonRow[];
  /** Accuracy per method and shift (clean first), for the table and the chart. */
  shifts: Array<{ method: string; shift: string; accuracy: number }>;
  ood: Array<{ method: string; dataset: string; confidentShare: number; meanConfidence: number; threshold: number }>;
  best: { methods: string[]; worstCaseAccuracy: number } | null;
}

/** compare.json reduced to what the report shows; a foreign file is a UserError naming it. */
export function parseCompare(j: Obj, path: string): ComparisonResults {
  const d = j as unknown as CompareResult;
  if (d.schema !== COMPARE_SCHEMA || !Array.isArray(d.methods)) {
    throw new UserError(`${path}: not an 'alp compare' result (expected schema '${COMPARE_SCHEMA}' with a methods list)`);
  }
  const rows: ComparisonRow[] = [];
  const shifts: ComparisonResults['shifts'] = [];
  const ood: ComparisonResults['ood'] = [];
  for (const m of d.methods) {
    const findings = m.audit?.findings ?? [];
    rows.push({
      method: m.method, steps: m.steps, secondsPerStep: m.pace?.secondsPerStep ?? NaN, trainSeconds: m.trainSeconds, complete: m.complete === true,
      clean: m.audit?.cleanAccuracy ?? NaN, robust: m.audit?.worstCaseAccuracy ?? NaN,
      failed: findings.filter((f) => f.status === 'fail').map((f) => f.id), warned: findings.filter((f) => f.status === 'warn').map((f) => f.id),
    });
    const g = m.generalisation;
    if (g === undefined || g === null) continue;
    shifts.push({ method: m.method, shift: 'clean', accuracy: g.clean.accuracy });
    for (const s of g.shifts ?? []) shifts.push({ method: m.method, shift: s.label, accuracy: s.accuracy });
    if (g.ood !== null && g.ood !== undefined) {
      ood.push({ method: m.method, dataset: g.ood.dataset, confidentShare: g.ood.confidentShare, meanConfidence: g.ood.meanConfidence, threshold: g.ood.threshold });
    }
  }
  return {
    file: path, dataset: d.dataset, eps: d.threat?.eps ?? NaN, norm: d.threat?.norm ?? '', budgetSeconds: d.budgetSeconds,
    auditVersion: d.auditVersion, testExamples: d.testExamples, rows, shifts, ood, best: d.best !== null && d.best !== undefined && Array.isArray(d.best.methods) ? d.best : null,
  };
}


/** The method folders compare.json lists that are plain names inside `folder` and exist there. */
export function compareMethodFolders(j: Obj, file: string, folder: string, isRun: (dir: string) => boolean): string[] {
  const methods = j['methods'];
  if (!Array.isArray(methods)) throw new UserError(`${file}: expected a 'methods' list`);
  // Only plain names inside the folder: a compare.json cannot point the report elsewhere.
  return methods.map((m) => (m as { folder?: unknown }).folder).filter((f): f is string => typeof f === 'string' && /^[\w.-]+$/.test(f) && f !== '..' && isRun(join(folder, f)));
}
