/**
 * A fixed pool of worker threads, each with its own TF.js backend and whatever state its handler module
 * keeps (a model replica). It is the one place alp uses threads: data-parallel training, evaluation and
 * the benchmark all send it tasks by name.
 *
 * Failure is never a hang: a handler that throws rejects that call (a UserError stays one); a worker
 * that dies (killed, crashed outside a task, out of memory) rejects every pending and every later call
 * with WorkerCrashedError, which the CLI reports in one line with its own exit status.
 */
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import type { BackendChoice } from '../backend/select.js';
import { UserError, WorkerCrashedError, type ExitCode } from '../util/errors.js';
import type { Ready, Request, Response, SerializedError, WorkerBoot } from './protocol.js';

export { WorkerCrashedError };
export { transfer, type Handler, type Handlers } from './protocol.js';

export interface PoolOptions {
  /** Workers to start, at least 1. */
  size: number;
  /** The compiled ESM module (path or file URL) that exports `handlers`. */
  handlers: string | URL;
  /** Backend each worker sets up before importing the handlers (default 'auto'). */
  backend?: BackendChoice;
  /** Native addon / OpenBLAS threads per worker (default 1: the workers themselves use the cores). */
  threadsPerWorker?: number;
}

/** The default worker count: one per core. */
export function defaultWorkers(): number {
  return Math.max(1, availableParallelism());
}

/** Checks a worker count given by a user or a caller. `what` names the option in the message. */
export function checkWorkers(n: unknown, what = 'workers'): number {
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 1 || n > 256) {
    throw new UserError(`${what}: expected an integer from 1 to 256, got ${JSON.stringify(n)}`);
  }
  return n;
}

interface Pending {
  task: string;
  resolve: (v: unknown) => void;
  reject: (e: Error) => void;
}

interface Slot {
  worker: Worker;
  pending: Map<number, Pending>;
  /** Set once the worker is gone; every later call fails with it. */
  dead: Error | null;
  exited: Promise<void>;
}

function revive(e: SerializedError, worker: number, task: string): Error {
  if (typeof e.code === 'number') {
    const u = new UserError(e.message, e.code as ExitCode);
    u.name = e.name;
    return u;
  }
  // A bug inside the worker: keep its stack, say where it ran.
  const err = new Error(`worker ${worker}, task '${task}': ${e.message}`);
  err.name = e.name;
  if (e.stack !== undefined) err.stack = `${err.name}: ${err.message}\n    (in the worker)\n${e.stack.split('\n').slice(1).join('\n')}`;
  return err;
}

/**
 * Routes a worker's messages: first its Ready (to `start`), then responses to their callers; on its
 * death, fails every pending and later call.
 */
function wire(slot: Slot, index: number, state: { closed: boolean }, start: { resolve: (backend: string) => void; reject: (e: Error) => void }): void {
  let ready = false;
  slot.worker.on('message', (m: Response | Ready) => {
    if (!ready) {
      const r = m as Ready;
      if (r.ready) {
        ready = true;
        start.resolve(r.backend);
      } else {
        slot.dead = revive(r.error, index, 'start');
        start.reject(slot.dead);
      }
      return;
    }
    const res = m as Response;
    const p = slot.pending.get(res.id);
    if (p === undefined) return;
    slot.pending.delete(res.id);
    if (res.ok) p.resolve(res.result);
    else p.reject(revive(res.error, index, p.task));
  });
  const die = (reason: string, exitCode: number | null): void => {
    if (slot.dead !== null) return;
    const first = slot.pending.values().next();
    const task = first.done === true ? (ready ? null : 'start') : first.value.task;
    slot.dead = state.closed ? new Error('worker pool is closed') : new WorkerCrashedError(index, task, exitCode, reason);
    for (const p of slot.pending.values()) p.reject(slot.dead);
    slot.pending.clear();
    if (!ready) start.reject(slot.dead);
  };
  slot.worker.on('error', (e: Error) => die(e.message, null));
  slot.worker.on('exit', (code: number) => die(code === 1 ? 'killed or crashed' : 'exited', code));
}

export class WorkerPool {
  readonly size: number;
  /** The backend the workers actually run (as their setupBackend reported it). */
  readonly backend: string;
  private readonly slots: Slot[];
  private nextId = 1;
  private readonly state: { closed: boolean };

  private constructor(slots: Slot[], backend: string, state: { closed: boolean }) {
    this.slots = slots;
    this.size = slots.length;
    this.backend = backend;
    this.state = state;
  }

  private get closed(): boolean {
    return this.state.closed;
  }

  /** Starts `size` workers and resolves when all are ready; if one fails, all are stopped and it rejects. */
  static async start(o: PoolOptions): Promise<WorkerPool> {
    const size = checkWorkers(o.size, 'pool size');
    const threads = checkWorkers(o.threadsPerWorker ?? 1, 'threads per worker');
    const handlers = o.handlers instanceof URL ? o.handlers.href : /^[a-z]+:/i.test(o.handlers) ? o.handlers : new URL(`file://${o.handlers.startsWith('/') ? '' : process.cwd() + '/'}${o.handlers}`).href;
    const script = new URL('./worker.js', import.meta.url);
    const slots: Slot[] = [];
    const readies: Promise<string>[] = [];
    const state = { closed: false };
    for (let i = 0; i < size; i++) {
      const boot: WorkerBoot = { index: i, handlers, backend: o.backend ?? 'auto', threads };
      const worker = new Worker(script, { workerData: boot });
      const slot: Slot = { worker, pending: new Map(), dead: null, exited: new Promise((r) => worker.once('exit', () => r())) };
      slots.push(slot);
      // Listeners go on at once: an 'error' with no listener would throw in the main thread.
      readies.push(new Promise<string>((resolve, reject) => wire(slot, i, state, { resolve, reject })));
    }
    const settled = await Promise.allSettled(readies);
    const failed = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
    if (failed !== undefined) {
      state.closed = true;
      await Promise.all(slots.map(async (s) => { await s.worker.terminate(); await s.exited; }));
      throw failed.reason;
    }
    const backends = settled.map((s) => (s as PromiseFulfilledResult<string>).value);
    return new WorkerPool(slots, backends[0]!, state);
  }

  /** Sends one task to one worker; tasks on the same worker run in the order they were sent. */
  call<T>(worker: number, task: string, payload?: unknown, transferList?: ArrayBuffer[]): Promise<T> {
    const slot = this.slots[worker];
    if (slot === undefined) return Promise.reject(new RangeError(`worker ${worker}: the pool has ${this.size}`));
    if (this.closed) return Promise.reject(new Error('worker pool is closed'));
    if (slot.dead !== null) return Promise.reject(slot.dead);
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      slot.pending.set(id, { task, resolve: resolve as (v: unknown) => void, reject });
      slot.worker.postMessage({ id, task, payload } satisfies Request, transferList ?? []);
    });
  }

  /** Payload i to worker i (there must be one per worker or fewer); results in the same order. */
  map<T>(task: string, payloads: readonly unknown[]): Promise<T[]> {
    if (payloads.length > this.size) return Promise.reject(new RangeError(`map: ${payloads.length} payloads for ${this.size} workers`));
    return Promise.all(payloads.map((p, i) => this.call<T>(i, task, p)));
  }

  /** The same payload to every worker. */
  broadcast<T>(task: string, payload?: unknown): Promise<T[]> {
    return Promise.all(this.slots.map((_, i) => this.call<T>(i, task, payload)));
  }

  /** Terminates every worker and waits for the threads to end. Safe to call twice. */
  async close(): Promise<void> {
    if (this.closed) {
      await Promise.all(this.slots.map((s) => s.exited));
      return;
    }
    this.state.closed = true;
    await Promise.all(this.slots.map(async (s) => {
      await s.worker.terminate();
      await s.exited;
    }));
  }

  /** Kills worker `i` as an OS would (for tests of the failure path). */
  async kill(i: number): Promise<void> {
    await this.slots[i]?.worker.terminate();
  }
}
