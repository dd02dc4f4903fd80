/**
 * The detection results (`alp detect eval`'s detect-eval.json) for the report: found beside the run
 * folders or in the folder given on the command line, reduced to the side-by-side rows that matter —
 * each detector against the strongest non-adaptive attack and against the adaptive one.
 */
import { existsSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { DETECT_EVAL_FILE, parseDetectEval, type DetectionRow } from '../artifacts/detect-eval.js';
import { readJsonObject } from '../artifacts/fields.js';
import { weightsHash } from '../model/fingerprint.js';

export type { DetectionMetrics, DetectionRow } from '../artifacts/detect-eval.js';

export interface DetectionResults {
  file: string;
  rows: DetectionRow[];
  /** Images (and audio), or text messages attacked by real word swaps (at most `swaps` per message). */
  modality: 'images' | 'text';
  swaps: number | null;
  /** Models whose weights changed since the file measured them. */
  warnings: string[];
}

/** Reads one detect-eval.json (through artifacts/); a malformed file is a UserError naming it. */
export function readDetection(path: string): DetectionResults {
  const d = parseDetectEval(readJsonObject(path), path);
  const warnings: string[] = [];
  for (const m of d.models) {
    if (m.weightsHash === null || !existsSync(m.model)) continue;
    const json = statSync(m.model).isDirectory() ? join(m.model, 'model.json') : m.model;
    const here = existsSync(json) ? weightsHash(json) : null;
    if (here !== null && here !== m.weightsHash) {
      warnings.push(`${path}: ${m.label ?? m.model} was measured on weights sha256 ${m.weightsHash.slice(0, 12)}…, but ${json} now has ${here.slice(0, 12)}…: these numbers are not that model's`);
    }
  }
  return { file: path, rows: d.rows, warnings, modality: d.modality, swaps: d.swaps };
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
    const file = join(d, DETECT_EVAL_FILE);
    if (existsSync(file)) out.push(readDetection(file));
  }
  return out;
}
