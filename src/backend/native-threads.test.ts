/**
 * The native addon in several worker threads at once: each thread loads its own instance (the addon is
 * context-aware) and computes the same bits as the main thread, concurrently, with no shared state in
 * the way. Skipped when the addon is not built.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Worker } from 'node:worker_threads';
import { fileURLToPath } from 'node:url';
import { nativeSkip, requireNative } from '../testing/native.js';
import { nativeApi } from './native-kernels.js';

const ADDON = fileURLToPath(new URL('../../native/index.cjs', import.meta.url));

// Runs in each worker (CommonJS eval): a convolution, a bias gradient and an Adam step on fixed inputs.
const WORK = `
const { parentPort, workerData } = require('node:worker_threads');
const m = require(workerData.addon);
m.setNumThreads(1);
const f = (n, k) => Float32Array.from({ length: n }, (_, i) => Math.sin(i * k) * 0.5);
const out = { conv: new Float32Array(8 * 10 * 10 * 6), sum: new Float32Array(6), adam: new Float32Array(500) };
for (let rep = 0; rep < 20; rep++) {
  m.conv2d(f(8 * 10 * 10 * 3, 0.1), 8, 10, 10, 3, f(3 * 3 * 3 * 6, 0.7), 3, 3, 6, out.conv, 10, 10, 1, 1, 1, 1, f(6, 0.3), true);
  m.sumRows(out.conv, 800, 6, out.sum);
  const t = [new Float32Array(500), new Float32Array(500)];
  m.adamUpdate(f(500, 0.2), f(500, 0.3), f(500, 0.4).map(Math.abs), f(500, 0.5), out.adam, t[0], t[1], 500, 0.9, 0.1, 0.999, 0.001, 0.1, 0.001, 1e-7, -0.01);
}
parentPort.postMessage(out);
`;

test('native addon: two worker threads compute concurrently, with the same bits as the main thread', async (t) => {
  const why = nativeSkip();
  if (why !== false) {
    t.skip(why);
    return;
  }
  requireNative();
  const run = () => new Promise<Record<string, Float32Array>>((resolve, reject) => {
    const w = new Worker(WORK, { eval: true, workerData: { addon: ADDON } });
    w.once('message', (m: Record<string, Float32Array>) => resolve(m));
    w.once('error', reject);
    w.once('exit', (code) => { if (code !== 0) reject(new Error(`worker exited with ${code}`)); });
  });
  const [a, b] = await Promise.all([run(), run()]);
  for (const key of ['conv', 'sum', 'adam']) {
    const x = a![key]!, y = b![key]!;
    assert.ok(x.some((v) => v !== 0), `${key}: computed something`);
    assert.deepEqual(Array.from(x), Array.from(y), `${key}: both workers agree`);
  }
  const sum = new Float32Array(6);
  nativeApi()!.sumRows(a!['conv']!, 800, 6, sum);
  assert.deepEqual(Array.from(sum), Array.from(a!['sum']!), 'the main thread agrees');
});
