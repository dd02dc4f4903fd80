import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { WorkerPool, WorkerCrashedError, checkWorkers } from './pool.js';
import { UserError, EXIT } from '../util/errors.js';
import { nativeApi } from '../backend/native-kernels.js';

const FIXTURE = new URL('./pool.fixture.js', import.meta.url);

function workerHandles(): number {
  return process.getActiveResourcesInfo().filter((r) => r === 'Worker' || r === 'MessagePort').length;
}

test('pool: workers run tasks in their own threads, keep state in order, report errors and deaths, and close without leaking threads', async () => {
  const before = workerHandles();
  const pool = await WorkerPool.start({ size: 2, handlers: FIXTURE, backend: 'cpu' });
  try {
    assert.equal(pool.size, 2);
    assert.equal(pool.backend, 'cpu');
    const who = await pool.broadcast<{ threadId: number; backend: string }>('whoami');
    assert.equal(new Set(who.map((w) => w.threadId)).size, 2);
    assert.ok(who.every((w) => w.threadId !== 0 && w.backend === 'cpu'));
    // Calls to one worker run in the order sent; each worker has its own state.
    const counts = await Promise.all([pool.call(0, 'count', 1), pool.call(0, 'count', 10), pool.call(1, 'count', 100)]);
    assert.deepEqual(counts, [1, 11, 100]);
    assert.deepEqual(await pool.map('count', [1, 2]), [12, 102]);
    // Transferred results arrive intact.
    const { x } = await pool.call<{ x: Float32Array }>(1, 'big', 1000);
    assert.equal(x.length, 1000);
    assert.equal(x[999], 999);
    assert.deepEqual(await pool.broadcast('numTensors'), [0, 0]);

    // A task error rejects only that call; a UserError keeps its message and exit status.
    await assert.rejects(pool.call(0, 'userError'), (e: unknown) => e instanceof UserError && e.code === EXIT.usage && e.message === 'field x: expected 1, got 2');
    await assert.rejects(pool.call(0, 'bug'), (e: unknown) => e instanceof Error && !(e instanceof UserError) && /worker 0, task 'bug': something is undefined/.test(e.message) && e.name === 'TypeError');
    await assert.rejects(pool.call(0, 'nope'), /unknown task 'nope'/);
    assert.equal(await pool.call(0, 'count', 5), 17); // the worker lives on, its state intact

    // A worker killed mid-task fails its pending and later calls with WorkerCrashedError, never hangs.
    const hung = pool.call(1, 'hang');
    const queued = pool.call(1, 'count', 1);
    await pool.kill(1);
    for (const p of [hung, queued, pool.call(1, 'whoami')]) {
      await assert.rejects(p, (e: unknown) => e instanceof WorkerCrashedError && e.worker === 1 && e.task === 'hang' && e.code === EXIT.worker);
    }
    // A worker that exits by itself names its exit code.
    await assert.rejects(pool.call(0, 'exit', 3), (e: unknown) => e instanceof WorkerCrashedError && e.exitCode === 3 && /worker 0 died during 'exit'.*exit code 3/.test(e.message));
  } finally {
    await pool.close();
    await pool.close(); // idempotent
  }
  assert.equal(workerHandles(), before);
  await assert.rejects(pool.call(0, 'whoami'), /closed/);
});

test('pool: wasm workers load the native kernels each, single-threaded, and compute what the main thread computes', async () => {
  const n = 64;
  const a = Array.from({ length: n * n }, (_, i) => Math.sin(i));
  const b = Array.from({ length: n * n }, (_, i) => Math.cos(i * 0.7));
  const pool = await WorkerPool.start({ size: 2, handlers: FIXTURE, backend: 'wasm' });
  try {
    assert.equal(pool.backend, 'wasm');
    const who = await pool.broadcast<{ native: boolean; threads: number | null }>('whoami');
    // Where the addon is built (as here), every worker loads its own instance of it, on one thread.
    const built = nativeApi() !== null;
    for (const w of who) {
      assert.equal(w.native, built);
      if (built) assert.equal(w.threads, 1);
    }
    const [r0, r1] = await pool.broadcast<number[]>('matmul', { a, b, n });
    assert.deepEqual(r0, r1);
    const ref = tf.tidy(() => tf.matMul(tf.tensor2d(a, [n, n]), tf.tensor2d(b, [n, n])).dataSync());
    for (let i = 0; i < ref.length; i++) assert.ok(Math.abs(r0![i]! - ref[i]!) < 1e-3, `element ${i}`);
  } finally {
    await pool.close();
  }
});

test('pool: a worker that cannot start fails start() with a clear error and leaves no thread behind', async () => {
  const before = workerHandles();
  await assert.rejects(WorkerPool.start({ size: 2, handlers: new URL('./no-such-handlers.js', import.meta.url), backend: 'cpu' }), /no-such-handlers/);
  assert.equal(workerHandles(), before);
  assert.throws(() => checkWorkers(0), /workers: expected an integer from 1 to 256, got 0/);
  assert.throws(() => checkWorkers(1.5), /got 1.5/);
});
