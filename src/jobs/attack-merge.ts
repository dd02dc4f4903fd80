/**
 * `alp merge` of `alp attack --shard K/N` folders: their rows joined in order (adversarial.f32, the
 * shards' clean.f32, labels, predictions, success; for a text model the readings) and written by the
 * same functions the unsharded attack writes with (jobs/attack-files.ts), so the merged folder is the
 * unsharded one.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { TextReading } from '../artifacts/attack.js';
import { isObj, type Obj } from '../artifacts/fields.js';
import type { ShardRecord } from '../artifacts/shard.js';
import { concatF32 } from '../detect/row-parts.js';
import { UserError } from '../util/errors.js';
import { CLEAN_FILE, imageAttackReport, textAttackReport, writeImageAttack, writeTextAttack, type AttackHead, type AttackRows } from './attack-files.js';

export interface AttackShardFile {
  file: string;
  json: Obj;
  shard: ShardRecord & Obj;
}

export interface MergedAttack {
  artifact: Record<string, unknown>;
  /** Writes the merged folder; returns the files written. */
  write(out: string): string[];
}

function bad(file: string, name: string, expected: string, found: unknown): UserError {
  return new UserError(`${file}: field ${name}: expected ${expected}, found ${JSON.stringify(found) ?? 'nothing'}`);
}

function floats(path: string, values: number, file: string): Float32Array {
  if (!existsSync(path)) throw new UserError(`${path}: missing: ${file} is a shard whose rows are in it`);
  const b = readFileSync(path);
  if (b.byteLength !== values * 4) throw new UserError(`${path}: ${b.byteLength} bytes, expected ${values * 4} for the rows ${file} lists`);
  return new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
}

function numbers(file: string, json: Obj, name: string, n: number): number[] {
  const v = json[name];
  if (!Array.isArray(v) || v.length !== n || !v.every((x) => typeof x === 'number')) throw bad(file, name, `${n} numbers`, Array.isArray(v) ? `${v.length} entries` : v);
  return v as number[];
}


/** Joins the shards (checked by jobs/merge.ts to be one run's, all present, in order). */
export function mergeAttack(shards: readonly AttackShardFile[]): MergedAttack {
  const first = shards[0];
  if (first === undefined) throw new UserError('alp merge: no attack shards');
  const j = first.json;
  const head: AttackHead = {
    schema: j['schema'] as string, weightsHash: (j['weightsHash'] as string | null | undefined) ?? null, model: j['model'] as string,
    dataset: j['dataset'] as string, data: j['data'] as AttackHead['data'], attack: j['attack'], targeted: (j['targeted'] as number | null | undefined) ?? null,
  };
  const tail = { versions: j['versions'] ?? {}, warnings: j['warnings'] ?? [] };
  const tensor = j['tensor'];
  const shape = isObj(tensor) && Array.isArray(tensor['shape']) ? (tensor['shape'] as unknown[]).slice(1) : [];
  if (!shape.every((d) => typeof d === 'number' && Number.isInteger(d) && d > 0) || (shape.length !== 2 && shape.length !== 3)) throw bad(first.file, 'tensor.shape', '[n, h, w, c] or [n, tokens, dim]', isObj(tensor) ? tensor['shape'] : tensor);
  const row = (shape as number[]).reduce((a, b) => a * b, 1);
  const adversarial: Float32Array[] = [];
  if (Array.isArray(j['texts'])) {
    const texts: TextReading[] = [];
    for (const s of shards) {
      const n = s.shard.end - s.shard.start;
      const t = s.json['texts'];
      if (!Array.isArray(t) || t.length !== n) throw bad(s.file, 'texts', `${n} readings`, Array.isArray(t) ? `${t.length} entries` : t);
      (t as TextReading[]).forEach((r, k) => {
        if (!isObj(r) || r.index !== s.shard.start + k) throw bad(s.file, `texts[${k}].index`, String(s.shard.start + k), isObj(r) ? r.index : r);
      });
      texts.push(...(t as TextReading[]));
      adversarial.push(floats(join(dirname(s.file), 'adversarial.f32'), n * row, s.file));
    }
    const adv = concatF32(adversarial);
    const dims = shape as [number, number];
    return { artifact: textAttackReport(head, dims, texts, tail), write: (out) => writeTextAttack(out, head, adv, dims, texts, tail).files };
  }
  const clean: Float32Array[] = [];
  const labels: number[] = [], cleanPred: number[] = [], advPred: number[] = [], success: number[] = [];
  for (const s of shards) {
    const n = s.shard.end - s.shard.start;
    labels.push(...numbers(s.file, s.json, 'labels', n));
    cleanPred.push(...numbers(s.file, s.json, 'cleanPredictions', n));
    advPred.push(...numbers(s.file, s.json, 'adversarialPredictions', n));
    success.push(...numbers(s.file, s.json, 'success', n));
    adversarial.push(floats(join(dirname(s.file), 'adversarial.f32'), n * row, s.file));
    clean.push(floats(join(dirname(s.file), CLEAN_FILE), n * row, s.file));
  }
  const audio = j['audio'];
  const sampleRate = isObj(audio) && typeof audio['sampleRate'] === 'number' ? audio['sampleRate'] : undefined;
  const rows: AttackRows = {
    first: 0, shape: shape as [number, number, number], clean: concatF32(clean), adversarial: concatF32(adversarial),
    labels, cleanPred, advPred, success,
  };
  return { artifact: imageAttackReport(head, rows, sampleRate, tail), write: (out) => writeImageAttack(out, head, rows, sampleRate, tail).files };
}
