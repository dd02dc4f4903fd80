/**
 * The detection results (`alp detect eval`'s detect-eval.json) for the report: found beside the run
 * folders or in the folder given on the command line, reduced to the side-by-side rows that matter —
 * each detector against the strongest non-adaptive attack and against the adaptive one.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { DETECT_EVAL_SCHEMA } from '../detect/evaluate.js';
import { weightsHash } from '../model/fingerprint.js';
import { UserError } from '../util/errors.js';

export interface DetectionMetrics {
  attackSuccessRate: number;
  rocAuc: number;
  tprAt1: number;
  tprAt5: number;
  robustOrDetectedAccuracy: number;
}

export interface DetectionRow {
  model: string;
  detector: string;
  strongestNonAdaptive: string;
  nonAdaptive: DetectionMetrics;
  adaptive: DetectionMetrics | null;
}

export interface DetectionResults {
  file: string;
  rows: DetectionRow[];
  /** Models whose weights changed since the file measured them. */
  warnings: string[];
}

const FILE = 'detect-eval.json';

function num(v: unknown): number {
  return typeof v === 'number' && Number.isFinite(v) ? v : NaN;
}

function metrics(v: unknown): DetectionMetrics | null {
  if (typeof v !== 'object' || v === null) return null;
  const m = v as Record<string, unknown>;
  return {
    attackSuccessRate: num(m['attackSuccessRate']), rocAuc: num(m['rocAuc']), tprAt1: num(m['tprAt1']), tprAt5: num(m['tprAt5']),
    robustOrDetectedAccuracy: num(m['robustOrDetectedAccuracy']),
  };
}

/** Reads one detect-eval.json; a malformed file is a UserError naming it. */
export function readDetection(path: string): DetectionResults {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new UserError(`${path}: malformed JSON: ${(e as Error).message}`);
  }
  const d = raw as Record<string, unknown>;
  if (d['schema'] !== DETECT_EVAL_SCHEMA || !Array.isArray(d['sideBySide'])) {
    throw new UserError(`${path}: not an 'alp detect eval' result (expected schema '${DETECT_EVAL_SCHEMA}' with a sideBySide list)`);
  }
  const rows: DetectionRow[] = [];
  for (const r of d['sideBySide'] as unknown[]) {
    if (typeof r !== 'object' || r === null) continue;
    const o = r as Record<string, unknown>;
    const non = metrics(o['nonAdaptive']);
    if (non === null) continue;
    rows.push({
      model: String(o['model'] ?? ''), detector: String(o['detector'] ?? ''), strongestNonAdaptive: String(o['strongestNonAdaptive'] ?? ''),
      nonAdaptive: non, adaptive: metrics(o['adaptive']),
    });
  }
  const warnings: string[] = [];
  for (const m of Array.isArray(d['models']) ? (d['models'] as unknown[]) : []) {
    if (typeof m !== 'object' || m === null) continue;
    const rec = m as Record<string, unknown>;
    const recorded = rec['weightsHash'];
    const modelPath = rec['model'];
    if (typeof recorded !== 'string' || typeof modelPath !== 'string' || !existsSync(modelPath)) continue;
    const json = statSync(modelPath).isDirectory() ? join(modelPath, 'model.json') : modelPath;
    const here = existsSync(json) ? weightsHash(json) : null;
    if (here !== null && here !== recorded) {
      warnings.push(`${path}: ${String(rec['label'] ?? modelPath)} was measured on weights sha256 ${recorded.slice(0, 12)}…, but ${json} now has ${here.slice(0, 12)}…: these numbers are not that model's`);
    }
  }
  return { file: path, rows, warnings };
}

/** detect-eval.json files in the given paths and the run folders (and their parents), each once. */
export function findDetection(paths: string[], runFolders: string[]): DetectionResults[] {
  const dirs = new Set<string>();
  for (const p of paths) dirs.add(resolve(existsSync(p) && statSync(p).isDirectory() ? p : dirname(p)));
  for (const f of runFolders) {
    dirs.add(resolve(f));
    dirs.add(resolve(dirname(f)));
  }
  const out: DetectionResults[] = [];
  for (const d of dirs) {
    const file = join(d, FILE);
    if (existsSync(file)) out.push(readDetection(file));
  }
  return out;
}
