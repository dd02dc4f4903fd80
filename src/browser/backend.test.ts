import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { chooseBackend } from './backend.js';

test('chooseBackend falls back past a backend that cannot start and says why', async () => {
  // Node has no WebGL: the webgl backend fails to initialise and cpu is next.
  const warn = console.warn;
  console.warn = () => undefined; // TF.js logs the failed webgl initialisation
  try {
    const r = await chooseBackend({ wasmPath: 'http://127.0.0.1/wasm/', order: ['webgl', 'cpu'] });
    assert.equal(r.backend, 'cpu');
    assert.equal(tf.getBackend(), 'cpu');
    assert.deepEqual(r.skipped.map((s) => s.backend), ['webgl']);
  } finally {
    console.warn = warn;
  }
  await assert.rejects(chooseBackend({ wasmPath: '/wasm/', order: ['gpu' as 'cpu'] }), /backend: expected one of webgl, wasm, cpu, got 'gpu'/);
  await assert.rejects(chooseBackend({ wasmPath: '/wasm' }), /wasmPath: expected a URL prefix ending in '\/', got '\/wasm'/);
});

test("the package's alp/browser export resolves to the browser entry", async () => {
  const m = await import('alp/browser');
  for (const k of ['Pgd', 'Fgsm', 'Apgd', 'Square', 'guard', 'loadModelFromUrl', 'loadZooModelFromUrl', 'loadDetectorFromUrl', 'loadGuardFromUrl', 'chooseBackend', 'logitsOf', 'parseDetectorFile']) {
    assert.equal(typeof (m as Record<string, unknown>)[k], 'function', k);
  }
  assert.equal(typeof m.tf.tensor, 'function');
});

test("chooseBackend installs alp's gradient corrections (here: cpu's average-pooling gradient), as setupBackend does in Node", async () => {
  const r = await chooseBackend({ wasmPath: 'http://127.0.0.1/wasm/', order: ['cpu'] });
  assert.equal(r.backend, 'cpu');
  // TF.js' AvgPoolGrad divides a 'same'-padded corner by the full window: 4/9 instead of 0.6944.
  const g = tf.tidy(() => tf.grad((x: tf.Tensor) => tf.sum(tf.avgPool(x as tf.Tensor4D, 3, 1, 'same')))(tf.ones([1, 4, 4, 1])).dataSync() as Float32Array);
  assert.ok(Math.abs((g[0] as number) - 0.6944) < 1e-3, `corner gradient ${g[0]}`);
});
