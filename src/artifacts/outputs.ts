/**
 * Where eval, audit and detect-eval results go by default, and the rule that keeps one measurement from
 * silently replacing another: a result file is replaced only by a run on the same weights with the same
 * settings (running a measurement again), unless the caller forces it. Otherwise `alp report` would show
 * numbers beside a model they were not measured on, and the numbers they replaced would be gone.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { modelJsonPath } from '../model/io.js';
import { OutputExistsError } from '../util/errors.js';
import { AUDIT_SCHEMA } from './audit.js';
import { DETECT_EVAL_SCHEMA, DETECT_EVAL_SCHEMA_V1 } from './detect-eval.js';
import { EVAL_SCHEMA } from './eval.js';
import { arr, isObj, num, str, type Obj } from './fields.js';

export type ResultKind = 'eval' | 'audit' | 'detect-eval';

/** What a result was measured on: the weights and the settings that change its numbers. */
export interface ResultIdentity {
  weightsHash: string | null;
  settings: Record<string, string | number | null>;
}

const FILE_NAMES: Record<ResultKind, string> = { eval: 'eval.json', audit: 'audit.json', 'detect-eval': 'detect-eval.json' };

/**
 * The default place of a model's result: `eval.json` (or the audit's folder) beside `model.json` when the
 * model is a folder's model.json — its own folder. A model file of another name shares its folder with
 * whatever else is there, so its results are named after it: `foo.json` → `foo.eval.json`, `foo.audit/`.
 * For an audit this is the folder for audit.json and examples.f32; for the others, the file.
 */
export function defaultResultPath(modelPath: string, kind: ResultKind): string {
  const file = modelJsonPath(modelPath);
  const dir = dirname(file);
  const name = basename(file);
  if (name === 'model.json') return kind === 'audit' ? dir : join(dir, FILE_NAMES[kind]);
  const stem = name.replace(/\.json$/i, '');
  return kind === 'audit' ? join(dir, `${stem}.audit`) : join(dir, `${stem}.${FILE_NAMES[kind]}`);
}

const fixed = (v: unknown): string | number | null => (typeof v === 'number' || typeof v === 'string' ? v : null);
const list = (v: unknown): string | null => (Array.isArray(v) ? v.map((x) => (isObj(x) ? fixed(x['eps']) : fixed(x))).join(',') : null);

/**
 * The identity of an eval.json-shaped object (as written, or as about to be written: `result.examples`,
 * `epsSweep[].eps` and the suite suffice).
 */
export function evalIdentity(j: Obj): ResultIdentity {
  const threat = isObj(j['threat']) ? j['threat'] : {};
  const suite = isObj(j['suite']) ? j['suite'] : {};
  const result = isObj(j['result']) ? j['result'] : {};
  return {
    weightsHash: str(j['weightsHash']),
    settings: {
      dataset: fixed(j['dataset']), examples: num(result['examples']), norm: fixed(threat['norm']), eps: num(threat['eps']),
      attacks: list(suite['attacks']), steps: num(suite['steps']), restarts: num(suite['restarts']), seed: num(suite['seed']),
      stepSize: num(suite['stepSize']), epsSweep: list(j['epsSweep']),
    },
  };
}

/** The identity of an audit.json-shaped object. */
export function auditIdentity(j: Obj): ResultIdentity {
  const threat = isObj(j['threat']) ? j['threat'] : {};
  return {
    weightsHash: str(j['weightsHash']),
    settings: {
      dataset: fixed(j['dataset']), examples: num(j['examples']), norm: fixed(threat['norm']), eps: num(threat['eps']),
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
    weightsHash: hashes.length === 0 || hashes.some((h) => h === null) ? null : hashes.join('+'),
    settings: {
      dataset: fixed(setup['dataset']), examples: num(setup['testExamples']), norm: fixed(threat['norm']), eps: num(threat['eps']),
      attacks: list(setup['attacks']), steps: num(setup['attackSteps']), restarts: num(setup['attackRestarts']),
      detectors: list(setup['detectors']), seed: num(setup['seed']), operatingFpr: num(setup['operatingFpr']),
    },
  };
}

const READERS: Record<ResultKind, { schema: (s: string) => boolean; identity: (j: Obj) => ResultIdentity }> = {
  eval: { schema: (s) => s.startsWith(EVAL_SCHEMA.replace(/\d+$/, '')), identity: evalIdentity },
  audit: { schema: (s) => s.startsWith(AUDIT_SCHEMA.replace(/\d+$/, '')), identity: auditIdentity },
  'detect-eval': { schema: (s) => s === DETECT_EVAL_SCHEMA_V1 || s.startsWith(DETECT_EVAL_SCHEMA.replace(/\d+$/, '')), identity: detectEvalIdentity },
};

const NOT_OVERWRITTEN = 'not overwritten: set {force} to replace it, or choose another {out}';

const short = (h: string | null): string => (h === null ? 'unknown' : `${h.slice(0, 12)}…`);

/**
 * Throws OutputExistsError (exit 6) when `path` holds something that a run with identity `want` must
 * not silently replace: a file that is no `kind` result, or one measured on other weights (or weights it
 * did not record) or with other settings. Nothing there, or the same run again, passes; so does `force`.
 * The message names what differs and how to allow it, in option names (`{force}`) the CLI renders as flags.
 */
export function guardResultFile(path: string, kind: ResultKind, want: ResultIdentity, o: { force?: boolean } = {}): void {
  if (o.force === true || !existsSync(path) || statSync(path).isDirectory()) return;
  const reader = READERS[kind];
  let j: unknown;
  try {
    j = JSON.parse(readFileSync(path, 'utf8'));
  } catch {
    j = undefined;
  }
  const schema = isObj(j) ? str(j['schema']) : null;
  if (!isObj(j) || schema === null || !reader.schema(schema)) {
    throw new OutputExistsError(`${path}: exists and is not an ${kind} result; ${NOT_OVERWRITTEN}`);
  }
  const have = reader.identity(j);
  if (have.weightsHash === null || want.weightsHash === null || have.weightsHash !== want.weightsHash) {
    throw new OutputExistsError(`${path}: holds the ${kind} of other weights (sha256 ${short(have.weightsHash)} there, ${short(want.weightsHash)} now); ${NOT_OVERWRITTEN}`);
  }
  const diff = Object.keys(want.settings).filter((k) => have.settings[k] !== want.settings[k]);
  if (diff.length > 0) {
    const what = diff.map((k) => `${k} ${String(have.settings[k])} there, ${String(want.settings[k])} now`).join('; ');
    throw new OutputExistsError(`${path}: holds the ${kind} of these weights with other settings (${what}); ${NOT_OVERWRITTEN}`);
  }
}
