/**
 * `alp merge` for `alp compare --shard K/N`: shard K trained, audited and measured its slice of the
 * run's methods (shardRange over the method list) and wrote compare.shard-K-of-N.json beside its method
 * folders. The merge lists the methods in the run's order, as the unsharded run does, recomputes the best
 * method over all of them, and names each method folder, so the merged folder holds them all. Each
 * method's numbers are its shard's: the pace behind its step count is measured on the machine that
 * trained it (compare.md explains why budgets on different machines still compare).
 */
import { dirname, join } from 'node:path';
import { bestOf, COMPARE_SCHEMA, type CompareResult, type MethodResult } from '../compare/result.js';
import type { Method } from '../train/config.js';
import { isObj, type Obj } from '../artifacts/fields.js';
import { UserError } from '../util/errors.js';

/** The merged compare.json and, per method, the folder that holds its run. */
export interface MergedComparison {
  artifact: CompareResult;
  folders: Array<{ method: Method; from: string }>;
}

export function mergeCompare(shards: ReadonlyArray<{ file: string; json: Obj; shard: Obj & { start: number; end: number } }>): MergedComparison {
  const first = shards[0];
  if (first === undefined) throw new UserError('alp merge: no compare shards');
  const list = first.json['methodList'];
  if (!Array.isArray(list)) throw new UserError(`${first.file}: field methodList: expected the run's methods`);
  const methods: MethodResult[] = [];
  const folders: MergedComparison['folders'] = [];
  for (const { file, json, shard } of shards) {
    const mine = list.slice(shard.start, shard.end) as Method[];
    if (JSON.stringify(shard['methods']) !== JSON.stringify(mine)) throw new UserError(`${file}: field shard.methods: expected ${mine.join(', ')} (methods ${shard.start}…${shard.end - 1} of ${list.join(', ')}), found ${JSON.stringify(shard['methods'])}`);
    const done = json['methods'];
    if (!Array.isArray(done)) throw new UserError(`${file}: field methods: expected a list`);
    for (const m of done as MethodResult[]) {
      if (!isObj(m) || !mine.includes(m.method) || typeof m.folder !== 'string' || !/^[\w.-]+$/.test(m.folder)) throw new UserError(`${file}: field methods: ${JSON.stringify(isObj(m) ? m.method : m)} is not one of this shard's methods (${mine.join(', ')}) in a folder of its own`);
      methods.push(m);
      folders.push({ method: m.method, from: join(dirname(file), m.folder) });
    }
  }
  const { shard: _shard, ...rest } = first.json;
  if (rest['schema'] !== COMPARE_SCHEMA) throw new UserError(`${first.file}: field schema: expected ${COMPARE_SCHEMA}, found ${JSON.stringify(rest['schema'])}`);
  // Methods in the run's order, as the unsharded run lists them; the best over all of them.
  methods.sort((a, b) => list.indexOf(a.method) - list.indexOf(b.method));
  const artifact = { ...(rest as unknown as CompareResult), methods, best: null } as CompareResult;
  artifact.best = methods.length === list.length ? bestOf(methods) : null;
  return { artifact, folders };
}
