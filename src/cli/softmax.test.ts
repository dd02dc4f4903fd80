import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { useBackend } from '../testing/setup.js';
import { runAlp } from '../testing/cli.js';
import { lastLayerActivation, loadModel, saveModel, stripSoftmax } from '../model/io.js';

const tmp = mkdtempSync(join(tmpdir(), 'alp-softmax-'));
process.on('exit', () => rmSync(tmp, { recursive: true, force: true }));

function softmaxMlp(): tf.LayersModel {
  return tf.sequential({ layers: [tf.layers.flatten({ inputShape: [28, 28, 1] }), tf.layers.dense({ units: 10, activation: 'softmax', kernelInitializer: tf.initializers.glorotUniform({ seed: 1 }) })] });
}

test('stripSoftmax turns a softmax output into its logits, and refuses a separate Softmax layer', async () => {
  await useBackend();
  const m = softmaxMlp();
  const x = tf.randomUniform([2, 28, 28, 1], 0, 1, 'float32', 3);
  const probs = m.predict(x) as tf.Tensor;
  assert.equal(stripSoftmax(m), true);
  assert.equal(lastLayerActivation(m), 'linear');
  const logits = m.predict(x) as tf.Tensor;
  const back = tf.softmax(logits);
  assert.ok(tf.max(tf.abs(tf.sub(back, probs))).dataSync()[0]! < 1e-6);
  assert.ok(tf.max(tf.abs(tf.sub(logits, probs))).dataSync()[0]! > 1e-3, 'the output changed');
  assert.equal(stripSoftmax(m), false);
  const sep = tf.sequential({ layers: [tf.layers.dense({ inputShape: [3], units: 2 }), tf.layers.softmax()] });
  assert.throws(() => stripSoftmax(sep), /separate Softmax layer, which cannot be removed here/);
  tf.dispose([x, probs, logits, back]);
});

test('softmax models: train --model strips it with a notice recorded in train.json; eval --json carries the warning', async () => {
  await useBackend();
  const dir = join(tmp, 'user');
  await saveModel(softmaxMlp(), dir);
  const out = join(tmp, 'tuned');
  const t = runAlp(['train', '--method', 'standard', '--model', join(dir, 'model.json'), '--epochs', '1', '--train-size', '64', '--val-size', '0', '--out', out, '--json', '--workers', '1']);
  assert.equal(t.code, 0, t.stderr);
  assert.match(t.stderr, /notice: .*removed the final softmax so the model outputs logits/);
  const summary = JSON.parse(t.stdout) as { warnings: string[] };
  assert.match(summary.warnings[0] ?? '', /removed the final softmax/);
  const tj = JSON.parse(readFileSync(join(out, 'train.json'), 'utf8')) as { strippedSoftmax: boolean; warnings: string[] };
  assert.equal(tj.strippedSoftmax, true);
  assert.equal(tj.warnings.length, 1);
  assert.equal(lastLayerActivation(await loadModel(out)), 'linear');

  const e = runAlp(['eval', '--model', dir, '--n', '8', '--steps', '2', '--restarts', '1', '--out', join(tmp, 'e.json'), '--json']);
  assert.equal(e.code, 0, e.stderr);
  assert.match(e.stderr, /warning: .*the last layer applies 'softmax'.*--strip-softmax/);
  assert.match((JSON.parse(e.stdout) as { warnings: string[] }).warnings[0] ?? '', /applies 'softmax'/);
  const s = runAlp(['eval', '--model', dir, '--n', '8', '--steps', '2', '--restarts', '1', '--strip-softmax', '--out', join(tmp, 's.json'), '--quiet']);
  assert.equal(s.code, 0, s.stderr);
  assert.match((JSON.parse(readFileSync(join(tmp, 's.json'), 'utf8')) as { warnings: string[] }).warnings[0] ?? '', /removed the final softmax \(--strip-softmax\)/);
});

test('audit --fail-on: a failing finding (softmax output) exits 3 with one line naming it; results are still written', async () => {
  await useBackend();
  const dir = join(tmp, 'gate');
  await saveModel(softmaxMlp(), dir);
  const args = ['audit', '--model', dir, '--n', '6', '--budget', 'quick', '--quiet'];
  const gated = runAlp([...args, '--fail-on', 'fail', '--out', join(tmp, 'gate-a')]);
  assert.equal(gated.code, 3, gated.stderr);
  assert.match(gated.stderr, /alp audit: \d+ finding\(s\) at or above --fail-on fail: .*FAIL softmax-output/);
  const audit = JSON.parse(readFileSync(join(tmp, 'gate-a', 'audit.json'), 'utf8')) as { findings: Array<{ id: string; status: string }> };
  assert.equal(audit.findings.find((f) => f.id === 'softmax-output')?.status, 'fail');
  const plain = runAlp([...args, '--out', join(tmp, 'gate-b')]);
  assert.equal(plain.code, 0, plain.stderr);
});
