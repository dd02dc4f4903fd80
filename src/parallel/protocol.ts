/**
 * The messages between a WorkerPool and its worker threads, and the one marker a handler uses to hand
 * large results back without copying. No Node imports: handler modules import this freely.
 */

/** Passed to every worker as `workerData`. */
export interface WorkerBoot {
  /** The worker's index in its pool (0-based). */
  index: number;
  /** URL (href) of the ESM module exporting `handlers`. */
  handlers: string;
  /** Backend the worker sets up before importing the handlers. */
  backend: string;
  /** Native addon / OpenBLAS threads in this worker. */
  threads: number;
}

export interface Request {
  id: number;
  task: string;
  payload: unknown;
}

export interface SerializedError {
  name: string;
  message: string;
  stack?: string;
  /** The exit status of a UserError; absent for other errors. */
  code?: number;
}

export type Response = { id: number; ok: true; result: unknown } | { id: number; ok: false; error: SerializedError };

/** The first message of a worker: ready, or why it could not start. */
export type Ready = { ready: true; backend: string } | { ready: false; error: SerializedError };

/**
 * A handler's work, by task name. The payload arrives structured-cloned; what a worker must keep between
 * calls (its model replica) lives in the handler module's own scope.
 */
export type Handler = (payload: any) => unknown | Promise<unknown>;
export type Handlers = Record<string, Handler>;

const TRANSFER = Symbol.for('alp.parallel.transfer');

/** A result whose buffers move to the main thread instead of being copied (they are unusable after). */
export interface Transferred<T> {
  [TRANSFER]: true;
  value: T;
  buffers: ArrayBuffer[];
}

/** Marks `value` to be sent with `buffers` transferred: for gradients and weights, which are large. */
export function transfer<T>(value: T, buffers: ArrayBuffer[]): Transferred<T> {
  return { [TRANSFER]: true, value, buffers };
}

export function isTransferred(x: unknown): x is Transferred<unknown> {
  return typeof x === 'object' && x !== null && (x as Record<symbol, unknown>)[TRANSFER] === true;
}
