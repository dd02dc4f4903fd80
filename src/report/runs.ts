/**
 * Reading run folders for `alp report`: model.json, train.json, eval.json, audit.json and the demo's
 * report.json, each optional. Everything read is normalised into plain typed records; a field of the
 * wrong type is dropped (and noted) rather than trusted, so a hand-edited or older file still gives
 * a page. A missing folder, a folder with none of the files, or malformed JSON is a UserError that
 * names the path.
 */
import { existsSync, statSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { UserError } from '../util/errors.js';
import { COMPARE_FILE } from '../compare/result.js';
import { parseAudit, type AuditData } from '../artifacts/audit.js';
import { parseDemo, type DemoEntry } from '../artifacts/demo.js';
import { parseEval, type EvalData } from '../artifacts/eval.js';
import { compareMethodFolders } from '../artifacts/compare.js';
import { readJsonObject, type Obj, type Threat } from '../artifacts/fields.js';
import { parseModel, type ModelData } from '../artifacts/model.js';
import { parseTrain, type TrainData } from '../artifacts/train.js';
import { parseQuickAudit, QUICK_AUDIT_FILE, type QuickAuditData } from '../artifacts/quick-audit.js';
import { weightsHash } from '../model/fingerprint.js';

// The parsed records, re-exported for the report's modules.
export type * from '../artifacts/index.js';
export { readJsonObject, isObj } from '../artifacts/fields.js';
export { parseAudit, parseEval, parseModel, parseTrain, evalResultOf } from '../artifacts/index.js';

export interface RunData {
  name: string;
  folder: string;
  /** The run files found, by file name. */
  files: string[];
  model: ModelData | null;
  train: TrainData | null;
  eval: EvalData | null;
  audit: AuditData | null;
  /** The demo's quick audit (quick-audit.json): shown where there is no audit.json, labelled as the quick version. */
  quick: QuickAuditData | null;
  demo: DemoEntry | null;
  /** The training config: train.json's, else model.json's metadata, else the demo's. */
  config: Obj | null;
  configSource: string | null;
  /** Things the page should say were odd about the inputs. */
  warnings: string[];
}

export const RUN_FILES = ['model.json', 'train.json', 'eval.json', 'audit.json'] as const;
export const DEMO_FILE = 'report.json';

// ---------------------------------------------------------------- folders

interface RunSource {
  folder: string;
  name: string | null;
  demo: DemoEntry | null;
}

function isDir(p: string): boolean {
  try {
    return statSync(p).isDirectory();
  } catch {
    return false;
  }
}

function hasRunFiles(folder: string): boolean {
  return RUN_FILES.some((f) => existsSync(join(folder, f)));
}

/** A demo report.json: an object whose `models` is an array. Anything else named report.json is ignored. */
function demoEntries(folder: string): DemoEntry[] | null {
  const path = join(folder, DEMO_FILE);
  if (!existsSync(path)) return null;
  const j = readJsonObject(path);
  if (!Array.isArray(j['models'])) return null;
  return parseDemo(j, path);
}

/** Expands the command line's RUN paths: a demo folder becomes its models, a file its folder. */
export function resolveRunSources(paths: string[]): RunSource[] {
  if (paths.length === 0) throw new UserError('report: expected at least one RUN folder');
  const out: RunSource[] = [];
  for (const p of paths) {
    if (!existsSync(p)) throw new UserError(`${p}: no such run folder`);
    const folder = isDir(p) ? p : dirname(p);
    const demo = demoEntries(folder);
    if (demo !== null && demo.length > 0) {
      for (const d of demo) {
        const recorded = d.folder;
        // The demo records sub-folders relative to where it ran, so only their names are trusted: the
        // models are looked for beside report.json, never relative to the current directory.
        const candidates = [...(recorded !== null ? [join(folder, basename(recorded))] : []), join(folder, d.name)];
        const sub = candidates.find((c) => isDir(c) && hasRunFiles(c)) ?? candidates.find(isDir) ?? join(folder, d.name);
        out.push({ folder: sub, name: d.name, demo: d });
      }
      if (!hasRunFiles(folder)) continue;
    }
    const compared = compareEntries(folder);
    if (compared.length > 0) {
      // An `alp compare` folder: one run per method, in the comparison's order.
      for (const m of compared) out.push({ folder: join(folder, m), name: m, demo: null });
      continue;
    }
    if (!hasRunFiles(folder)) {
      throw new UserError(`${p}: not a run folder: found none of ${RUN_FILES.join(', ')} (nor a demo ${DEMO_FILE} or ${COMPARE_FILE} listing models)`);
    }
    out.push({ folder, name: null, demo: null });
  }
  return out;
}

/** The method folders an `alp compare` folder's compare.json lists (those present), or none. */
function compareEntries(folder: string): string[] {
  const file = join(folder, COMPARE_FILE);
  if (!existsSync(file)) return [];
  return compareMethodFolders(readJsonObject(file), file, folder, (dir) => isDir(dir) && hasRunFiles(dir));
}

function uniqueNames(sources: RunSource[]): string[] {
  const base = sources.map((s) => s.name ?? (basename(resolve(s.folder)) || s.folder));
  const names = base.map((b, i) => {
    if (base.filter((x) => x === b).length === 1) return b;
    const parent = basename(dirname(resolve(sources[i]!.folder)));
    return parent !== '' ? `${parent}/${b}` : b;
  });
  const seen = new Map<string, number>();
  return names.map((n) => {
    const k = (seen.get(n) ?? 0) + 1;
    seen.set(n, k);
    return k === 1 ? n : `${n} #${k}`;
  });
}

function loadRun(src: RunSource, name: string): RunData {
  const warnings: string[] = [];
  const files: string[] = [];
  const read = (f: string): Obj | null => {
    const path = join(src.folder, f);
    if (!existsSync(path)) return null;
    files.push(f);
    return readJsonObject(path);
  };
  const mj = read('model.json');
  const tj = read('train.json');
  const ej = read('eval.json');
  const aj = read('audit.json');
  const qj = read(QUICK_AUDIT_FILE);
  const model = mj === null ? null : parseModel(mj, join(src.folder, 'model.json'));
  const train = tj === null ? null : parseTrain(tj, join(src.folder, 'train.json'));
  let ev = ej === null ? null : parseEval(ej, join(src.folder, 'eval.json'));
  const audit = aj === null ? null : parseAudit(aj, join(src.folder, 'audit.json'), warnings);
  const quick = qj === null ? null : parseQuickAudit(qj, join(src.folder, QUICK_AUDIT_FILE), warnings);
  if (src.demo !== null) {
    files.push(`../${DEMO_FILE}`);
    // The demo's own numbers stand in for an eval.json the folder lacks.
    if (ev === null && src.demo.eval !== null) ev = src.demo.eval;
    else if (ev !== null && ev.threat === null && src.demo.threat !== null) ev.threat = src.demo.threat;
  }
  for (const a of [audit, quick]) {
    if (a?.adversarial && !existsSync(join(src.folder, a.adversarial.file))) {
      warnings.push(`${a.file} lists adversarial images in ${a.adversarial.file}, which is missing; no example images`);
      a.adversarial = null;
    }
  }
  let config: Obj | null = null;
  let configSource: string | null = null;
  for (const [c, s] of [[train?.config, 'train.json'], [model?.config, 'model.json'], [src.demo?.config, DEMO_FILE]] as const) {
    if (c !== undefined && c !== null) {
      config = c;
      configSource = s;
      break;
    }
  }
  if (ev !== null && ev.attacks.length === 0 && ev.cleanAccuracy === null) warnings.push(`${ev.file}: no result found in it`);
  // Numbers measured on other weights than the model beside them (retrained since, or copied in).
  if (mj !== null) {
    const here = weightsHash(join(src.folder, 'model.json'));
    for (const rec of [ev, audit, quick]) {
      if (rec === null || rec.weightsHash === null || here === null || rec.weightsHash === here) continue;
      warnings.push(`${rec.file}: measured on weights sha256 ${rec.weightsHash.slice(0, 12)}…, but the model beside it has ${here.slice(0, 12)}…: these numbers are not this model's`);
    }
  }
  return { name, folder: src.folder, files, model, train, eval: ev, audit, quick, demo: src.demo, config, configSource, warnings };
}

/** Reads every RUN (demo folders expanded into their models). */
export function loadRuns(paths: string[]): RunData[] {
  const sources = resolveRunSources(paths);
  const names = uniqueNames(sources);
  return sources.map((s, i) => loadRun(s, names[i] as string));
}

/** The run's dataset name, from whichever file says. */
export function datasetOf(r: RunData): string | null {
  const c = r.config?.['dataset'];
  return r.train?.data?.dataset ?? r.audit?.dataset ?? r.eval?.dataset ?? (typeof c === 'string' ? c : null);
}

/** The threat model its robustness numbers are for. */
export function runThreat(r: RunData): Threat | null {
  return r.eval?.threat ?? r.audit?.threat ?? r.demo?.threat ?? null;
}
