/**
 * `alp merge`: the shards of one `alp eval`, `alp audit`, `alp attack`, `alp detect eval` or `alp compare` run
 * (`--shard K/N`) combined into exactly what the unsharded run writes. Every number and finding is recomputed from the shards' per-example
 * results with the same functions the unsharded run uses (`summarizeEval`, `summarizeSweep`,
 * `finishAudit`); only timings differ (they add up the shards' seconds). Shards that do not belong
 * together are refused with the file and the field that gives them away.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { AUDIT_SCHEMA, EXAMPLES_FILE, auditArtifactOf, type AuditArtifact, type AuditShard } from '../artifacts/audit.js';
import type { Replacement } from '../eval/few-classes.js';
import { EVAL_SCHEMA, evalArtifact, type EvalArtifact, type EvalShard } from '../artifacts/eval.js';
import { isObj, readJsonObject, type Obj } from '../artifacts/fields.js';
import { AUDIT_VERSIONS, finishAudit, type AuditPart } from '../eval/audit.js';
import { summarizeEval, summarizeSweep, type EvalPart, type SweepPart } from '../eval/evaluate.js';
import { UserError } from '../util/errors.js';
import { dataRecordOf } from '../artifacts/outputs.js';
import { describeData, type DataRecord } from '../data/digest.js';
import { shardRange, type ShardRecord } from '../artifacts/shard.js';
import { DETECT_EVAL_SCHEMA, type DetectionReport } from '../artifacts/detect-eval.js';
import { mergeDetectEval, type DetectEvalShard } from './detect-shard.js';
import { COMPARE_SCHEMA } from '../compare/result.js';
import { mergeCompare, type MergedComparison } from './compare-merge.js';
import { ATTACK_SCHEMA } from '../artifacts/outputs.js';
import { mergeAttack, type MergedAttack } from './attack-merge.js';

export type MergedRun =
  | { kind: 'eval'; artifact: EvalArtifact; files: string[] }
  | { kind: 'audit'; artifact: AuditArtifact; examples: Float32Array; files: string[] }
  | { kind: 'detect-eval'; artifact: DetectionReport; files: string[] }
  | ({ kind: 'compare'; files: string[] } & MergedComparison)
  | ({ kind: 'attack'; files: string[] } & MergedAttack);

type Kind = MergedRun['kind'];
const KINDS: Record<string, Kind> = { [EVAL_SCHEMA]: 'eval', [AUDIT_SCHEMA]: 'audit', [DETECT_EVAL_SCHEMA]: 'detect-eval', [COMPARE_SCHEMA]: 'compare', [ATTACK_SCHEMA]: 'attack' };
/** The examples a shard's file says it holds (detect eval keeps them in its setup). */
const dataOf = (json: Obj): DataRecord | null => dataRecordOf(json['data']) ?? (isObj(json['setup']) ? dataRecordOf(json['setup']['data']) : null);

/**
 * The shard files behind the paths given: a file as is; a folder's audit.json, or else every JSON
 * file directly in it that has a `shard` field (several eval shards written into one folder).
 */
export function shardFiles(paths: readonly string[]): string[] {
  if (paths.length === 0) throw new UserError('alp merge: give the shards to merge (folders or eval/audit JSON files)');
  const out: string[] = [];
  for (const p of paths) {
    if (!existsSync(p)) throw new UserError(`${p}: no such file or folder`);
    if (!statSync(p).isDirectory()) {
      out.push(p);
      continue;
    }
    const result = ['audit.json', 'attack.json'].map((f) => join(p, f)).find((f) => existsSync(f));
    if (result !== undefined) {
      out.push(result);
      continue;
    }
    const found = readdirSync(p).filter((f) => f.endsWith('.json')).sort().map((f) => join(p, f)).filter((f) => {
      try {
        return isObj(JSON.parse(readFileSync(f, 'utf8'))?.shard);
      } catch {
        return false;
      }
    });
    if (found.length === 0) throw new UserError(`${p}: no audit.json, no attack.json and no JSON file with a \`shard\` field in this folder`);
    out.push(...found);
  }
  return out;
}

function field(file: string, name: string, expected: string, found: unknown): UserError {
  return new UserError(`${file}: field ${name}: expected ${expected}, found ${JSON.stringify(found) ?? 'nothing'}`);
}

function intField(file: string, o: Obj, name: string, min: number): number {
  const v = o[name];
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min) throw field(file, `shard.${name}`, `an integer ≥ ${min}`, v);
  return v;
}

function vector(file: string, name: string, v: unknown, length: number, kind: 'bit' | 'string' = 'bit'): void {
  const ok = Array.isArray(v) && v.length === length && v.every((x) => (kind === 'bit' ? x === 0 || x === 1 : typeof x === 'string'));
  if (!ok) throw field(file, name, `${length} ${kind === 'bit' ? '0/1 values' : 'strings'}`, Array.isArray(v) ? `${v.length} entries` : v);
}

interface Loaded {
  file: string;
  json: Obj;
  shard: ShardRecord & Obj;
}

/** Reads and cross-checks the shards: one run, every shard once, each with its own range. */
function loadShards(files: readonly string[]): { kind: Kind; shards: Loaded[] } {
  const loaded: Loaded[] = files.map((file) => {
    const json = readJsonObject(file);
    const s = json['shard'];
    if (!isObj(s)) throw new UserError(`${file}: no \`shard\` field: not the output of an alp job run with --shard K/N`);
    const index = intField(file, s, 'index', 1), count = intField(file, s, 'count', 1);
    const start = intField(file, s, 'start', 0), end = intField(file, s, 'end', 0), examples = intField(file, s, 'examples', 1);
    if (typeof s['run'] !== 'string') throw field(file, 'shard.run', 'a run hash', s['run']);
    if (index > count) throw field(file, 'shard.index', `1..${count}`, index);
    const unit = s['unit'] === undefined ? 1 : intField(file, s, 'unit', 1);
    const [a, b] = shardRange(examples, { index, count }, unit);
    if (start !== a || end !== b) throw new UserError(`${file}: field shard.start/end: expected shard ${index}/${count}'s examples [${a}, ${b}) of ${examples}, found [${start}, ${end})`);
    return { file, json, shard: { ...s, index, count, start, end, examples, run: s['run'] } };
  });
  const first = loaded[0] as Loaded;
  const schema = first.json['schema'];
  const kind = typeof schema === 'string' ? KINDS[schema] : undefined;
  if (kind === undefined) throw field(first.file, 'schema', Object.keys(KINDS).join(' or '), schema);
  const byIndex = new Map<number, Loaded>();
  for (const l of loaded) {
    if (l.json['schema'] !== schema) throw field(l.file, 'schema', `${String(schema)} (as in ${first.file})`, l.json['schema']);
    // Other examples (another --data-dir, another file of the same dataset name): say which two.
    const [da, db] = [dataOf(first.json), dataOf(l.json)];
    if ((da?.digest ?? null) !== (db?.digest ?? null)) {
      throw new UserError(`${l.file}: a shard of other examples than ${first.file} (${describeData(db)} there, ${describeData(da)} in ${first.file}); merge only the shards of one run`);
    }
    if (l.shard.run !== first.shard.run) {
      throw new UserError(`${l.file}: field shard.run differs from ${first.file}'s: a shard of another model, data, attack configuration or seed`);
    }
    if (l.shard.count !== first.shard.count) throw field(l.file, 'shard.count', `${first.shard.count} (as in ${first.file})`, l.shard.count);
    if (l.shard.examples !== first.shard.examples) throw field(l.file, 'shard.examples', `${first.shard.examples} (as in ${first.file})`, l.shard.examples);
    const twin = byIndex.get(l.shard.index);
    if (twin !== undefined) throw new UserError(`${l.file} and ${twin.file} are both shard ${l.shard.index}/${l.shard.count}: give each shard once`);
    byIndex.set(l.shard.index, l);
  }
  const missing = Array.from({ length: first.shard.count }, (_, i) => i + 1).filter((k) => !byIndex.has(k));
  if (missing.length > 0) {
    throw new UserError(`shard${missing.length > 1 ? 's' : ''} ${missing.map((k) => `${k}/${first.shard.count}`).join(', ')} missing: merge needs all ${first.shard.count} shards of the run (given: ${[...byIndex.keys()].sort((a, b) => a - b).join(', ')})`);
  }
  return { kind, shards: [...byIndex.values()].sort((a, b) => a.shard.index - b.shard.index) };
}

/** An ε-sweep part: its rows and, per radius, one 0/1 per row. */
function checkSweep(file: string, name: string, v: unknown): SweepPart {
  if (!isObj(v) || typeof v['start'] !== 'number' || typeof v['end'] !== 'number' || v['end'] < v['start'] || !Array.isArray(v['points'])) throw field(file, name, '{start, end, points}', v);
  for (const [k, p] of (v['points'] as unknown[]).entries()) {
    if (!isObj(p) || typeof p['eps'] !== 'number') throw field(file, `${name}.points[${k}].eps`, 'a number', isObj(p) ? p['eps'] : p);
    vector(file, `${name}.points[${k}].robust`, p['robust'], (v['end'] as number) - (v['start'] as number));
  }
  return v as unknown as SweepPart;
}

function mergeEval(shards: Loaded[]): MergedRun {
  const parts: EvalPart[] = [];
  const sweeps: SweepPart[] = [];
  for (const { file, shard } of shards) {
    const part = shard['eval'];
    const n = shard.end - shard.start;
    if (!isObj(part) || part['start'] !== shard.start || part['end'] !== shard.end) throw field(file, 'shard.eval', `results for examples [${shard.start}, ${shard.end})`, isObj(part) ? [part['start'], part['end']] : part);
    vector(file, 'shard.eval.correct', part['correct'], n);
    if (!Array.isArray(part['attacks'])) throw field(file, 'shard.eval.attacks', 'a list', part['attacks']);
    (part['attacks'] as unknown[]).forEach((a, k) => {
      if (!isObj(a) || typeof a['name'] !== 'string') throw field(file, `shard.eval.attacks[${k}].name`, 'a name', isObj(a) ? a['name'] : a);
      vector(file, `shard.eval.attacks[${k}].fooled`, a['fooled'], n);
    });
    parts.push(part as unknown as EvalPart);
    const sw = shard['sweep'];
    if (sw !== null && sw !== undefined) {
      const part = checkSweep(file, 'shard.sweep', sw);
      if (part.start !== shard.start || part.end !== shard.end) throw field(file, 'shard.sweep', `examples [${shard.start}, ${shard.end})`, [part.start, part.end]);
      sweeps.push(part);
    }
  }
  if (sweeps.length !== 0 && sweeps.length !== shards.length) throw new UserError('some shards have an ε sweep and others not: they come from different runs');
  const first = shards[0] as Loaded;
  const seconds = shards.reduce((a, s) => a + (typeof s.json['seconds'] === 'number' ? s.json['seconds'] : 0), 0);
  const rest = { ...first.json } as Obj;
  delete rest['shard'];
  delete rest['schema'];
  const artifact = evalArtifact({
    ...(rest as unknown as Omit<EvalArtifact, 'schema'>),
    result: summarizeEval(parts),
    epsSweep: sweeps.length > 0 ? summarizeSweep(sweeps) : null,
    seconds,
  });
  return { kind: 'eval', artifact, files: shards.map((s) => s.file) };
}

function mergeAudit(shards: Loaded[]): MergedRun {
  const first = shards[0] as Loaded;
  const parts: AuditPart[] = [];
  const kept = new Map<number, { label: number; cleanPred: number; advPred: number }>();
  let shape: number[] = [];
  for (const { file, json, shard } of shards) {
    const part = shard['audit'];
    const n = shard.end - shard.start;
    if (!isObj(part) || part['start'] !== shard.start || part['end'] !== shard.end) throw field(file, 'shard.audit', `results for examples [${shard.start}, ${shard.end})`, isObj(part) ? [part['start'], part['end']] : part);
    vector(file, 'shard.audit.correct', part['correct'], n);
    vector(file, 'shard.audit.fooledBy', part['fooledBy'], n, 'string');
    if (!Array.isArray(part['steps'])) throw field(file, 'shard.audit.steps', 'a list', part['steps']);
    const iters = part['iters'];
    if (!isObj(iters)) throw field(file, 'shard.audit.iters', 'an object', iters);
    const sub = Array.isArray(iters['weak']) ? iters['weak'].length : -1;
    vector(file, 'shard.audit.iters.weak', iters['weak'], Math.max(sub, 0));
    vector(file, 'shard.audit.iters.strong', iters['strong'], Math.max(sub, 0));
    const sweep = checkSweep(file, 'shard.audit.sweep', part['sweep']);
    if (shard['keepExamples'] !== first.shard['keepExamples']) throw field(file, 'shard.keepExamples', `${String(first.shard['keepExamples'])} (as in ${first.file})`, shard['keepExamples']);
    // The shard's kept adversarial examples: its examples.f32, described by its examplesFile entry.
    const ex = json['examplesFile'];
    const rows: Array<{ id: number; data: Float32Array }> = [];
    if (isObj(ex)) {
      const ids = ex['clean'], sh = ex['shape'];
      if (!Array.isArray(ids) || !Array.isArray(sh) || sh.length !== 4 || sh[0] !== ids.length) throw field(file, 'examplesFile.shape', `[${Array.isArray(ids) ? ids.length : 'n'}, h, w, c]`, sh);
      shape = (sh as number[]).slice(1);
      const row = shape.reduce((a, b) => a * b, 1);
      const path = join(dirname(file), typeof ex['file'] === 'string' ? ex['file'] : EXAMPLES_FILE);
      if (!existsSync(path)) throw new UserError(`${path}: missing: ${file} lists ${ids.length} kept examples in it`);
      const bytes = readFileSync(path);
      if (bytes.byteLength !== ids.length * row * 4) throw new UserError(`${path}: ${bytes.byteLength} bytes, expected ${ids.length * row * 4} for the ${ids.length} examples ${file} lists`);
      const all = new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
      const at = (name: string, j: number): number => {
        const v = (ex[name] as unknown[] | undefined)?.[j];
        if (typeof v !== 'number') throw field(file, `examplesFile.${name}[${j}]`, 'a number', v);
        return v;
      };
      ids.forEach((id, j) => {
        if (typeof id !== 'number' || id < shard.start || id >= shard.end) throw field(file, `examplesFile.clean[${j}]`, `an example in [${shard.start}, ${shard.end})`, id);
        rows.push({ id, data: all.slice(j * row, (j + 1) * row) });
        kept.set(id, { label: at('labels', j), cleanPred: at('cleanPred', j), advPred: at('advPred', j) });
      });
    }
    parts.push({ ...(part as unknown as Omit<AuditPart, 'kept'>), sweep, kept: rows });
  }
  const version = first.json['version'];
  if (!(AUDIT_VERSIONS as readonly unknown[]).includes(version)) throw field(first.file, 'version', AUDIT_VERSIONS.join('|'), version);
  const r = finishAudit(parts, {
    version: version as AuditArtifact['version'], threat: first.json['threat'] as AuditArtifact['threat'],
    keepExamples: typeof first.shard['keepExamples'] === 'number' ? first.shard['keepExamples'] : 16,
  });
  const meta = {
    model: (first.json['model'] as string | null | undefined) ?? null, weightsHash: (first.json['weightsHash'] as string | null | undefined) ?? null,
    seed: first.json['seed'] as number, versions: (first.json['versions'] ?? {}) as Record<string, string>,
    ...(Array.isArray(first.json['warnings']) ? { warnings: first.json['warnings'] as string[] } : {}),
    ...(Array.isArray(first.json['replacedAttacks']) ? { replacedAttacks: first.json['replacedAttacks'] as Replacement[] } : {}),
    ...(dataRecordOf(first.json['data']) !== null ? { data: dataRecordOf(first.json['data']) as DataRecord } : {}),
  };
  const merged = auditArtifactOf(r, String(first.json['dataset']), shape, kept, meta);
  // The class names travel with the labels, as auditArtifact records them.
  const names = first.json['classNames'];
  const artifact = Array.isArray(names) && names.every((x) => typeof x === 'string') ? { ...merged.artifact, classNames: [...names] as string[] } : merged.artifact;
  return { kind: 'audit', artifact, examples: merged.examples, files: shards.map((s) => s.file) };
}

/** Merges the shards found at `paths` (see shardFiles) into the unsharded run's result. */
export function mergeShards(paths: readonly string[]): MergedRun {
  const files = shardFiles(paths);
  const { kind, shards } = loadShards(files);
  if (kind === 'compare') return { kind, ...mergeCompare(shards), files: shards.map((s) => s.file) };
  if (kind === 'attack') return { kind, ...mergeAttack(shards), files: shards.map((s) => s.file) };
  if (kind === 'detect-eval') return { kind, artifact: mergeDetectEval(shards.map((s) => ({ file: s.file, json: s.json, shard: s.shard as unknown as DetectEvalShard }))), files: shards.map((s) => s.file) };
  return kind === 'eval' ? mergeEval(shards) : mergeAudit(shards);
}

/** The shard that writing the merged `kind` result to `out` would overwrite (an eval file, an audit or attack folder), if any. */
export function overwritesInput(out: string, kind: MergedRun['kind'], files: readonly string[]): string | undefined {
  const o = resolve(out);
  return files.find((f) => resolve(kind === 'audit' || kind === 'attack' ? dirname(f) : f) === o);
}

export type { EvalShard, AuditShard };
