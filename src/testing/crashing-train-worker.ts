/**
 * Data-parallel training's worker handlers, except that worker 1 ends its thread (exit code 3) when
 * asked for the gradient of step 3: a worker that dies mid-training, for the test that the trainer
 * reports it and keeps the last checkpoint. Not part of the public API.
 */
import { workerData } from 'node:worker_threads';
import { handlers as real } from '../train/train-worker.js';
import type { Handlers } from '../parallel/protocol.js';
import type { ShareTask } from '../train/replica.js';

export const handlers: Handlers = {
  ...real,
  gradient: (t: ShareTask) => {
    if ((workerData as { index: number }).index === 1 && t.step === 3) process.exit(3);
    return (real.gradient as (p: ShareTask) => unknown)(t);
  },
};
