import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, symlinkSync, writeFileSync, existsSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { UserError } from '../util/errors.js';
import { fileLoader, lastLayerActivation, loadModel, saveModel } from './io.js';

let root: string;
let n = 0;
const freshDir = (): string => join(root, `m${n++}`);

before(async () => {
  await tf.setBackend('cpu');
  root = mkdtempSync(join(tmpdir(), 'alp-io-test-'));
});
after(() => rmSync(root, { recursive: true, force: true }));

function smallConvNet(softmax = false): tf.LayersModel {
  return tf.sequential({
    layers: [
      tf.layers.conv2d({ inputShape: [6, 6, 1], filters: 3, kernelSize: 3, activation: 'relu' }),
      tf.layers.maxPooling2d({ poolSize: 2 }),
      tf.layers.flatten(),
      tf.layers.dense({ units: 5, activation: 'relu' }),
      tf.layers.dense({ units: 4, activation: softmax ? 'softmax' : 'linear' }),
    ],
  });
}

function logits(model: tf.LayersModel, x: tf.Tensor): Float32Array {
  return tf.tidy(() => (model.predict(x) as tf.Tensor).dataSync() as Float32Array).slice();
}

async function savedModel(softmax = false): Promise<{ dir: string; model: tf.LayersModel; x: tf.Tensor; want: Float32Array }> {
  const model = smallConvNet(softmax);
  const dir = freshDir();
  await saveModel(model, dir, { note: 'hi' });
  const x = tf.randomUniform([7, 6, 6, 1], 0, 1, 'float32', 42);
  return { dir, model, x, want: logits(model, x) };
}

type Json = Record<string, any>;
const readJson = (dir: string): Json => JSON.parse(readFileSync(join(dir, 'model.json'), 'utf8')) as Json;
const writeJson = (dir: string, j: Json): void => writeFileSync(join(dir, 'model.json'), JSON.stringify(j));

function userError(...parts: string[]): (e: unknown) => boolean {
  return (e: unknown) => {
    assert.ok(e instanceof UserError, `expected a UserError, got ${String(e)}`);
    for (const p of parts) assert.ok(e.message.includes(p), `message ${JSON.stringify(e.message)} lacks ${JSON.stringify(p)}`);
    return true;
  };
}

test('save → load gives identical logits, keeps metadata, accepts folder or model.json', async () => {
  const { dir, model, x, want } = await savedModel();
  const fromDir = await loadModel(dir);
  const fromFile = await loadModel(join(dir, 'model.json'));
  assert.deepEqual(logits(fromDir, x), want);
  assert.deepEqual(logits(fromFile, x), want);
  assert.deepEqual(fromDir.getUserDefinedMetadata(), { note: 'hi' });
  assert.equal(lastLayerActivation(fromDir), 'linear');
  tf.dispose([x]);
  model.dispose(); fromDir.dispose(); fromFile.dispose();
});

test('writes exactly model.json + weights.bin in the standard layers format', async () => {
  const { dir, model, x } = await savedModel();
  assert.deepEqual(readdirSync(dir).sort(), ['model.json', 'weights.bin']);
  const j = readJson(dir);
  assert.equal(j['format'], 'layers-model');
  assert.match(j['generatedBy'], /^TensorFlow\.js tfjs-layers v/);
  assert.equal(j['convertedBy'], null);
  assert.equal(j['modelTopology']['class_name'], 'Sequential');
  assert.deepEqual(j['userDefinedMetadata'], { note: 'hi' });
  assert.equal(j['weightsManifest'].length, 1);
  assert.deepEqual(j['weightsManifest'][0].paths, ['weights.bin']);
  const specs = j['weightsManifest'][0].weights as Array<{ shape: number[]; dtype: string }>;
  assert.equal(specs.length, model.weights.length);
  const bytes = specs.reduce((a, s) => a + 4 * s.shape.reduce((p, d) => p * d, 1), 0);
  assert.equal(readFileSync(join(dir, 'weights.bin')).byteLength, bytes);
  tf.dispose(x); model.dispose();
});

test('multiple weight shards are concatenated in manifest order', async () => {
  const { dir, model, x, want } = await savedModel();
  const bin = readFileSync(join(dir, 'weights.bin'));
  const cut = 100;
  writeFileSync(join(dir, 'group1-shard1of2.bin'), bin.subarray(0, cut));
  writeFileSync(join(dir, 'group1-shard2of2.bin'), bin.subarray(cut));
  rmSync(join(dir, 'weights.bin'));
  const j = readJson(dir);
  j['weightsManifest'][0].paths = ['group1-shard1of2.bin', 'group1-shard2of2.bin'];
  writeJson(dir, j);
  const loaded = await loadModel(dir);
  assert.deepEqual(logits(loaded, x), want);
  tf.dispose(x); model.dispose(); loaded.dispose();
});

test('a weights path that escapes the model folder is rejected', async () => {
  const { dir, model, x } = await savedModel();
  // The escaping target exists, so only the traversal check can reject it.
  writeFileSync(join(root, 'outside.bin'), readFileSync(join(dir, 'weights.bin')));
  const j = readJson(dir);
  j['weightsManifest'][0].paths = ['../outside.bin'];
  writeJson(dir, j);
  await assert.rejects(loadModel(dir), userError('model.json', 'weightsManifest[0].paths[0]', '../outside.bin', 'outside'));
  j['weightsManifest'][0].paths = ['sub/../../outside.bin'];
  writeJson(dir, j);
  await assert.rejects(loadModel(dir), userError('weightsManifest[0].paths[0]', 'outside'));
  j['weightsManifest'][0].paths = [join(root, 'outside.bin')];
  writeJson(dir, j);
  await assert.rejects(loadModel(dir), userError('weightsManifest[0].paths[0]', 'absolute'));
  tf.dispose(x); model.dispose();
});

test('a missing weights file is a UserError naming it', async () => {
  const { dir, model, x } = await savedModel();
  rmSync(join(dir, 'weights.bin'));
  await assert.rejects(loadModel(dir), userError('model.json', 'weightsManifest[0].paths[0]', 'weights.bin', 'does not exist'));
  tf.dispose(x); model.dispose();
});

test('a truncated weights file names the expected and found byte counts', async () => {
  const { dir, model, x } = await savedModel();
  const bin = readFileSync(join(dir, 'weights.bin'));
  writeFileSync(join(dir, 'weights.bin'), bin.subarray(0, bin.byteLength - 8));
  await assert.rejects(
    fileLoader(join(dir, 'model.json')).load!(),
    userError('model.json', 'weightsManifest', `need ${bin.byteLength} bytes`, `hold ${bin.byteLength - 8} bytes`),
  );
  await assert.rejects(loadModel(dir), userError(`${bin.byteLength}`, `${bin.byteLength - 8}`));
  tf.dispose(x); model.dispose();
});

test('a weight shape that disagrees with the topology (same byte count) is a UserError', async () => {
  const { dir, model, x } = await savedModel();
  const j = readJson(dir);
  const specs = j['weightsManifest'][0].weights as Array<{ name: string; shape: number[] }>;
  const kernel = specs.find((s) => s.shape.length === 2 && s.shape[0] !== s.shape[1]);
  assert.ok(kernel, 'the test net has a non-square dense kernel');
  kernel.shape = [kernel.shape[1] as number, kernel.shape[0] as number];
  writeJson(dir, j);
  // Byte counts still agree, so the file-level loader accepts it ...
  await fileLoader(join(dir, 'model.json')).load!();
  // ... and building the model is what fails, clearly.
  await assert.rejects(loadModel(dir), userError('model.json', 'could not build'));
  tf.dispose(x); model.dispose();
});

test('bad JSON, missing modelTopology, empty weightsManifest and non-layers formats are UserErrors', async () => {
  const { dir, model, x } = await savedModel();
  const good = readJson(dir);
  writeFileSync(join(dir, 'model.json'), '{"modelTopology": ');
  await assert.rejects(loadModel(dir), userError('model.json', 'JSON'));
  const { modelTopology: _t, ...noTopology } = good;
  writeJson(dir, noTopology);
  await assert.rejects(loadModel(dir), userError('model.json', 'modelTopology'));
  writeJson(dir, { ...good, weightsManifest: [] });
  await assert.rejects(loadModel(dir), userError('model.json', 'weightsManifest', 'non-empty'));
  const { weightsManifest: _w, ...noManifest } = good;
  writeJson(dir, noManifest);
  await assert.rejects(loadModel(dir), userError('model.json', 'weightsManifest'));
  // A graph model is loaded (model/graph-model.test.ts); one whose topology is no GraphDef is refused.
  writeJson(dir, { ...good, format: 'graph-model' });
  await assert.rejects(loadModel(dir), userError('model.json', 'format', 'graph-model', 'modelTopology.node'));
  writeJson(dir, { ...good, format: 'keras-saved-model' });
  await assert.rejects(loadModel(dir), userError('model.json', 'format', "'layers-model'", 'keras-saved-model'));
  await assert.rejects(loadModel(join(root, 'nope')), userError('nope'));
  tf.dispose(x); model.dispose();
});

test('a softmax model loads, and lastLayerActivation reports it', async () => {
  const { dir, model, x, want } = await savedModel(true);
  const loaded = await loadModel(dir);
  assert.equal(lastLayerActivation(loaded), 'softmax');
  assert.deepEqual(logits(loaded, x), want);
  const viaLayer = tf.sequential({ layers: [tf.layers.dense({ inputShape: [3], units: 2 }), tf.layers.softmax()] });
  assert.equal(lastLayerActivation(viaLayer), 'softmax');
  tf.dispose(x); model.dispose(); loaded.dispose(); viaLayer.dispose();
});

test('weights are written before model.json: a failed weights write leaves no model.json', async () => {
  const model = smallConvNet();
  const dir = freshDir();
  // A folder where weights.bin should go makes the weights write fail.
  mkdirSync(join(dir, 'weights.bin'), { recursive: true });
  await assert.rejects(saveModel(model, dir));
  assert.equal(existsSync(join(dir, 'model.json')), false);
  assert.deepEqual(readdirSync(dir), ['weights.bin']);
  model.dispose();
});

test('a saved folder served over HTTP loads with tf.loadLayersModel, as in a browser', async () => {
  const { dir, model, x, want } = await savedModel();
  const server = createServer((req, res) => {
    const name = (req.url ?? '/').replace(/^\//, '').split('?')[0] as string;
    if (!['model.json', 'weights.bin'].includes(name)) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-type': name.endsWith('.json') ? 'application/json' : 'application/octet-stream' });
    res.end(readFileSync(join(dir, name)));
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  try {
    const port = (server.address() as AddressInfo).port;
    const loaded = await tf.loadLayersModel(`http://127.0.0.1:${port}/model.json`);
    assert.deepEqual(logits(loaded, x), want);
    loaded.dispose();
  } finally {
    await new Promise<void>((ok) => server.close(() => ok()));
  }
  tf.dispose(x); model.dispose();
});

test('a weights.bin that is a symlink to a file outside the model folder is refused; a linked model folder loads', async () => {
  const { dir, model, x, want } = await savedModel();
  const outside = freshDir();
  mkdirSync(outside, { recursive: true });
  renameSync(join(dir, 'weights.bin'), join(outside, 'secret.bin'));
  symlinkSync(join(outside, 'secret.bin'), join(dir, 'weights.bin'));
  await assert.rejects(loadModel(dir), userError('weightsManifest[0].paths[0]', 'a link to', 'secret.bin', 'outside it'));
  // The whole folder reached through a link is fine: its files are inside it.
  rmSync(join(dir, 'weights.bin'));
  renameSync(join(outside, 'secret.bin'), join(dir, 'weights.bin'));
  const alias = join(outside, 'alias');
  symlinkSync(dir, alias);
  assert.deepEqual(logits(await loadModel(alias), x), want);
  tf.dispose(x); model.dispose();
});
