/**
 * The handler module of data-parallel training's worker threads (see train/replica.ts for what a
 * replica does, train/data-parallel.ts for the step). Each worker keeps one replica in this module's
 * scope; gradients and weights go back to the main thread transferred, not copied.
 */
import { transfer, type Handlers } from '../parallel/protocol.js';
import { Replica, type ReplicaInit, type ReplicaUpdate, type ShareTask } from './replica.js';

let replica: Replica | null = null;

function current(): Replica {
  if (replica === null) throw new Error("train worker: no replica yet (send 'init' first)");
  return replica;
}

export const handlers: Handlers = {
  init: async (init: ReplicaInit) => {
    replica?.dispose();
    replica = null;
    replica = await Replica.create(init);
    return null;
  },
  gradient: (t: ShareTask) => {
    const r = current().gradient(t);
    return transfer(r, [...r.grads, ...r.buffers].map((a) => a.buffer as ArrayBuffer));
  },
  apply: (u: ReplicaUpdate) => {
    current().apply(u);
    return null;
  },
  state: async (o: { weightsOnly: boolean }) => {
    const s = await current().state();
    const out = o.weightsOnly ? { ...s, optimizer: [] } : s;
    return transfer(out, [...out.weights, ...out.optimizer, ...out.average].map((r) => r.values.buffer as ArrayBuffer));
  },
};
