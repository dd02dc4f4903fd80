import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { useBackend } from '../testing/setup.js';
import { cnnTwin, mlpTwin, writeCnnGraph, writeMlpGraph } from '../testing/graph-fixtures.js';
import { lastLayerActivation, loadModel, saveModel } from '../model/io.js';
import { loadModelFromUrl, loadZooModelFromUrl } from './load.js';

const tmp = mkdtempSync(join(tmpdir(), 'alp-graph-url-'));
process.on('exit', () => rmSync(tmp, { recursive: true, force: true }));

test('loadModelFromUrl: graph models by URL (softmax fetched away, --output-node), and layers models as before', async () => {
  await useBackend();
  const twin = cnnTwin(2);
  writeCnnGraph(twin, join(tmp, 'cnn'));
  writeMlpGraph(mlpTwin(3), join(tmp, 'two'), { twoOutputs: true });
  await saveModel(twin, join(tmp, 'layers'));
  await saveModel(twin, join(tmp, 'zoo', 'tiny'));
  const server = createServer((req, res) => {
    try {
      const body = readFileSync(join(tmp, decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname)));
      res.writeHead(200).end(body);
    } catch {
      res.writeHead(404).end();
    }
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  try {
    const x = tf.randomUniform([3, 28, 28, 1], 0, 1, 'float32', 5);
    const byUrl = await loadModelFromUrl(`${base}cnn/model.json`, { stripSoftmax: true });
    assert.equal(lastLayerActivation(byUrl), 'linear');
    const byFile = await loadModel(join(tmp, 'cnn'));
    const probs = byFile.predict(x) as tf.Tensor;
    const fromLogits = tf.softmax(byUrl.predict(x) as tf.Tensor);
    assert.ok(tf.max(tf.abs(tf.sub(probs, fromLogits))).dataSync()[0]! < 1e-6);
    const asIs = await loadModelFromUrl(`${base}cnn/model.json`);
    assert.equal(lastLayerActivation(asIs), 'softmax');

    await assert.rejects(loadModelFromUrl(`${base}two/model.json`), /two\/model\.json: the graph has 2 outputs \(Identity, Identity_1\); choose the one that gives the logits/);
    assert.equal(lastLayerActivation(await loadModelFromUrl(`${base}two/model.json`, { outputNode: 'Identity_1' })), 'linear');

    const layers = await loadModelFromUrl(`${base}layers/model.json`);
    assert.ok(tf.max(tf.abs(tf.sub(layers.predict(x) as tf.Tensor, probs))).dataSync()[0]! < 1e-6);
    await assert.rejects(loadModelFromUrl(`${base}layers/model.json`, { outputNode: 'x' }), /outputNode is only for graph models/);
    await assert.rejects(loadModelFromUrl(`${base}nope/model.json`), /nope\/model\.json: could not load a TF\.js model from it/);
    // A zoo model by name, from a base URL (with or without its final slash).
    for (const zoo of [`${base}zoo/`, `${base}zoo`]) {
      const tiny = await loadZooModelFromUrl('tiny', zoo);
      assert.ok(tf.max(tf.abs(tf.sub(tiny.predict(x) as tf.Tensor, probs))).dataSync()[0]! < 1e-6);
    }
    await assert.rejects(loadZooModelFromUrl('../layers', `${base}zoo/`), /expected a zoo model name/);
  } finally {
    server.close();
  }
});
