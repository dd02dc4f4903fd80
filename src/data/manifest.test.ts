/**
 * A manifest dataset (alp-data.json): splits as a folder and as a file list, class names, per-channel
 * mean/std. It trains and evaluates through the commands; the saved model holds the normalisation as
 * its first layer (loaded back by the commands and by the browser bundle's URL loader); evaluating [0,1] inputs gives what the bare network gives on inputs normalised by hand.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { encodePng } from '../report/png.js';
import { useBackend } from '../testing/setup.js';
import { assertRejectsUserError } from '../testing/cli.js';
import { parseCommand, type Parsed } from '../cli/args.js';
import { TRAIN_SPEC } from '../cli/specs/train.js';
import { EVAL_SPEC } from '../cli/specs/eval.js';
import { loadModel } from '../model/io.js';
import { loadModelFromUrl } from '../browser/load.js';
import { INPUT_NORMALIZATION_LAYER, normalizeByHand } from '../model/input-normalization.js';
import { loadSource } from './resolve.js';
import { parseDataSource } from './source.js';
import { readManifest } from './manifest.js';
import { IMAGE_EXTENSIONS } from './image-files.js';

const tmp = mkdtempSync(join(tmpdir(), 'alp-manifest-'));
process.on('exit', () => rmSync(tmp, { recursive: true, force: true }));
process.env['XDG_CACHE_HOME'] = join(tmp, 'cache');

const CLASSES = ['red', 'green', 'blue'];

/** An 8×8 RGB PNG of class k: its colour channel bright, with some per-file variation. */
function png(path: string, k: number, i: number): void {
  const rgba = new Uint8Array(8 * 8 * 4);
  for (let p = 0; p < 64; p++) {
    const v = [40 + ((p + i) % 30), 40 + ((p * 3 + i) % 30), 40 + ((p * 5 + i) % 30)];
    v[k] = 180 + ((p * 7 + i * 11) % 60);
    rgba.set([...v, 255], p * 4);
  }
  writeFileSync(path, encodePng(8, 8, rgba));
}

/** ROOT/images/<class>/k.png for training, ROOT/held/k-<class>.png listed as the test split, and the manifest. */
function manifestData(root: string, extra: Record<string, unknown> = {}): string {
  const test: Array<{ file: string; label: string }> = [];
  CLASSES.forEach((c, k) => {
    mkdirSync(join(root, 'images', c), { recursive: true });
    mkdirSync(join(root, 'held'), { recursive: true });
    for (let i = 0; i < 24; i++) png(join(root, 'images', c, `${i}.png`), k, i);
    for (let i = 0; i < 6; i++) {
      png(join(root, 'held', `${i}-${c}.png`), k, 100 + i);
      test.push({ file: `held/${i}-${c}.png`, label: c });
    }
  });
  writeFileSync(join(root, 'alp-data.json'), JSON.stringify({ classes: CLASSES, train: 'images', test, mean: [0.4, 0.45, 0.5], std: [0.25, 0.2, 0.3], ...extra }));
  return join(root, 'alp-data.json');
}

test('a manifest reads its splits, classes and normalisation; bad fields are one line naming the file', async () => {
  const file = manifestData(join(tmp, 'read'));
  const m = readManifest(file, IMAGE_EXTENSIONS);
  assert.deepEqual(m.classNames, CLASSES);
  assert.equal(m.train.length, 72);
  assert.equal(m.test.length, 18);
  assert.deepEqual(m.normalization, { inputRange: [0, 1], mean: [0.4, 0.45, 0.5], std: [0.25, 0.2, 0.3] });
  // The folder holding alp-data.json is a manifest dataset too.
  const src = parseDataSource(join(tmp, 'read'));
  assert.equal(src.kind === 'path' ? src.format : '', 'manifest');
  const loaded = await loadSource(src, 'test');
  assert.deepEqual(loaded.ds.classNames, CLASSES);
  assert.deepEqual(Array.from(loaded.ds.labels.subarray(0, 6)), [0, 1, 2, 0, 1, 2]);
  assert.deepEqual(loaded.record?.normalization?.std, [0.25, 0.2, 0.3]);
  const bad = (extra: Record<string, unknown>, re: RegExp): Promise<void> => assertRejectsUserError(Promise.resolve().then(() => readManifest(manifestData(join(tmp, 'bad'), extra), IMAGE_EXTENSIONS)), re);
  await bad({ std: [0.2, 0, 0.3] }, /alp-data\.json: std\[1\]: expected a number > 0, found 0/);
  await bad({ labels: [] }, /alp-data\.json: unknown field "labels"/);
  await bad({ test: [{ file: 'held/0-red.png', label: 'purple' }] }, /alp-data\.json: test\[0\]: label "purple": expected one of the classes \(red, green, blue\)/);
  await bad({ inputRange: [1, 0] }, /alp-data\.json: inputRange: expected \[LO, HI\] with LO < HI/);
  // The channel count is known once the images are read.
  const two = manifestData(join(tmp, 'two'), { mean: [0.1, 0.2] });
  await assertRejectsUserError(loadSource(parseDataSource(two), 'test'), /alp-data\.json: mean: expected 1 or 3 values \(one per channel\), found 2/);
});

test('a manifest dataset trains and evaluates; the saved model normalises; eval in [0,1] = the bare network on inputs normalised by hand', async () => {
  await useBackend();
  const file = manifestData(join(tmp, 'train'), { inputRange: [0, 255], mean: [100, 110, 120], std: [60, 50, 70] });
  const out = join(tmp, 'run');
  const train = ['--method', 'standard', '--data', file, '--arch', 'mlp', '--epochs', '4', '--batch-size', '12', '--val-size', '0', '--lr', '0.01', '--out', out, '--workers', '1', '--quiet'];
  await (await import('../cli/commands/train.js')).runTrainCommand(parseCommand(train, TRAIN_SPEC) as Parsed, train);
  const saved = JSON.parse(readFileSync(join(out, 'model.json'), 'utf8')) as { modelTopology: unknown };
  assert.match(JSON.stringify(saved.modelTopology), new RegExp(INPUT_NORMALIZATION_LAYER));
  const trainJson = JSON.parse(readFileSync(join(out, 'train.json'), 'utf8')) as { data: { source: { normalization: unknown; classNames: string[] } } };
  assert.deepEqual(trainJson.data.source.normalization, { inputRange: [0, 255], mean: [100, 110, 120], std: [60, 50, 70] });
  const evalArgs = ['--model', out, '--attacks', 'fgsm', '--workers', '1', '--quiet', '--out', join(tmp, 'eval.json')];
  await (await import('../cli/commands/eval.js')).runEvalCommand(parseCommand(evalArgs, EVAL_SPEC) as Parsed, evalArgs);
  const ev = JSON.parse(readFileSync(join(tmp, 'eval.json'), 'utf8')) as { classNames: string[]; result: { examples: number; cleanAccuracy: number } };
  assert.deepEqual(ev.classNames, CLASSES);
  assert.equal(ev.result.examples, 18);

  // The model as every command loads it: layer 0 is the normalisation, and the rest is the bare network.
  const model = await loadModel(out);
  assert.equal(model.layers[0]?.name, INPUT_NORMALIZATION_LAYER);
  const test = (await loadSource(parseDataSource(file), 'test')).ds;
  const norm = { inputRange: [0, 255] as [number, number], mean: [100, 110, 120], std: [60, 50, 70] };
  const byHand = normalizeByHand(test.images, norm);
  const bareIn = tf.input({ shape: [8, 8, 3] });
  let h: tf.SymbolicTensor = bareIn;
  for (const l of model.layers.slice(1)) h = l.apply(h) as tf.SymbolicTensor;
  const bare = tf.model({ inputs: bareIn, outputs: h });
  const x = tf.tensor4d(test.images, [test.count, 8, 8, 3]);
  const xn = tf.tensor4d(byHand, [test.count, 8, 8, 3]);
  const a = model.predict(x) as tf.Tensor, b = bare.predict(xn) as tf.Tensor;
  const la = a.dataSync(), lb = b.dataSync();
  const d = Math.max(...Array.from(la, (v, i) => Math.abs(v - (lb[i] as number))));
  assert.ok(d < 1e-4, `logits differ by ${d}`);
  const predA = Array.from(a.argMax(-1).dataSync()), predB = Array.from(b.argMax(-1).dataSync());
  assert.deepEqual(predA, predB);
  const clean = predB.filter((p, i) => p === test.labels[i]).length / test.count;
  assert.ok(Math.abs(ev.result.cleanAccuracy - clean) < 1e-9, `eval.json clean ${ev.result.cleanAccuracy}, by hand ${clean}`);
  assert.ok(clean >= 0.9, `the 3 colours should be learnt, clean ${clean}`);

  // The browser bundle's loader (by URL, no alp file reader) builds the same model, normalisation included.
  const server = createServer((req, res) => {
    try {
      res.writeHead(200).end(readFileSync(join(out, new URL(req.url ?? '/', 'http://x').pathname.slice(1))));
    } catch {
      res.writeHead(404).end();
    }
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  try {
    const byUrl = await loadModelFromUrl(`http://127.0.0.1:${(server.address() as AddressInfo).port}/model.json`);
    assert.equal(byUrl.layers[0]?.name, INPUT_NORMALIZATION_LAYER);
    const c = byUrl.predict(x) as tf.Tensor;
    assert.deepEqual(Array.from(c.dataSync()), Array.from(la));
    c.dispose();
  } finally {
    server.close();
  }
  tf.dispose([x, xn, a, b]);
});
