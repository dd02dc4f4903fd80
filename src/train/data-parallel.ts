/**
 * One data-parallel training step over a group of replicas (train/replica.ts): the batch is split into
 * fixed shares (train/shares.ts), each replica returns its share's gradient of the whole batch's loss,
 * the gradients are summed in worker order (float32, worker 0 + worker 1 + …: the order is fixed, so a
 * run with a given N is bit-reproducible), and every replica applies the same sum with its own
 * optimizer. Batch-norm moving statistics, the only state a forward pass changes, are averaged across
 * the shares in the same fixed order and handed back with the sum.
 *
 * Where the replicas run is the group's business: worker threads (train/train-replicas.ts), or one
 * thread, one after the other (`InThreadReplicas`, for tests of the step logic itself).
 */
import type { Batch } from '../data/dataset.js';
import type { TrainConfig } from './config.js';
import { Replica, type ReplicaInit, type ReplicaState, type ReplicaUpdate, type ShareResult, type ShareTask } from './replica.js';
import { splitShares, takeRows } from './shares.js';

export interface ReplicaGroup {
  readonly size: number;
  /** Share i to replica i; results in replica order. */
  gradients(tasks: ShareTask[]): Promise<ShareResult[]>;
  /** The same update to every replica. */
  apply(u: ReplicaUpdate): Promise<void>;
  /** One replica's weights and weight average (and optimizer state unless `weightsOnly`). */
  state(replica: number, weightsOnly?: boolean): Promise<ReplicaState>;
  close(): Promise<void>;
}

/** Starts a group of `size` replicas from the same model and optimizer state. */
export type ReplicaStarter = (size: number, init: ReplicaInit) => Promise<ReplicaGroup>;

/** N replicas in this thread, run one after the other: the step logic without threads. */
export class InThreadReplicas implements ReplicaGroup {
  private constructor(private readonly replicas: Replica[]) {}

  static async start(size: number, init: ReplicaInit): Promise<InThreadReplicas> {
    const list: Replica[] = [];
    for (let i = 0; i < size; i++) list.push(await Replica.create(init));
    return new InThreadReplicas(list);
  }

  get size(): number {
    return this.replicas.length;
  }

  async gradients(tasks: ShareTask[]): Promise<ShareResult[]> {
    return tasks.map((t, i) => (this.replicas[i] as Replica).gradient(t));
  }

  async apply(u: ReplicaUpdate): Promise<void> {
    for (const r of this.replicas) r.apply(u);
  }

  async state(replica: number, weightsOnly = false): Promise<ReplicaState> {
    const s = await (this.replicas[replica] as Replica).state();
    return weightsOnly ? { ...s, optimizer: [] } : s;
  }

  async close(): Promise<void> {
    for (const r of this.replicas.splice(0)) r.dispose();
  }
}

export const startInThread: ReplicaStarter = (size, init) => InThreadReplicas.start(size, init);

/** Σ over workers of their gradients, added in worker order in float32. */
export function sumInOrder(results: ReadonlyArray<Pick<ShareResult, 'grads'>>): Float32Array[] {
  const first = results[0];
  if (first === undefined) throw new Error('sumInOrder: no results');
  const out = first.grads.map((g) => Float32Array.from(g));
  for (let w = 1; w < results.length; w++) {
    const gs = (results[w] as ShareResult).grads;
    out.forEach((acc, i) => {
      const g = gs[i] as Float32Array;
      if (g.length !== acc.length) throw new Error(`sumInOrder: worker ${w} sent ${g.length} values for weight ${i}, expected ${acc.length}`);
      for (let j = 0; j < acc.length; j++) acc[j] = (acc[j] as number) + (g[j] as number);
    });
  }
  return out;
}

/** Mean of the non-trainable weights over the replicas that had rows, in worker order. */
export function meanBuffers(results: ReadonlyArray<ShareResult>, tasks: ReadonlyArray<ShareTask>): Float32Array[] {
  const used = results.filter((_, i) => (tasks[i] as ShareTask).y.length > 0);
  const first = used[0];
  if (first === undefined || first.buffers.length === 0) return [];
  return first.buffers.map((b, i) => {
    const acc = new Float64Array(b.length);
    for (const r of used) (r.buffers[i] as Float32Array).forEach((v, j) => (acc[j] = (acc[j] as number) + v));
    return Float32Array.from(acc, (v) => v / used.length);
  });
}

export interface StepOutcome {
  loss: number;
  parts: Record<string, number>;
}

/**
 * Runs data-parallel steps on a group; the weights live in the replicas. A step's update travels with
 * the next step's shares (one round trip per step); `flush` applies it now, before the replicas are read.
 */
export class DataParallelTrainer {
  private pending: ReplicaUpdate | null = null;

  constructor(
    readonly group: ReplicaGroup,
    private readonly c: TrainConfig,
    private readonly shape: [number, number, number],
  ) {}

  /** `averageDecay`: with weight averaging, the decay of this step's update of the average. */
  async step(batch: Batch, step: number, lr: number, eps: number, averageDecay?: number): Promise<StepOutcome> {
    const row = this.shape[0] * this.shape[1] * this.shape[2];
    const whole = { examples: batch.size, pairs: Math.floor(batch.size / 2) };
    const tasks: ShareTask[] = splitShares(this.c.method, batch.size, this.group.size).map((share) => ({
      x: takeRows(batch.x, row, share), y: takeRows(batch.y, 1, share), ids: takeRows(batch.ids, 1, share),
      shape: this.shape, step, eps, whole, ...(this.pending !== null ? { apply: this.pending } : {}),
    }));
    this.pending = null;
    const results = await this.group.gradients(tasks);
    const grads = sumInOrder(results);
    // A non-finite loss stops the run before the step is applied (the caller reports the divergence).
    let loss = 0;
    const parts: Record<string, number> = {};
    for (const r of results) {
      loss += r.loss;
      for (const [k, v] of Object.entries(r.parts)) parts[k] = (parts[k] ?? 0) + v;
    }
    if (Number.isFinite(loss)) this.pending = { lr, grads, buffers: meanBuffers(results, tasks), ...(averageDecay !== undefined ? { averageDecay } : {}) };
    return { loss, parts };
  }

  /** Applies the last step's update to every replica, if it has not travelled yet. */
  async flush(): Promise<void> {
    const u = this.pending;
    this.pending = null;
    if (u !== null) await this.group.apply(u);
  }
}
