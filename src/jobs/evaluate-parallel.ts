/**
 * `--workers N` for evaluation and audit: the examples are cut into slices, the pool's workers (each
 * with a replica of the model) evaluate them exactly as shards do, and the slices are joined with the
 * functions `alp merge` uses, so the per-example results do not depend on N. A worker that dies
 * rejects the run with WorkerCrashedError (exit 8), never a hang; the pool is closed on every path.
 */
import { existsSync, readFileSync } from 'node:fs';
import * as tf from '@tensorflow/tfjs';
import type { BackendChoice } from '../backend/select.js';
import type { Dataset } from '../data/dataset.js';
import { auditAttacks, auditKey, joinAuditParts, type AuditOptions, type AuditPart } from '../eval/audit.js';
import { joinEvalParts, joinSweepParts, type EvalPart, type SweepConfig, type SweepPart } from '../eval/evaluate.js';
import type { SuiteSpec } from '../eval/suite.js';
import type { LogitsFn } from '../model/classifier.js';
import { writeJsonAtomic } from '../util/atomic.js';
import { UserError } from '../util/errors.js';
import { checkpointInterrupt } from '../util/interrupt.js';
import type { AuditTaskOptions } from './eval-handlers.js';
import { WorkerPool, checkWorkers } from '../parallel/pool.js';
import { datasetPayload, modelPayload } from '../parallel/replica.js';

export interface ParallelOptions {
  /** Worker threads (≥ 1; 1 still runs in one worker: callers keep their in-thread path for 1). */
  workers: number;
  /** Examples per task (default: the batch size, or fewer so that every worker gets work). */
  chunk?: number;
  batchSize?: number;
  /** Backend of the workers (default: the one the main thread runs). */
  backend?: BackendChoice;
  /** After each slice: examples done, of how many, and how many of them are still robust. */
  onProgress?: (p: { done: number; total: number; robust: number }) => void;
  /** Called with the started pool (tests use it to kill a worker). */
  onPool?: (pool: WorkerPool) => void;
  /**
   * Aborting it hands out no more slices: the slices in flight finish (an audit saves them), then the
   * call fails with InterruptedError.
   */
  signal?: AbortSignal;
}

/** [start, end) cut into slices of at most `size`. */
export function slices(start: number, end: number, size: number): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  for (let a = start; a < end; a += size) out.push([a, Math.min(end, a + size)]);
  return out;
}

function chunkOf(o: ParallelOptions, n: number): number {
  const c = o.chunk ?? Math.min(o.batchSize ?? 250, Math.ceil(n / o.workers));
  if (!Number.isInteger(c) || c < 1) throw new UserError(`chunk: expected an integer ≥ 1, got ${c}`);
  return c;
}

function mainBackend(): BackendChoice {
  const b = tf.getBackend();
  return b === 'wasm' || b === 'cpu' || b === 'tensorflow' ? b : 'auto';
}

/**
 * Starts a pool with the model replicas, runs `work` on it and always closes it. The slices go to the
 * workers as they become free (a queue), so unequal slices (the audit's first ones carry its
 * diagnostics) still keep every worker busy.
 */
export async function withReplicas<T>(model: tf.LayersModel | LogitsFn, ds: Dataset, o: ParallelOptions, surrogate: tf.LayersModel | undefined, work: (pool: WorkerPool) => Promise<T>): Promise<T> {
  const size = checkWorkers(o.workers, 'workers');
  const payload = { model: await modelPayload(model), ...(surrogate !== undefined ? { surrogate: await modelPayload(surrogate, 'surrogate') } : {}), ds: datasetPayload(ds) };
  const pool = await WorkerPool.start({ size, handlers: new URL('./eval-handlers.js', import.meta.url), backend: o.backend ?? mainBackend() });
  try {
    o.onPool?.(pool);
    await pool.broadcast('load', payload);
    return await work(pool);
  } finally {
    await pool.close();
  }
}

/**
 * Hands the jobs to the workers as they become free; `done` sees each result as it comes (in completion
 * order), the returned array is in job order. Once `signal` is aborted no more jobs go out; the ones in
 * flight finish, then it fails with InterruptedError.
 */
export async function queue<T>(pool: WorkerPool, jobs: Array<[number, number]>, run: (worker: number, range: [number, number]) => Promise<T>, done: (r: T, range: [number, number]) => void, signal?: AbortSignal): Promise<T[]> {
  const out = new Array<T>(jobs.length);
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(pool.size, jobs.length) }, async (_, w) => {
    while (next < jobs.length && signal?.aborted !== true) {
      const j = next++;
      const range = jobs[j] as [number, number];
      const r = await run(w, range);
      out[j] = r;
      done(r, range);
    }
  }));
  await checkpointInterrupt(signal);
  return out;
}

/** evalPart (and sweepPart) of rows [start, end), computed by `o.workers` workers. */
export async function evalPartParallel(
  model: tf.LayersModel | LogitsFn, ds: Dataset, suite: SuiteSpec, range: readonly [number, number], o: ParallelOptions & { sweep?: SweepConfig },
): Promise<{ part: EvalPart; sweep: SweepPart | null }> {
  const [start, end] = range;
  const jobs = slices(start, end, chunkOf(o, end - start));
  let done = 0, robust = 0;
  const results = await withReplicas(model, ds, o, undefined, (pool) => queue(pool, jobs,
    (w, r) => pool.call<{ part: EvalPart; sweep: SweepPart | null }>(w, 'evalSlice', { suite, range: r, ...(o.batchSize !== undefined ? { batchSize: o.batchSize } : {}), ...(o.sweep !== undefined ? { sweep: o.sweep } : {}) }),
    (r) => {
      done += r.part.end - r.part.start;
      robust += r.part.correct.filter((c, i) => c === 1 && r.part.attacks.every((a) => a.fooled[i] === 0)).length;
      o.onProgress?.({ done, total: end - start, robust });
    }, o.signal));
  if (jobs.length === 0) throw new UserError('evaluation: no examples');
  return { part: joinEvalParts(results.map((r) => r.part)), sweep: o.sweep !== undefined ? joinSweepParts(results.map((r) => r.sweep as SweepPart)) : null };
}

/** One attack on rows [start, end) (`alp attack`), verified by the runner in each worker, joined in row order. */
export async function attackParallel(
  model: tf.LayersModel | LogitsFn, ds: Dataset, suite: SuiteSpec, range: readonly [number, number], o: ParallelOptions & { target?: number },
): Promise<{ data: Float32Array; success: Uint8Array; pred: Int32Array; perturbation: Float32Array }> {
  const [start, end] = range;
  const jobs = slices(start, end, chunkOf(o, end - start));
  let done = 0, fooled = 0;
  type Slice = { data: Float32Array; success: Uint8Array; pred: Int32Array; perturbation: Float32Array };
  const parts = await withReplicas(model, ds, o, undefined, (pool) => queue(pool, jobs,
    (w, r) => pool.call<Slice>(w, 'attackSlice', { suite, range: r, ...(o.target !== undefined ? { target: o.target } : {}) }),
    (r) => {
      done += r.success.length;
      fooled += r.success.reduce((a, b) => a + b, 0);
      o.onProgress?.({ done, total: end - start, robust: done - fooled });
    }, o.signal));
  const join = <T extends Float32Array | Uint8Array | Int32Array>(make: (n: number) => T, pick: (s: Slice) => T): T => {
    const out = make(parts.reduce((a, s) => a + pick(s).length, 0));
    let at = 0;
    for (const s of parts) {
      out.set(pick(s) as never, at);
      at += pick(s).length;
    }
    return out;
  };
  return {
    data: join((n) => new Float32Array(n), (s) => s.data), success: join((n) => new Uint8Array(n), (s) => s.success),
    pred: join((n) => new Int32Array(n), (s) => s.pred), perturbation: join((n) => new Float32Array(n), (s) => s.perturbation),
  };
}

const PARALLEL_STATE = 'alp.audit-parallel-state/1';

interface ParallelState {
  format: typeof PARALLEL_STATE;
  key: string;
  /** Finished slices, by their start row. */
  parts: Array<Omit<AuditPart, 'kept'> & { kept: Array<{ id: number; data: number[] }> }>;
}

/**
 * auditPart of rows [start, end), computed by `o.workers` workers. With `statePath`, every finished
 * slice is saved, and a run with the same key (model, data, settings, slices) skips them: an
 * interrupted parallel audit resumes slice by slice.
 */
export async function auditPartParallel(
  model: tf.LayersModel | LogitsFn, ds: Dataset, opts: AuditOptions, range: readonly [number, number],
  o: ParallelOptions & { surrogate?: { model: tf.LayersModel; name: string; seed: number }; onResume?: (resumed: boolean) => void },
): Promise<AuditPart> {
  if ((opts.extraAttacks ?? []).length > 0) throw new UserError('audit: extraAttacks cannot be sent to workers (pass a surrogate model instead, or use workers: 1)');
  const [start, end] = range;
  const chunk = chunkOf(o, end - start);
  const jobs = slices(start, end, chunk);
  const task: AuditTaskOptions = {
    threat: opts.threat, version: opts.version, seed: opts.seed,
    ...(opts.batchSize !== undefined ? { batchSize: opts.batchSize } : {}),
    ...(opts.keepExamples !== undefined ? { keepExamples: opts.keepExamples } : {}),
    ...(o.surrogate !== undefined ? { transfer: { seed: o.surrogate.seed, surrogateName: o.surrogate.name } } : {}),
  };
  const keep = opts.keepExamples ?? 16;
  // The key of the whole slice set: what the result depends on, and how it was cut.
  const key = `${auditKey(model, ds, auditAttacks(opts, ds.numClasses), opts, range)}/${chunk}/${o.surrogate?.name ?? ''}`;
  const saved = loadParallelState(opts.statePath, key);
  if (opts.statePath !== undefined && existsSync(opts.statePath)) o.onResume?.(saved.size > 0);
  const state: ParallelState = { format: PARALLEL_STATE, key, parts: [...saved.values()].map(serialPart) };
  const todo = jobs.filter(([a]) => !saved.has(a));
  let done = 0, robust = 0;
  const count = (p: AuditPart): void => {
    done += p.end - p.start;
    robust += p.correct.filter((c, i) => c === 1 && p.fooledBy[i] === '').length;
  };
  for (const p of saved.values()) count(p);
  const fresh = todo.length === 0 ? [] : await withReplicas(model, ds, o, o.surrogate?.model, (pool) => queue(pool, todo,
    (w, r) => pool.call<AuditPart>(w, 'auditSlice', { options: task, range: r, modelChecks: r[0] === 0 }),
    (p) => {
      count(p);
      if (opts.statePath !== undefined) {
        state.parts.push(serialPart(p));
        writeJsonAtomic(opts.statePath, state);
      }
      o.onProgress?.({ done, total: end - start, robust });
    }, o.signal));
  return joinAuditParts([...saved.values(), ...fresh], keep);
}

function serialPart(p: AuditPart): ParallelState['parts'][number] {
  return { ...p, kept: p.kept.map((k) => ({ id: k.id, data: Array.from(k.data) })) };
}

function loadParallelState(path: string | undefined, key: string): Map<number, AuditPart> {
  const out = new Map<number, AuditPart>();
  if (path === undefined || !existsSync(path)) return out;
  let s: Partial<ParallelState>;
  try {
    s = JSON.parse(readFileSync(path, 'utf8')) as Partial<ParallelState>;
  } catch (e) {
    throw new UserError(`${path}: cannot resume, the state file is not valid JSON (${(e as Error).message}); delete it to start over`);
  }
  // Another format (the in-thread audit's) or another run: start over.
  if (s.format !== PARALLEL_STATE || s.key !== key || !Array.isArray(s.parts)) return out;
  for (const p of s.parts) out.set(p.start, { ...p, kept: p.kept.map((k) => ({ id: k.id, data: Float32Array.from(k.data) })) });
  return out;
}
