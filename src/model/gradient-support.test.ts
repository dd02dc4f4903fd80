import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { useBackend } from '../testing/setup.js';
import { runAlp } from '../testing/cli.js';
import { checkVerifiedGradients } from '../eval/diagnostics.js';
import { saveModel } from './io.js';
import { gradientSupport, gradientWarning } from './gradient-support.js';

const L = tf.layers;

/**
 * An MNIST-shaped model with, inside a nested model, one layer whose options the harness does not
 * cover: a channels-first Conv2D.
 */
function withUnverifiedLayer(): tf.LayersModel {
  const inner = tf.sequential({ name: 'inner', layers: [L.reshape({ inputShape: [28, 28, 1], targetShape: [1, 28, 28] }), L.conv2d({ filters: 2, kernelSize: 4, strides: 4, dataFormat: 'channelsFirst', name: 'cf' })] });
  const inp = tf.input({ shape: [28, 28, 1] });
  const h = L.flatten().apply(inner.apply(inp)) as tf.SymbolicTensor;
  return tf.model({ name: 'outer', inputs: inp, outputs: L.dense({ units: 10 }).apply(h) as tf.SymbolicTensor });
}

test('gradientSupport lists nested layers with their status; the warning names only unverified ones', async () => {
  await useBackend();
  const m = withUnverifiedLayer();
  const s = gradientSupport(m);
  const rep = s.find((l) => l.path === 'inner/cf');
  assert.deepEqual(rep && { path: rep.path, status: rep.status }, { path: 'inner/cf', status: 'unverified' });
  assert.ok(s.filter((l) => l.className === 'Dense' || l.className === 'Reshape').every((l) => l.status === 'verified'));
  assert.match(gradientWarning(m, 'my/model') ?? '', /^my\/model: .*inner\/cf \(Conv2D.*not verified/);

  const ok = tf.sequential({ layers: [L.conv2d({ inputShape: [4, 4, 1], filters: 2, kernelSize: 2 }), L.averagePooling2d({ poolSize: 2, padding: 'same' }), L.flatten(), L.dense({ units: 2 })] });
  assert.equal(gradientWarning(ok), undefined);
  assert.equal(gradientSupport(ok).find((l) => l.className === 'AveragePooling2D')?.status, 'corrected');
  // Options the harness does not cover make a verified class unverified.
  const wrapped = tf.sequential({ layers: [L.timeDistributed({ inputShape: [2, 5, 5, 1], layer: L.conv2d({ filters: 1, kernelSize: 2, dilationRate: 2 }) })] });
  assert.match(gradientSupport(wrapped)[0]?.note ?? '', /wraps Conv2D: dilated/);
  const dilated = tf.sequential({ layers: [L.conv2d({ inputShape: [5, 5, 1], filters: 1, kernelSize: 2, dilationRate: 2 })] });
  assert.equal(gradientSupport(dilated)[0]?.status, 'unverified');

  assert.equal(checkVerifiedGradients(gradientSupport(m)).status, 'warn');
  assert.equal(checkVerifiedGradients(gradientSupport(ok)).status, 'pass');
});

test('alp eval, attack and audit warn about an unverified layer: on stderr, in the JSON, and as an audit finding', async () => {
  await useBackend();
  const dir = mkdtempSync(join(tmpdir(), 'alp-unverified-'));
  try {
    await saveModel(withUnverifiedLayer(), dir);
    const e = runAlp(['eval', '--model', dir, '--n', '8', '--attacks', 'fgsm', '--out', join(dir, 'eval.json'), '--json']);
    assert.equal(e.code, 0, e.stderr);
    assert.match(e.stderr, /warning: .*inner\/cf \(Conv2D/);
    const ej = JSON.parse(e.stdout) as { warnings: string[] };
    assert.equal(ej.warnings.length, 1);
    assert.match(ej.warnings[0] as string, /Conv2D.*not verified/);

    // The control: a model of verified layers only gets no warning.
    const plain = join(dir, 'plain');
    await saveModel(tf.sequential({ layers: [L.flatten({ inputShape: [28, 28, 1] }), L.dense({ units: 10 })] }), plain);
    const c = runAlp(['eval', '--model', plain, '--n', '8', '--attacks', 'fgsm', '--json']);
    assert.equal(c.code, 0, c.stderr);
    assert.doesNotMatch(c.stderr, /warning/);
    assert.deepEqual((JSON.parse(c.stdout) as { warnings: string[] }).warnings, []);

    const k = runAlp(['attack', '--model', dir, '--n', '2', '--steps', '2', '--out', join(dir, 'attack'), '--json']);
    assert.equal(k.code, 0, k.stderr);
    assert.match(k.stderr, /warning: .*inner\/cf \(Conv2D/);
    assert.equal((JSON.parse(k.stdout) as { warnings: string[] }).warnings.length, 1);

    const a = runAlp(['audit', '--model', dir, '--n', '8', '--budget', 'quick', '--out', dir, '--json']);
    assert.equal(a.code, 0, a.stderr);
    const aj = JSON.parse(a.stdout) as { warnings: string[]; findings: Array<{ id: string; status: string; detail: string }> };
    assert.equal(aj.warnings.length, 1);
    const f = aj.findings.find((x) => x.id === 'unverified-gradient');
    assert.equal(f?.status, 'warn');
    assert.match(f?.detail ?? '', /inner\/cf \(Conv2D/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
