/**
 * `--shard K/N`: a deterministic slice of a run's examples, so that N machines (or N jobs of a
 * scheduler) each evaluate one slice and `alp merge` combines them into the unsharded result. K is
 * 1-based (1..N); shard K covers the contiguous rows [⌊(K−1)·n/N⌋, ⌊K·n/N⌋) of the n selected examples.
 * Random starts are seeded per example, so a shard computes exactly what the whole run computes for
 * its examples.
 */
import { createHash } from 'node:crypto';
import { OptionError } from '../util/errors.js';
import type { DataRecord } from '../data/digest.js';

export interface ShardSpec {
  /** 1-based shard number K. */
  index: number;
  /** Number of shards N. */
  count: number;
}

/** What a shard records beside its results, so that merge can check the shards belong together. */
export interface ShardRecord {
  index: number;
  count: number;
  /** Its examples: rows [start, end) of the run's `examples`. */
  start: number;
  end: number;
  examples: number;
  /** sha256 of everything the full run's result depends on (model, data contents, threat, attacks, seeds). */
  run: string;
  /** The run's examples (all n, not only this shard's): merge names both sources when shards differ. */
  data?: DataRecord;
  /** Rows kept together (shardRange's `unit`), when more than one. */
  unit?: number;
}

/** Parses 'K/N' (K in 1..N); `option` names the option in the error (the CLI shows it as its flag). */
export function parseShard(text: string, option = 'shard'): ShardSpec {
  const m = /^\s*(\d+)\s*\/\s*(\d+)\s*$/.exec(text);
  if (m === null) throw new OptionError(`{${option}}: expected K/N with 1 ≤ K ≤ N (e.g. 2/8), found '${text}'`);
  const index = Number(m[1]), count = Number(m[2]);
  if (count < 1) throw new OptionError(`{${option}}: expected N ≥ 1, found '${text}'`);
  if (index < 1 || index > count) throw new OptionError(`{${option}}: K must be in 1..${count} (shards are numbered from 1), found '${text}'`);
  return { index, count };
}

/**
 * Rows [start, end) of shard K of N over `examples` examples; shards tile [0, examples) in order. With
 * `unit` > 1 the shards cut whole groups of `unit` rows (detect eval attacks and scores its rows in
 * groups of --batch-size, and a row's floats may depend on its group, so a shard keeps the groups whole).
 */
export function shardRange(examples: number, s: ShardSpec, unit = 1): [number, number] {
  const groups = Math.ceil(examples / unit);
  const at = (k: number): number => Math.min(examples, Math.floor((k * groups) / s.count) * unit);
  return [at(s.index - 1), at(s.index)];
}

/** The run key of a sharded run: a hash of the settings its result depends on, in a stable key order. */
export function runHash(settings: Record<string, unknown>): string {
  return createHash('sha256').update(stableJson(settings)).digest('hex');
}

function stableJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(stableJson).join(',')}]`;
  if (typeof v === 'object' && v !== null) {
    return `{${Object.keys(v).sort().filter((k) => (v as Record<string, unknown>)[k] !== undefined).map((k) => `${JSON.stringify(k)}:${stableJson((v as Record<string, unknown>)[k])}`).join(',')}}`;
  }
  return JSON.stringify(v ?? null);
}

export function shardRecord(s: ShardSpec, examples: number, run: string, data?: DataRecord, unit = 1): ShardRecord {
  const [start, end] = shardRange(examples, s, unit);
  return { index: s.index, count: s.count, start, end, examples, run, ...(data !== undefined ? { data } : {}), ...(unit > 1 ? { unit } : {}) };
}

/** The default output name of shard K of N: `eval.shard-2-of-8.json`, `audit.shard-2-of-8`. */
export function shardName(base: string, s: ShardSpec, ext = ''): string {
  return `${base}.shard-${s.index}-of-${s.count}${ext}`;
}
