/**
 * A stand-in for `@tensorflow/tfjs-node`, which cannot be installed here: like the real package it
 * registers a backend named 'tensorflow' with tfjs when imported (here the cpu backend's kernels under
 * that name), so alp's `--backend tensorflow` path runs end to end in tests. Each import appends the
 * thread id to the file named by ALP_FAKE_TFJS_NODE_LOG, so a test can see that workers load it too.
 * Reached only through fake-tfjs-node-hooks.ts. Not part of the public API.
 */
import { appendFileSync } from 'node:fs';
import { threadId } from 'node:worker_threads';
import * as tf from '@tensorflow/tfjs';

const cpu = tf.findBackendFactory('cpu');
if (cpu === null) throw new Error('fake tfjs-node: the cpu backend is not registered');
if (tf.findBackendFactory('tensorflow') === null) {
  for (const k of tf.getKernelsForBackend('cpu')) tf.registerKernel({ ...k, backendName: 'tensorflow' });
  // Priority above wasm and cpu, as the real package's. The cpu backend's "install tfjs-node" banner
  // would be odd here: mark it as already shown.
  tf.registerBackend('tensorflow', () => {
    const b = cpu() as tf.KernelBackend & { firstUse?: boolean };
    b.firstUse = false;
    return b;
  }, 3);
}
const log = process.env['ALP_FAKE_TFJS_NODE_LOG'];
if (log !== undefined && log !== '') appendFileSync(log, `${threadId}\n`);

export const version = 'fake';
