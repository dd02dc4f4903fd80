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
  for (const k of ['Pgd', 'Fgsm', 'Apgd', 'Square', 'guard', 'loadModelFromUrl', 'loadDetectorFromUrl', 'loadGuardFromUrl', 'chooseBackend', 'logitsOf', 'parseDetectorFile']) {
    assert.equal(typeof (m as Record<string, unknown>)[k], 'function', k);
  }
  assert.equal(typeof m.tf.tensor, 'function');
});
