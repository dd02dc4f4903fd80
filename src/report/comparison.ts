/**
 * `alp compare`'s compare.json for the report: found beside the run folders (the comparison's own folder
 * holds one folder per method) or in a folder given on the command line, reduced to the rows the page
 * shows — budget and cost per method, audited robustness, and accuracy off the training distribution.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { COMPARE_FILE, COMPARE_SCHEMA, type CompareResult } from '../compare/compare.js';
import { UserError } from '../util/errors.js';

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

/** Reads one compare.json; a malformed or foreign file is a UserError naming it. */
export function readComparison(path: string): ComparisonResults {
  let d: CompareResult;
  try {
    d = JSON.parse(readFileSync(path, 'utf8')) as CompareResult;
  } catch (e) {
    throw new UserError(`${path}: malformed JSON: ${(e as Error).message}`);
  }
  if (d === null || typeof d !== 'object' || d.schema !== COMPARE_SCHEMA || !Array.isArray(d.methods)) {
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

/** compare.json files in the given paths and the run folders' parents, each once. */
export function findComparison(paths: string[], runFolders: string[]): ComparisonResults[] {
  const dirs = new Set<string>();
  for (const p of paths) dirs.add(resolve(existsSync(p) && statSync(p).isDirectory() ? p : dirname(p)));
  for (const f of runFolders) dirs.add(resolve(dirname(f)));
  const out: ComparisonResults[] = [];
  for (const d of dirs) {
    const file = join(d, COMPARE_FILE);
    if (existsSync(file)) out.push(readComparison(file));
  }
  return out;
}
