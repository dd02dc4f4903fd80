/**
 * `alp compare`'s compare.json for the report: found beside the run folders (the comparison's own folder
 * holds one folder per method) or in a folder given on the command line, reduced to the rows the page
 * shows — budget and cost per method, audited robustness, and accuracy off the training distribution.
 */
import { existsSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { parseCompare, type ComparisonResults } from '../artifacts/compare.js';
import { readJsonObject } from '../artifacts/fields.js';
import { COMPARE_FILE } from '../compare/result.js';

export type { ComparisonRow, ComparisonResults } from '../artifacts/compare.js';

/** Reads one compare.json (through artifacts/); a malformed or foreign file is a UserError naming it. */
export function readComparison(path: string): ComparisonResults {
  return parseCompare(readJsonObject(path), path);
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
