/**
 * Where eval, audit and detect-eval results go by default, and the one rule every command that writes
 * follows (docs/outputs-and-resume.md): a file is replaced only by a run of the same configuration —
 * the same weights, the same examples (by content digest) and the same settings, i.e. running the same
 * measurement again — unless the caller forces it. Otherwise `alp report` would show numbers beside a
 * model or data they were not measured on, and the numbers they replaced would be gone. `guardReplace`
 * is the rule; the readers below turn each kind of file into the identity it compares.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { modelJsonPath } from '../model/io.js';
import { refuseZooOutput, ZOO_RUNS, zooModelOf } from '../model/zoo-paths.js';
import { OutputExistsError } from '../util/errors.js';
import { describeData, type DataRecord } from '../data/digest.js';
import { AUDIT_SCHEMA } from './audit.js';
import { DETECT_EVAL_SCHEMA, DETECT_EVAL_SCHEMA_V1 } from './detect-eval.js';
import { EVAL_SCHEMA } from './eval.js';
import { arr, isObj, num, str, type Obj } from './fields.js';

export type ResultKind = 'eval' | 'audit' | 'detect-eval' | 'compare' | 'attack' | 'detector' | 'detect-check';

/** What a result was measured on: the weights, the examples and the settings that change its numbers. */
export interface ResultIdentity {
  /** sha256 of the weights; kinds without one model (compare, report) leave it null on both sides. */
  weightsHash: string | null;
  settings: Record<string, string | number | null>;
  /**
   * The examples (content digest and where they came from); null: not recorded. Left out of a wanted
   * identity, the data is not compared (a library caller that did not compute it).
   */
  data?: DataRecord | null;
}

/** The `data` record of a result file, or null (older files do not have one). */
export function dataRecordOf(v: unknown): DataRecord | null {
  if (!isObj(v)) return null;
  const source = str(v['source']), digest = str(v['digest']), examples = num(v['examples']);
  return source !== null && digest !== null && examples !== null ? { source, digest, examples } : null;
}

const FILE_NAMES: Record<'eval' | 'audit' | 'detect-eval', string> = { eval: 'eval.json', audit: 'audit.json', 'detect-eval': 'detect-eval.json' };

/** The folder a model's results go to by default: its own, or runs/zoo/NAME for a zoo model. */
export function resultFolderOf(modelPath: string): string {
  const zoo = zooModelOf(modelPath);
  return zoo !== undefined && zoo !== '' ? join(ZOO_RUNS, zoo) : dirname(modelJsonPath(modelPath));
}

/**
 * The default place of a model's result: `eval.json` (or the audit's folder) beside `model.json` when the
 * model is a folder's model.json — its own folder. A model file of another name shares its folder with
 * whatever else is there, so its results are named after it: `foo.json` → `foo.eval.json`, `foo.audit/`.
 * For an audit this is the folder for audit.json and examples.f32; for the others, the file.
 */
export function defaultResultPath(modelPath: string, kind: 'eval' | 'audit' | 'detect-eval'): string {
  // A packaged (zoo) model's folder holds its card's numbers only: results go under runs/zoo/NAME.
  const zoo = zooModelOf(modelPath);
  if (zoo !== undefined && zoo !== '') return kind === 'audit' ? join(ZOO_RUNS, zoo) : join(ZOO_RUNS, zoo, FILE_NAMES[kind]);
  const file = modelJsonPath(modelPath);
  const dir = dirname(file);
  const name = basename(file);
  if (name === 'model.json') return kind === 'audit' ? dir : join(dir, FILE_NAMES[kind]);
  const stem = name.replace(/\.json$/i, '');
  return kind === 'audit' ? join(dir, `${stem}.audit`) : join(dir, `${stem}.${FILE_NAMES[kind]}`);
}

const fixed = (v: unknown): string | number | null => (typeof v === 'number' || typeof v === 'string' ? v : null);
const list = (v: unknown): string | null => (Array.isArray(v) ? v.map((x) => (isObj(x) ? fixed(x['eps']) : fixed(x))).join(',') : null);

/** A shard's file counts its own examples; the run it belongs to is identified by all n of them. */
const examplesOf = (j: Obj, own: number | null): number | null => (isObj(j['shard']) ? num(j['shard']['examples']) : own);
/** 'K/N' for a shard's file, null for a whole run: shard 2 does not replace shard 1. */
const shardOf = (j: Obj): string | null => (isObj(j['shard']) ? `${String(j['shard']['index'])}/${String(j['shard']['count'])}` : null);

/**
 * The identity of an eval.json-shaped object (as written, or as about to be written: `result.examples`,
 * `epsSweep[].eps` and the suite suffice).
 */
export function evalIdentity(j: Obj): ResultIdentity {
  const threat = isObj(j['threat']) ? j['threat'] : {};
  const suite = isObj(j['suite']) ? j['suite'] : {};
  const result = isObj(j['result']) ? j['result'] : {};
  return {
    weightsHash: str(j['weightsHash']), data: dataRecordOf(j['data']),
    settings: {
      dataset: fixed(j['dataset']), examples: examplesOf(j, num(result['examples'])), shard: shardOf(j), norm: fixed(threat['norm']), eps: num(threat['eps']),
      attacks: list(suite['attacks']), steps: num(suite['steps']), restarts: num(suite['restarts']), seed: num(suite['seed']),
      stepSize: num(suite['stepSize']), epsSweep: list(j['epsSweep']),
    },
  };
}

/** The identity of an audit.json-shaped object. */
export function auditIdentity(j: Obj): ResultIdentity {
  const threat = isObj(j['threat']) ? j['threat'] : {};
  return {
    weightsHash: str(j['weightsHash']), data: dataRecordOf(j['data']),
    settings: {
      dataset: fixed(j['dataset']), examples: examplesOf(j, num(j['examples'])), shard: shardOf(j), norm: fixed(threat['norm']), eps: num(threat['eps']),
      budget: fixed(j['version']), seed: num(j['seed']),
    },
  };
}

/** The identity of a detect-eval.json-shaped object: every model's weights, and the setup. */
export function detectEvalIdentity(j: Obj): ResultIdentity {
  const setup = isObj(j['setup']) ? j['setup'] : {};
  const threat = isObj(setup['threat']) ? setup['threat'] : {};
  const hashes = arr(j['models']).map((m) => (isObj(m) ? str(m['weightsHash']) : null));
  return {
    weightsHash: hashes.length === 0 || hashes.some((h) => h === null) ? null : hashes.join('+'), data: dataRecordOf(setup['data']),
    settings: {
      dataset: fixed(setup['dataset']), examples: num(setup['testExamples']), shard: shardOf(j), norm: fixed(threat['norm']), eps: num(threat['eps']),
      attacks: list(setup['attacks']), steps: num(setup['attackSteps']), restarts: num(setup['attackRestarts']),
      detectors: list(setup['detectors']), seed: num(setup['seed']), operatingFpr: num(setup['operatingFpr']),
    },
  };
}

/** The identity of a compare.json-shaped object: no one model's weights; the data and every shared setting. */
export function compareIdentity(j: Obj): ResultIdentity {
  const threat = isObj(j['threat']) ? j['threat'] : {};
  return {
    weightsHash: null, data: dataRecordOf(j['data']),
    settings: {
      dataset: fixed(j['dataset']), shard: shardOf(j), preset: fixed(j['preset']), seed: num(j['seed']), budgetSeconds: num(j['budgetSeconds']),
      norm: fixed(threat['norm']), eps: num(threat['eps']), audit: fixed(j['auditVersion']), examples: num(j['testExamples']),
      methods: list(j['methodList']), shifts: fixed(j['shifts']), ood: fixed(j['ood']),
    },
  };
}

const COMPARE_SCHEMA_PREFIX = 'alp.compare/';

/**
 * The identity of a detector.json-shaped object (`alp detect calibrate`): the model files' sha256 it was
 * calibrated for, the clean examples (`data.content`), the detector's settings and the target FPR.
 */
export function detectorIdentity(j: Obj): ResultIdentity {
  const model = isObj(j['model']) ? j['model'] : {};
  const data = isObj(j['data']) ? j['data'] : {};
  const calibration = isObj(j['calibration']) ? j['calibration'] : {};
  return {
    weightsHash: str(model['sha256']), data: dataRecordOf(data['content']),
    // The settings as asked (fitted statistics are not settings), else the detector as saved.
    settings: { detector: JSON.stringify(data['detectorSettings'] ?? j['detector'] ?? null), fpr: num(calibration['fprTarget']) },
  };
}

/** attack.json's schema (`alp attack`); files from before it have none and are not replaced without force. */
export const ATTACK_SCHEMA = 'alp.attack/1';

/** `alp detect --out`'s file: the decisions on the inputs given. */
export const DETECT_CHECK_SCHEMA = 'alp.detect-check/1';

/** Its identity: the model, the detector file and the inputs (paths as given). */
export function checkIdentity(j: Obj): ResultIdentity {
  const det = isObj(j['detector']) ? j['detector'] : {};
  return { weightsHash: null, settings: { model: fixed(j['model']), detector: fixed(det['file']), inputs: list(j['inputs']) } };
}

/** The identity of an attack.json-shaped object: weights, examples, the attack's full settings, the target. */
export function attackIdentity(j: Obj): ResultIdentity {
  return {
    weightsHash: str(j['weightsHash']), data: dataRecordOf(j['data']),
    settings: { dataset: fixed(j['dataset']), attack: JSON.stringify(j['attack'] ?? null), targeted: fixed(j['targeted']), shard: shardOf(j) },
  };
}

interface Reader {
  /** Whether the file is of this kind, from its schema (or format) field. */
  schema: (s: string) => boolean;
  /** The field that names the format: `schema` (result files) or `format` (detector.json). */
  field?: string;
  identity: (j: Obj) => ResultIdentity;
  /** False for files of no one model (compare): the weights are not compared. */
  weights: boolean;
}

const READERS: Record<ResultKind, Reader> = {
  eval: { schema: (s) => s.startsWith(EVAL_SCHEMA.replace(/\d+$/, '')), identity: evalIdentity, weights: true },
  audit: { schema: (s) => s.startsWith(AUDIT_SCHEMA.replace(/\d+$/, '')), identity: auditIdentity, weights: true },
  'detect-eval': { schema: (s) => s === DETECT_EVAL_SCHEMA_V1 || s.startsWith(DETECT_EVAL_SCHEMA.replace(/\d+$/, '')), identity: detectEvalIdentity, weights: true },
  compare: { schema: (s) => s.startsWith(COMPARE_SCHEMA_PREFIX), identity: compareIdentity, weights: false },
  attack: { schema: (s) => s === ATTACK_SCHEMA, identity: attackIdentity, weights: true },
  detector: { schema: (s) => s === 'alp-detector', field: 'format', identity: detectorIdentity, weights: true },
  'detect-check': { schema: (s) => s === DETECT_CHECK_SCHEMA, identity: checkIdentity, weights: false },
};

const NOT_OVERWRITTEN = 'not overwritten: set {force} to replace it, or choose another {out}';
/** For `resume`: only the same configuration continues. */
const NOT_RESUMED = 'not resumed: resume it with the same settings, set {force} to replace it, or choose another {out}';

const short = (h: string | null): string => (h === null ? 'unknown' : `${h.slice(0, 12)}…`);

/**
 * The rule, once for every command that writes. Throws OutputExistsError (exit 6) when `path` holds
 * something that a run with identity `want` must not silently replace: `have` null (a file that is no
 * `kind` result — a user's file, another tool's), or a result of other weights (or weights it did not
 * record; `weights` false skips this for kinds of no one model), other settings, or other examples
 * (content digest; the message names both sources). The same configuration again passes; so does `force`.
 * The message names what differs and how to allow it, in option names (`{force}`) the CLI renders as
 * flags; with `resume` (a run asked to continue) it says the run was not resumed.
 */
export function guardReplace(path: string, kind: string, have: ResultIdentity | null, want: ResultIdentity, o: { force?: boolean; weights?: boolean; resume?: boolean } = {}): void {
  if (o.force === true) return;
  const how = o.resume === true ? NOT_RESUMED : NOT_OVERWRITTEN;
  if (have === null) throw new OutputExistsError(`${path}: exists and is not an ${kind} result; ${how}`);
  if (o.weights !== false && (have.weightsHash === null || want.weightsHash === null || have.weightsHash !== want.weightsHash)) {
    throw new OutputExistsError(`${path}: holds the ${kind} of other weights (sha256 ${short(have.weightsHash)} there, ${short(want.weightsHash)} now); ${how}`);
  }
  const these = o.weights !== false ? ' of these weights' : '';
  // Settings first: another n also changes the digest, and "examples 10 there, 20 now" says it better.
  const diff = Object.keys(want.settings).filter((k) => have.settings[k] !== want.settings[k]);
  if (diff.length > 0) {
    const what = diff.map((k) => `${k} ${String(have.settings[k])} there, ${String(want.settings[k])} now`).join('; ');
    throw new OutputExistsError(`${path}: holds the ${kind}${these} with other settings (${what}); ${how}`);
  }
  if (want.data !== undefined && (have.data?.digest ?? null) !== (want.data?.digest ?? null)) {
    throw new OutputExistsError(`${path}: holds the ${kind}${these} on other examples (${describeData(have.data)} there, ${describeData(want.data)} now); ${how}`);
  }
}

/** The identity of the `kind` result at `path`, null when it is no such result; undefined when nothing is there. */
export function readResultIdentity(path: string, kind: ResultKind): ResultIdentity | null | undefined {
  if (!existsSync(path) || statSync(path).isDirectory()) return undefined;
  const reader = READERS[kind];
  let j: unknown;
  try {
    j = JSON.parse(readFileSync(path, 'utf8'));
  } catch {
    j = undefined;
  }
  const schema = isObj(j) ? str(j[reader.field ?? 'schema']) : null;
  return !isObj(j) || schema === null || !reader.schema(schema) ? null : reader.identity(j);
}

/** The `schema` field of the JSON file at `path`, or undefined (no file, not JSON, no schema). */
export function readResultSchema(path: string): string | undefined {
  try {
    const j: unknown = JSON.parse(readFileSync(path, 'utf8'));
    return isObj(j) ? str(j['schema']) ?? undefined : undefined;
  } catch {
    return undefined;
  }
}

/** guardReplace for a result file of `kind` at `path` (nothing there passes); never inside the model zoo, not even with force. */
export function guardResultFile(path: string, kind: ResultKind, want: ResultIdentity, o: { force?: boolean; resume?: boolean } = {}): void {
  refuseZooOutput(path, `a ${kind} result`);
  if (o.force === true) return;
  const have = readResultIdentity(path, kind);
  if (have === undefined) return;
  guardReplace(path, kind, have, want, { ...o, weights: READERS[kind].weights });
}
