/**
 * Data-parallel training's replicas on worker threads: a WorkerPool whose workers each hold one
 * replica (train/train-worker.ts), behind the ReplicaGroup interface the trainer steps through.
 * Every worker runs the main thread's backend.
 */
import * as tf from '@tensorflow/tfjs';
import type { BackendChoice } from '../backend/select.js';
import type { ReplicaGroup } from './data-parallel.js';
import type { ReplicaInit, ReplicaState, ReplicaUpdate, ShareResult, ShareTask } from './replica.js';
import { WorkerPool } from '../parallel/pool.js';

export interface WorkerReplicaOptions {
  /** The handler module (default ./train-worker.js); tests substitute one that fails on purpose. */
  handlers?: URL;
  /** Default: the backend this thread runs. */
  backend?: BackendChoice;
}

const HANDLERS = new URL('./train-worker.js', import.meta.url);

function currentBackend(): BackendChoice {
  const b = tf.getBackend();
  return b === 'tensorflow' || b === 'wasm' || b === 'cpu' ? b : 'auto';
}

class WorkerReplicas implements ReplicaGroup {
  constructor(private readonly pool: WorkerPool) {}

  get size(): number {
    return this.pool.size;
  }

  gradients(tasks: ShareTask[]): Promise<ShareResult[]> {
    return this.pool.map<ShareResult>('gradient', tasks);
  }

  async apply(u: ReplicaUpdate): Promise<void> {
    await this.pool.broadcast('apply', u);
  }

  state(replica: number, weightsOnly = false): Promise<ReplicaState> {
    return this.pool.call<ReplicaState>(replica, 'state', { weightsOnly });
  }

  close(): Promise<void> {
    return this.pool.close();
  }
}

/** Starts `size` workers, each with a replica built from `init`; resolves when all are ready. */
export async function startWorkerReplicas(size: number, init: ReplicaInit, o: WorkerReplicaOptions = {}): Promise<ReplicaGroup> {
  const pool = await WorkerPool.start({ size, handlers: o.handlers ?? HANDLERS, backend: o.backend ?? currentBackend() });
  try {
    await pool.broadcast('init', init);
  } catch (e) {
    await pool.close();
    throw e;
  }
  return new WorkerReplicas(pool);
}
