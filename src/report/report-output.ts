/**
 * Where `alp report` writes and what it may replace. One RUN folder: its own `report.html` (beside the
 * run's files, as `alp compare` writes it). Several: the folder they share, when they share one below
 * the file-system root. An existing page is replaced only by a page of the same runs (the same report
 * again, newer numbers), through the one output rule (artifacts/outputs.ts guardReplace): a page of
 * other runs, or a file that is no alp report, is refused (exit 6) unless forced.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, parse, relative, resolve, sep } from 'node:path';
import { guardReplace, type ResultIdentity } from '../artifacts/outputs.js';
import { OptionError } from '../util/errors.js';

export const REPORT_FILE = 'report.html';

/** The default page for these RUN paths (see the module comment); an OptionError when they share no folder. */
export function defaultReportPath(runs: readonly string[]): string {
  const folderOf = (r: string): string => (existsSync(r) && !statSync(r).isDirectory() ? dirname(r) : r);
  if (runs.length === 1) return join(folderOf(runs[0] as string), REPORT_FILE);
  const dirs = runs.map((r) => resolve(folderOf(r)));
  let common = dirs[0] as string;
  while (!dirs.every((d) => d === common || d.startsWith(common.endsWith(sep) ? common : common + sep))) common = dirname(common);
  if (common === parse(common).root) throw new OptionError(`{out}: the runs ${runs.join(', ')} share no folder to write ${REPORT_FILE} in; give {out}`);
  return join(common, REPORT_FILE);
}

/** The runs a page shows, as recorded in it: relative to the page's folder, so a moved folder keeps its page. */
export function reportRuns(out: string, runs: readonly string[]): string[] {
  return runs.map((r) => relative(dirname(resolve(out)), resolve(r)) || '.');
}

function identity(runs: readonly string[]): ResultIdentity {
  return { weightsHash: null, settings: { runs: [...runs].join(', ') } };
}

/** What the page at `out` shows (its runs), null when it is no alp report, undefined when nothing is there. */
function existingReport(out: string, dataPath: string): ResultIdentity | null | undefined {
  if (!existsSync(out)) return undefined;
  if (statSync(out).isDirectory()) return null;
  try {
    const head = readFileSync(out, 'utf8').slice(0, 2000);
    if (!/<meta name="generator" content="alp[ "]/.test(head)) return null;
    const j = JSON.parse(readFileSync(dataPath, 'utf8')) as { output?: { runs?: unknown } };
    const runs = j.output?.runs;
    return Array.isArray(runs) && runs.every((r) => typeof r === 'string') ? identity(runs as string[]) : null;
  } catch {
    return null;
  }
}

/** Refuses (exit 6) to replace a page of other runs, or a file that is no alp report, at `out` unless `force`. */
export function guardReport(out: string, dataPath: string, runs: readonly string[], force = false): void {
  if (force) return;
  const have = existingReport(out, dataPath);
  if (have === undefined) return;
  guardReplace(out, 'alp report', have, identity(reportRuns(out, runs)), { weights: false });
}
