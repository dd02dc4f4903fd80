/**
 * Reading run folders for `alp report`: model.json, train.json, eval.json, audit.json and the demo's
 * report.json, each optional. Everything read is normalised into plain typed records; a field of the
 * wrong type is dropped (and noted) rather than trusted, so a hand-edited or older file still gives
 * a page. A missing folder, a folder with none of the files, or malformed JSON is a UserError that
 * names the path.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { UserError } from '../util/errors.js';

export type Obj = Record<string, unknown>;

export interface Threat {
  norm: string;
  eps: number;
}

export interface AttackResult {
  name: string;
  config: Obj | null;
  robustAccuracy: number | null;
  successRate: number | null;
  maxPerturbation: number | null;
  seconds: number | null;
}

export interface SweepPoint {
  eps: number;
  robustAccuracy: number;
}

export interface EvalData {
  file: string;
  model: string | null;
  dataset: string | null;
  threat: Threat | null;
  examples: number | null;
  cleanAccuracy: number | null;
  attacks: AttackResult[];
  worstCaseAccuracy: number | null;
  epsSweep: SweepPoint[];
  seconds: number | null;
  versions: Record<string, string>;
}

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

export interface CascadeStage {
  attack: string;
  config: Obj | null;
  robustAccuracyAfter: number | null;
  fooledHere: number | null;
  seconds: number | null;
}

export type FindingStatus = 'pass' | 'warn' | 'fail' | 'unknown';

export interface FindingData {
  id: string;
  title: string;
  status: FindingStatus;
  detail: string;
  evidence: Obj;
}

/** Where the audit's adversarial images are and what they are. Arrays are aligned with `clean`. */
export interface ExamplesMeta {
  file: string;
  shape: [number, number, number, number];
  /** Test-set indices, in the order of the images in `file`. */
  clean: number[];
  labels: Array<number | null>;
  cleanPred: Array<number | null>;
  advPred: Array<number | null>;
  attack: Array<string | null>;
}

export interface AuditData {
  file: string;
  model: string | null;
  dataset: string | null;
  threat: Threat | null;
  version: string | null;
  examples: number | null;
  cleanAccuracy: number | null;
  cascade: CascadeStage[];
  worstCaseAccuracy: number | null;
  epsSweep: SweepPoint[];
  findings: FindingData[];
  adversarial: ExamplesMeta | null;
  seconds: number | null;
  seed: number | null;
  versions: Record<string, string>;
}

export interface ModelData {
  file: string;
  layers: number | null;
  params: number | null;
  /** userDefinedMetadata.alp.config */
  config: Obj | null;
}

/** One model of a demo's report.json. */
export interface DemoEntry {
  file: string;
  name: string;
  /** The sub-folder as the demo recorded it (relative to where the demo ran). */
  folder: string | null;
  config: Obj | null;
  trainSeconds: number | null;
  evalSeconds: number | null;
  validation: ValPoint | null;
  eval: EvalData | null;
  threat: Threat | null;
  suite: Obj[];
  totalSeconds: number | null;
  versions: Record<string, string>;
}

export interface RunData {
  name: string;
  folder: string;
  /** The run files found, by file name. */
  files: string[];
  model: ModelData | null;
  train: TrainData | null;
  eval: EvalData | null;
  audit: AuditData | null;
  demo: DemoEntry | null;
  /** The training config: train.json's, else model.json's metadata, else the demo's. */
  config: Obj | null;
  configSource: string | null;
  /** Things the page should say were odd about the inputs. */
  warnings: string[];
}

export const RUN_FILES = ['model.json', 'train.json', 'eval.json', 'audit.json'] as const;
export const DEMO_FILE = 'report.json';

// ---------------------------------------------------------------- lenient field readers

export const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);
const str = (v: unknown): string | null => (typeof v === 'string' ? v : null);
const arr = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);
const obj = (v: unknown): Obj | null => (isObj(v) ? v : null);

function versionsOf(v: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (!isObj(v)) return out;
  for (const [k, x] of Object.entries(v)) if (typeof x === 'string' || typeof x === 'number' || typeof x === 'boolean') out[k] = String(x);
  return out;
}

function threatOf(v: unknown): Threat | null {
  if (!isObj(v)) return null;
  const norm = str(v['norm']);
  const eps = num(v['eps']);
  return norm !== null && eps !== null ? { norm, eps } : null;
}

function sweepOf(v: unknown): SweepPoint[] {
  const out: SweepPoint[] = [];
  for (const p of arr(v)) {
    if (!isObj(p)) continue;
    const eps = num(p['eps']);
    const acc = num(p['robustAccuracy']);
    if (eps !== null && acc !== null) out.push({ eps, robustAccuracy: acc });
  }
  return out.sort((a, b) => a.eps - b.eps);
}

function valPointOf(v: unknown): ValPoint | null {
  if (!isObj(v)) return null;
  const step = num(v['step']);
  if (step === null) return null;
  return { step, epoch: num(v['epoch']), cleanAcc: num(v['cleanAcc']), robustAcc: num(v['robustAcc']), examples: num(v['examples']) };
}

function numbersOrNull(v: unknown, n: number): Array<number | null> {
  const a = arr(v);
  return Array.from({ length: n }, (_, i) => num(a[i]));
}

// ---------------------------------------------------------------- files

/** Parses a JSON file that must hold an object; the error names the file and what went wrong. */
export function readJsonObject(path: string): Obj {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new UserError(`${path}: cannot read: ${e instanceof Error ? e.message : String(e)}`);
  }
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    throw new UserError(`${path}: malformed JSON: ${e instanceof Error ? e.message : String(e)}`);
  }
  if (!isObj(v)) throw new UserError(`${path}: expected a JSON object, found ${Array.isArray(v) ? 'an array' : v === null ? 'null' : typeof v}`);
  return v;
}

/** An eval result (`result` of eval.json, or `eval` of a demo model). */
export function evalResultOf(r: Obj, file: string, outer: Obj = {}): EvalData {
  const attacks: AttackResult[] = [];
  for (const a of arr(r['attacks'])) {
    if (!isObj(a)) continue;
    const name = str(a['name']);
    if (name === null) continue;
    attacks.push({
      name, config: obj(a['config']), robustAccuracy: num(a['robustAccuracy']), successRate: num(a['successRate']),
      maxPerturbation: num(a['maxPerturbation']), seconds: num(a['seconds']),
    });
  }
  return {
    file,
    model: str(outer['model']),
    dataset: str(outer['dataset']),
    threat: threatOf(outer['threat']),
    examples: num(r['examples']),
    cleanAccuracy: num(r['cleanAccuracy']),
    attacks,
    worstCaseAccuracy: num(r['worstCaseAccuracy']),
    epsSweep: sweepOf(outer['epsSweep']),
    seconds: num(outer['seconds']),
    versions: versionsOf(outer['versions']),
  };
}

export function parseEval(j: Obj, file: string): EvalData {
  // eval.json keeps the numbers under `result`; accept them at the top level too.
  const r = obj(j['result']) ?? j;
  return evalResultOf(r, file, j);
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

const STATUSES: readonly FindingStatus[] = ['pass', 'warn', 'fail'];

function examplesMetaOf(v: unknown, file: string, warnings: string[]): ExamplesMeta | null {
  if (!isObj(v)) return null;
  const f = str(v['file']);
  const shape = arr(v['shape']).map(num);
  if (f === null || shape.length !== 4 || shape.some((d) => d === null || !Number.isInteger(d) || d < 1)) {
    warnings.push(`${file}: the adversarial examples entry has no usable file and [n,h,w,c] shape; no example images`);
    return null;
  }
  const [n] = shape as [number, number, number, number];
  const clean = arr(v['clean']).map(num);
  if (clean.length !== n || clean.some((i) => i === null || !Number.isInteger(i) || i < 0)) {
    warnings.push(`${file}: the adversarial examples list ${clean.length} test indices for ${n} images; no example images`);
    return null;
  }
  const attacks = arr(v['attack']);
  return {
    file: f,
    shape: shape as [number, number, number, number],
    clean: clean as number[],
    labels: numbersOrNull(v['labels'], n),
    cleanPred: numbersOrNull(v['cleanPred'], n),
    advPred: numbersOrNull(v['advPred'], n),
    attack: Array.from({ length: n }, (_, i) => str(attacks[i])),
  };
}

export function parseAudit(j: Obj, file: string, warnings: string[] = []): AuditData {
  const cascade: CascadeStage[] = [];
  for (const s of arr(j['cascade'])) {
    if (!isObj(s)) continue;
    const attack = str(s['attack']) ?? str(s['name']);
    if (attack === null) continue;
    cascade.push({ attack, config: obj(s['config']), robustAccuracyAfter: num(s['robustAccuracyAfter']), fooledHere: num(s['fooledHere']), seconds: num(s['seconds']) });
  }
  const findings: FindingData[] = [];
  for (const f of arr(j['findings'])) {
    if (!isObj(f)) continue;
    const status = str(f['status']);
    findings.push({
      id: str(f['id']) ?? '',
      title: str(f['title']) ?? str(f['id']) ?? '(untitled finding)',
      status: STATUSES.includes(status as FindingStatus) ? (status as FindingStatus) : 'unknown',
      detail: str(f['detail']) ?? '',
      evidence: obj(f['evidence']) ?? {},
    });
  }
  // The images' description: `examples` when it is an object (then the count lives elsewhere), or one
  // of the names the audit writer may use for it.
  const metaRaw = [j['examples'], j['examplesFile'], j['adversarialExamples'], j['exampleImages']].find((v) => isObj(v));
  return {
    file,
    model: str(j['model']),
    dataset: str(j['dataset']),
    threat: threatOf(j['threat']),
    version: str(j['version']),
    examples: num(j['examples']) ?? num(j['count']),
    cleanAccuracy: num(j['cleanAccuracy']),
    cascade,
    worstCaseAccuracy: num(j['worstCaseAccuracy']),
    epsSweep: sweepOf(j['epsSweep']),
    findings,
    adversarial: examplesMetaOf(metaRaw, file, warnings),
    seconds: num(j['seconds']),
    seed: num(j['seed']),
    versions: versionsOf(j['versions']),
  };
}

export function parseModel(j: Obj, file: string): ModelData {
  const topo = obj(j['modelTopology']);
  const cfg = obj(topo?.['config']) ?? obj(obj(topo?.['model_config'])?.['config']);
  const layers = Array.isArray(cfg?.['layers']) ? (cfg['layers'] as unknown[]).length : null;
  let params: number | null = null;
  for (const group of arr(j['weightsManifest'])) {
    for (const w of arr(obj(group)?.['weights'])) {
      const shape = arr(obj(w)?.['shape']).map(num);
      if (shape.some((d) => d === null)) continue;
      params = (params ?? 0) + (shape as number[]).reduce((a, d) => a * d, 1);
    }
  }
  const alp = obj(obj(j['userDefinedMetadata'])?.['alp']);
  return { file, layers, params, config: obj(alp?.['config']) };
}

function parseDemo(j: Obj, file: string): DemoEntry[] {
  const threat = threatOf(j['threat']);
  const suite = arr(j['suite']).filter(isObj);
  const versions = versionsOf(j['versions']);
  const totalSeconds = num(j['totalSeconds']);
  const dataset = str(j['dataset']);
  return arr(j['models']).filter(isObj).map((m, i) => {
    const ev = obj(m['eval']);
    return {
      file,
      name: str(m['name']) ?? `model ${i + 1}`,
      config: obj(m['config']),
      trainSeconds: num(m['trainSeconds']),
      evalSeconds: num(m['evalSeconds']),
      validation: valPointOf(m['validation']),
      eval: ev === null ? null : evalResultOf(ev, file, { threat: j['threat'], dataset, seconds: m['evalSeconds'], versions: j['versions'] }),
      threat, suite, totalSeconds, versions,
      folder: str(m['folder']),
    };
  });
}

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
    if (!hasRunFiles(folder)) {
      throw new UserError(`${p}: not a run folder: found none of ${RUN_FILES.join(', ')} (nor a demo ${DEMO_FILE} listing models)`);
    }
    out.push({ folder, name: null, demo: null });
  }
  return out;
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
  const model = mj === null ? null : parseModel(mj, join(src.folder, 'model.json'));
  const train = tj === null ? null : parseTrain(tj, join(src.folder, 'train.json'));
  let ev = ej === null ? null : parseEval(ej, join(src.folder, 'eval.json'));
  const audit = aj === null ? null : parseAudit(aj, join(src.folder, 'audit.json'), warnings);
  if (src.demo !== null) {
    files.push(`../${DEMO_FILE}`);
    // The demo's own numbers stand in for an eval.json the folder lacks.
    if (ev === null && src.demo.eval !== null) ev = src.demo.eval;
    else if (ev !== null && ev.threat === null && src.demo.threat !== null) ev.threat = src.demo.threat;
  }
  if (audit?.adversarial && !existsSync(join(src.folder, audit.adversarial.file))) {
    warnings.push(`${audit.file} lists adversarial images in ${audit.adversarial.file}, which is missing; no example images`);
    audit.adversarial = null;
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
  return { name, folder: src.folder, files, model, train, eval: ev, audit, demo: src.demo, config, configSource, warnings };
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
