/**
 * A graph model (model/graph-model.ts) in the playground, in real headless Chromium: the page loads it
 * through the browser bundle, fetches its logits past the final softmax, puts it behind the page's
 * inputs (the fixture takes flat [B, 784] vectors), gives Node's logits, and PGD in the page
 * differentiates through the graph. Skips where Debian's chromium is not installed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import type { ModelOutput } from './protocol.js';
import { buildSite } from './site.js';
import { servePlayground } from './serve.js';
import { chromiumWorkDir, launchChromium } from '../testing/chromium.js';
import { mlpTwin, writeMlpGraph } from '../testing/graph-fixtures.js';
import { loadMnist, subset } from '../data/index.js';
import { loadModel, stripSoftmax } from '../model/io.js';
import { adaptModel } from '../model/adapt.js';


test('playground in headless Chromium: a graph model with flat inputs and a softmax output gives Node\'s logits, and PGD runs through it', { timeout: 180_000 }, async (t) => {
  const d = await chromiumWorkDir(t, 'alp-graph-playground-');
  if (d === null) return;
  writeMlpGraph(mlpTwin(4), join(d, 'graph'), { inputShape: [-1, 784] });
  const node = await loadModel(join(d, 'graph'));
  stripSoftmax(node);
  const adapted = adaptModel(node, [28, 28, 1]).model;
  const test4 = subset(loadMnist('test'), 0, 4);
  const site = buildSite(join(d, 'graph'), { samples: 4, data: test4 });

  const browser = await launchChromium();
  const server = await servePlayground(site);
  try {
    const page = await (await browser.newContext()).newPage();
    const problems: string[] = [];
    page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
    page.on('console', (m) => {
      if (m.type() === 'error') problems.push(`console error: ${m.text()}`);
    });
    await page.goto(`${server.url}?backend=wasm`, { waitUntil: 'load' });
    await page.waitForFunction(() => ['ready', 'error'].includes(document.getElementById('status')?.dataset['state'] ?? ''), null, { timeout: 60_000 });
    assert.equal(await page.locator('#status').getAttribute('data-state'), 'ready', `${await page.locator('#status').textContent()}; ${problems.join('; ')}`);

    const outs = await page.evaluate(() => (window as unknown as { alpPlayground: { predictSample(i: number): Promise<ModelOutput[]> } }).alpPlayground.predictSample(1));
    const want = tf.tidy(() => (adapted.predict(tf.tensor4d(test4.images.subarray(784, 2 * 784), [1, 28, 28, 1])) as tf.Tensor).dataSync());
    const got = outs[0]?.logits ?? [];
    const diff = Math.max(...Array.from(want, (v, k) => Math.abs(v - (got[k] ?? NaN))));
    t.diagnostic(`max |logit(page) - logit(node)|: ${diff.toExponential(2)}`);
    assert.ok(diff <= 1e-4, `logits differ by ${diff}`);

    // The bundle's own loader and PGD in the page: gradients flow through the graph executor there too.
    const r = await page.evaluate(async () => {
      const alp = await import(new URL('alp.js', location.href).href) as typeof import('../browser/index.js');
      await alp.chooseBackend({ wasmPath: new URL('wasm/', location.href).href, order: ['wasm'] });
      const flat = await alp.loadModelFromUrl('models/graph/model.json', { stripSoftmax: true });
      const model = alp.adaptModel(flat, [28, 28, 1]).model;
      const x = alp.tf.tensor4d(new Float32Array(await (await fetch('data/samples.f32')).arrayBuffer()).subarray(0, 784), [1, 28, 28, 1]);
      const y = alp.tf.tensor1d([alp.predict(model, x)[0] as number], 'int32');
      const g = alp.tf.grad((z: import('@tensorflow/tfjs').Tensor) => alp.tf.losses.softmaxCrossEntropy(alp.tf.oneHot(y, 10), model.apply(z) as import('@tensorflow/tfjs').Tensor))(x);
      const adv = alp.runAttack(new alp.Pgd({ threat: { norm: 'linf', eps: 0.2 }, steps: 10 }), alp.logitsOf(model), x, y);
      return { gradMax: alp.tf.max(alp.tf.abs(g)).dataSync()[0] as number, before: y.dataSync()[0] as number, after: alp.predict(model, adv.adversarial)[0] as number };
    });
    assert.ok(r.gradMax > 1e-6, `input gradient in the page: ${r.gradMax}`);
    assert.notEqual(r.after, r.before, 'PGD at ε=0.2 flips the untrained-ish MLP');
    assert.deepEqual(problems, []);
  } finally {
    await server.close();
    await browser.close();
  }
});
