/** Handlers for pool.test.ts: each exercises one path of the pool (results, errors, deaths, transfers). */
import { threadId } from 'node:worker_threads';
import * as tf from '@tensorflow/tfjs';
import { nativeApi } from '../backend/native-kernels.js';
import { nativeKernelsInstalled } from '../backend/native-kernels.js';
import { UserError } from '../util/errors.js';
import { transfer, type Handlers } from './protocol.js';

let counter = 0;

export const handlers: Handlers = {
  whoami: () => ({ threadId, backend: tf.getBackend(), native: nativeKernelsInstalled(), threads: nativeApi()?.numThreads() ?? null }),
  // State kept between calls, in call order.
  count: (by: number) => (counter += by),
  matmul: ({ a, b, n }: { a: number[]; b: number[]; n: number }) =>
    tf.tidy(() => Array.from(tf.matMul(tf.tensor2d(a, [n, n]), tf.tensor2d(b, [n, n])).dataSync())),
  numTensors: () => tf.memory().numTensors,
  big: (n: number) => {
    const x = new Float32Array(n).map((_, i) => i);
    return transfer({ x }, [x.buffer]);
  },
  userError: () => {
    throw new UserError('field x: expected 1, got 2');
  },
  bug: () => {
    throw new TypeError('something is undefined');
  },
  exit: (code: number) => process.exit(code),
  hang: () => new Promise(() => undefined),
};
