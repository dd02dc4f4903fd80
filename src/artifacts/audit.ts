/**
 * audit.json and examples.f32: what `alp audit` writes and `alp report` reads. The kept adversarial
 * examples are built here (with the clean and adversarial predictions the report labels them with),
 * not in the CLI.
 */
import type { Replacement } from '../eval/few-classes.js';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import type { Dataset } from '../data/dataset.js';
import type { DataRecord } from '../data/digest.js';
import type { AuditPart, AuditResult } from '../eval/audit.js';
import type { KeptMessage } from '../eval/word-audit.js';
import type { SwapEval } from '../attack/text/robustness.js';
import type { ShardRecord } from './shard.js';
import type { LogitsFn } from '../model/classifier.js';
import { writeFileAtomic, writeJsonAtomic } from '../util/atomic.js';
import { UserError } from '../util/errors.js';
import { wordSwapPoints, type ResultSubject } from './eval.js';
import { arr, isObj, num, numbersOrNull, obj, str, sweepOf, runHeaderOf, type Obj, type RunHeader, type SweepPoint } from './fields.js';

export const AUDIT_SCHEMA = 'alp.audit/2';
export const EXAMPLES_FILE = 'examples.f32';

/** The kept adversarial examples' description in audit.json (arrays aligned with `clean`). */
export interface ExamplesFileEntry {
  file: string;
  shape: number[];
  clean: number[];
  labels: number[];
  attack: string[];
  cleanPred: number[];
  advPred: number[];
}

/** audit.json as written. */
export interface AuditArtifact extends ResultSubject {
  schema: typeof AUDIT_SCHEMA;
  version: AuditResult['version'];
  examples: number;
  cleanAccuracy: number;
  cascade: AuditResult['cascade'];
  worstCaseAccuracy: number;
  epsSweep: AuditResult['epsSweep'];
  findings: AuditResult['findings'];
  examplesFile: ExamplesFileEntry | null;
  /** Text models: robust accuracy under real word swaps per k, and fooled messages with the swaps marked. */
  wordSwaps?: SwapEval & { neighbours?: number; notes: string[]; messages: KeptMessage[]; fooledAt: Array<number | null> };
  seconds: number;
  seed: number;
  versions: Record<string, string>;
  /** Warnings about the model, e.g. layers whose gradients alp has not verified (model/gradient-support.ts). */
  warnings?: string[];
  /** Attacks of the plan the model's class count does not allow, and what ran instead (eval/few-classes.ts). */
  replacedAttacks?: Replacement[];
  /** `alp audit --shard K/N`: which slice this is and its per-example results, for `alp merge`. */
  shard?: AuditShard;
}

/** A shard's bookkeeping; its kept adversarial examples are those of its examples.f32. */
export interface AuditShard extends ShardRecord {
  /** How many adversarial examples the run keeps (the merged run keeps the first this many). */
  keepExamples: number;
  audit: Omit<AuditPart, 'kept'>;
}

/** The model's predictions on the kept examples, clean and adversarial, aligned with their ids. */
export interface KeptPredictions {
  cleanPred: number[];
  advPred: number[];
}

export interface AuditMeta {
  model: string | null;
  weightsHash: string | null;
  seed: number;
  versions: Record<string, string>;
  warnings?: string[];
  replacedAttacks?: Replacement[];
  data?: DataRecord;
}

/**
 * audit.json's content and the examples.f32 bytes for an audit result: the kept examples in test-index
 * order of discovery, with the model's prediction on each clean and adversarial input.
 */
export function auditArtifact(r: AuditResult, ds: Dataset, f: LogitsFn, meta: AuditMeta): { artifact: AuditArtifact; examples: Float32Array } {
  const ids = [...r.adversarial.keys()];
  const row = ds.shape[0] * ds.shape[1] * ds.shape[2];
  const adv = new Float32Array(ids.length * row);
  const clean = new Float32Array(ids.length * row);
  ids.forEach((id, j) => {
    adv.set(r.adversarial.get(id) as Float32Array, j * row);
    clean.set(ds.images.subarray(id * row, (id + 1) * row), j * row);
  });
  const predOf = (data: Float32Array): number[] => ids.length === 0 ? [] : tf.tidy(() =>
    Array.from(f(tf.tensor4d(data, [ids.length, ds.shape[0], ds.shape[1], ds.shape[2]])).argMax(-1).dataSync()));
  const predictions = new Map<number, { label: number; cleanPred: number; advPred: number }>();
  const cleanPred = predOf(clean), advPred = predOf(adv);
  ids.forEach((id, j) => predictions.set(id, { label: ds.labels[id] as number, cleanPred: cleanPred[j] as number, advPred: advPred[j] as number }));
  const out = auditArtifactOf(r, ds.name, ds.shape, predictions, meta);
  // Labels and predictions are class indices; the names say what they mean.
  if (ds.classNames !== undefined) out.artifact = { ...out.artifact, classNames: [...ds.classNames] };
  return out;
}

/**
 * audit.json's content from a result and what is known about each kept example (its label and the
 * model's predictions); `alp merge` builds it from the shards' files without running the model.
 */
export function auditArtifactOf(
  r: AuditResult, dataset: string, shape: readonly number[], kept: ReadonlyMap<number, { label: number; cleanPred: number; advPred: number }>, meta: AuditMeta,
): { artifact: AuditArtifact; examples: Float32Array } {
  const ids = [...r.adversarial.keys()];
  const row = shape.reduce((a, b) => a * b, 1);
  const adv = new Float32Array(ids.length * row);
  ids.forEach((id, j) => adv.set(r.adversarial.get(id) as Float32Array, j * row));
  const about = (id: number): { label: number; cleanPred: number; advPred: number } => {
    const k = kept.get(id);
    if (k === undefined) throw new Error(`auditArtifactOf: nothing known about kept example ${id}`);
    return k;
  };
  const artifact: AuditArtifact = {
    schema: AUDIT_SCHEMA, model: meta.model, weightsHash: meta.weightsHash, dataset, ...(meta.data !== undefined ? { data: meta.data } : {}), threat: r.threat, version: r.version,
    examples: r.examples, cleanAccuracy: r.cleanAccuracy, cascade: r.cascade, worstCaseAccuracy: r.worstCaseAccuracy,
    epsSweep: r.epsSweep, findings: r.findings,
    examplesFile: ids.length > 0 ? {
      file: EXAMPLES_FILE, shape: [ids.length, ...shape], clean: ids, labels: ids.map((i) => about(i).label),
      attack: ids.map((i) => r.fooledBy[i - (r.firstExample ?? 0)] as string), cleanPred: ids.map((i) => about(i).cleanPred), advPred: ids.map((i) => about(i).advPred),
    } : null,
    ...(r.wordSwaps !== undefined ? { wordSwaps: { ...r.wordSwaps.swaps, ...(r.wordSwaps.neighbours !== undefined ? { neighbours: r.wordSwaps.neighbours } : {}), notes: r.wordSwaps.notes, messages: r.wordSwaps.kept, fooledAt: r.wordSwaps.fooledAt } } : {}),
    seconds: r.seconds, seed: meta.seed, versions: meta.versions, ...(meta.warnings !== undefined ? { warnings: meta.warnings } : {}),
    ...(meta.replacedAttacks !== undefined && meta.replacedAttacks.length > 0 ? { replacedAttacks: meta.replacedAttacks } : {}),
  };
  return { artifact, examples: adv };
}

/** Writes examples.f32 then audit.json into `dir`. */
export function writeAuditArtifact(auditJson: string, examplesPath: string, a: { artifact: AuditArtifact; examples: Float32Array }): void {
  writeFileAtomic(examplesPath, new Uint8Array(a.examples.buffer, a.examples.byteOffset, a.examples.byteLength));
  writeJsonAtomic(auditJson, a.artifact);
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
  /** Per image, whether it fooled the model (null: not recorded; the audit keeps fooled ones only). */
  fooled: Array<boolean | null>;
}

/** A fooled message as the audit kept it: the text with every swap marked [original→replacement]. */
export interface SwappedMessage {
  index: number;
  label: number | null;
  k: number | null;
  attack: string | null;
  advPred: number | null;
  marked: string;
}

export interface AuditData extends RunHeader {
  file: string;
  version: string | null;
  examples: number | null;
  cleanAccuracy: number | null;
  cascade: CascadeStage[];
  worstCaseAccuracy: number | null;
  epsSweep: SweepPoint[];
  findings: FindingData[];
  adversarial: ExamplesMeta | null;
  /** Text models: robust accuracy per k and attack under real word swaps ('worst case' per k too), and the kept messages. */
  wordSwaps: { points: Array<{ k: number; attack: string; robustAccuracy: number }>; messages: SwappedMessage[] } | null;
  seed: number | null;
  weightsHash: string | null;
}

const STATUSES: readonly FindingStatus[] = ['pass', 'warn', 'fail'];

export function examplesMetaOf(v: unknown, file: string, warnings: string[]): ExamplesMeta | null {
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
  const fooled = arr(v['fooled']);
  return {
    file: f,
    shape: shape as [number, number, number, number],
    clean: clean as number[],
    labels: numbersOrNull(v['labels'], n),
    cleanPred: numbersOrNull(v['cleanPred'], n),
    advPred: numbersOrNull(v['advPred'], n),
    attack: Array.from({ length: n }, (_, i) => str(attacks[i])),
    fooled: Array.from({ length: n }, (_, i) => (typeof fooled[i] === 'boolean' ? (fooled[i] as boolean) : null)),
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
  const metaRaw = j['examplesFile'];
  return {
    file,
    ...runHeaderOf(j),
    version: str(j['version']),
    examples: num(j['examples']),
    cleanAccuracy: num(j['cleanAccuracy']),
    cascade,
    worstCaseAccuracy: num(j['worstCaseAccuracy']),
    epsSweep: sweepOf(j['epsSweep']),
    findings,
    adversarial: examplesMetaOf(metaRaw, file, warnings),
    wordSwaps: swapsOf(j['wordSwaps']),
    seed: num(j['seed']),
  };
}

/** Reads the adversarial images file, checking its size against the shape audit.json gives. */
export function readExamplesFile(folder: string, meta: ExamplesMeta): Float32Array {
  const path = join(folder, meta.file);
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch (e) {
    throw new UserError(`${path}: cannot read: ${e instanceof Error ? e.message : String(e)}`);
  }
  const [n, h, w, c] = meta.shape;
  const want = n * h * w * c * 4;
  if (bytes.length !== want) {
    throw new UserError(`${path}: expected ${want} bytes (float32 × [${meta.shape.join(',')}]), found ${bytes.length}`);
  }
  const out = new Float32Array(n * h * w * c);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let i = 0; i < out.length; i++) out[i] = view.getFloat32(i * 4, true);
  return out;
}

function swapsOf(v: unknown): AuditData['wordSwaps'] {
  if (!isObj(v)) return null;
  const messages: SwappedMessage[] = [];
  for (const m of arr(v['messages'])) {
    if (!isObj(m)) continue;
    const index = num(m['index']), marked = str(m['marked']);
    if (index === null || marked === null) continue;
    messages.push({ index, label: num(m['label']), k: num(m['k']), attack: str(m['attack']), advPred: num(m['advPred']), marked });
  }
  return { points: wordSwapPoints(v), messages };
}
