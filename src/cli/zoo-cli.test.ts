import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { useBackend } from '../testing/setup.js';
import { buildArch } from '../model/architectures.js';
import { saveModel } from '../model/io.js';
import { addToZoo } from '../artifacts/zoo.js';
import { readCard } from '../model/zoo-card.js';
import { loadZooModel } from '../model/zoo.js';
import * as tf from '@tensorflow/tfjs';
import { ZOO_LIST_SCHEMA } from './commands/zoo.js';

const MAIN = fileURLToPath(new URL('./main.js', import.meta.url));

/**
 * One temporary zoo for every case, with one untrained MLP on MNIST packaged as `tiny` from a real
 * `alp audit --budget quick` of 8 images; the CLI runs in another temporary folder (its runs/ lands there).
 */
const root = mkdtempSync(join(tmpdir(), 'alp-zoo-'));
const zoo = join(root, 'zoo');
const cwd = join(root, 'work');
mkdirSync(zoo);
mkdirSync(cwd);
process.on('exit', () => rmSync(root, { recursive: true, force: true }));

function alp(args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [MAIN, ...args], { encoding: 'utf8', cwd, env: { ...process.env, ALP_ZOO_DIR: zoo } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

let ready: Promise<void> | undefined;
function packaged(): Promise<void> {
  ready ??= (async () => {
    await useBackend();
    const run = join(root, 'run');
    await saveModel(buildArch('mlp', { inputShape: [28, 28, 1], numClasses: 10, seed: 3 }), run, { alp: { config: { dataset: 'mnist' }, method: 'standard' } });
    writeFileSync(join(run, 'train.json'), JSON.stringify({
      schema: 'alp.train/1', argv: ['--method', 'standard', '--arch', 'mlp', '--epochs', '1', '--seed', '3', '--out', 'run'],
      config: { seed: 3, method: 'standard', arch: 'mlp', epochs: 1 }, trainSeconds: 0, workers: 1, versions: { alp: 'test' },
    }));
    const a = alp(['audit', '--model', run, '--data', 'mnist', '--n', '8', '--eps', '0.2', '--budget', 'quick', '--workers', '1', '--quiet', '--out', join(root, 'audit')]);
    assert.equal(a.code, 0, a.stderr);
    addToZoo(run, join(root, 'audit', 'audit.json'), { name: 'tiny', summary: 'An untrained MLP, for tests.', tolerance: 0.005, independent: null, root: zoo });
  })();
  return ready;
}

test('alp zoo list --json: every model with its card numbers and size', async () => {
  await packaged();
  const r = alp(['zoo', 'list', '--json']);
  assert.equal(r.code, 0, r.stderr);
  const j = JSON.parse(r.stdout) as { schema: string; totalBytes: number; models: Array<Record<string, unknown>> };
  assert.equal(j.schema, ZOO_LIST_SCHEMA);
  assert.equal(j.models.length, 1);
  const m = j.models[0] as Record<string, unknown>;
  assert.deepEqual(Object.keys(m).sort(), ['audited', 'budget', 'bytes', 'clean', 'dataset', 'examples', 'independent', 'method', 'name', 'path', 'threat'].sort());
  assert.equal(m['name'], 'tiny');
  assert.equal(m['budget'], 'quick');
  assert.equal(m['examples'], 8);
  assert.ok(typeof m['bytes'] === 'number' && m['bytes'] > 0 && m['bytes'] === j.totalBytes);
  assert.equal(m['clean'], readCard(join(zoo, 'tiny')).numbers.clean);
});

test('--model zoo:NAME loads the zoo model in eval at its card\'s ε, and the result goes under runs/zoo/NAME, not into the zoo', async () => {
  await packaged();
  const r = alp(['eval', '--model', 'zoo:tiny', '--n', '4', '--attacks', 'fgsm', '--workers', '1', '--quiet']);
  assert.equal(r.code, 0, r.stderr);
  assert.ok(existsSync(join(cwd, 'runs', 'zoo', 'tiny', 'eval.json')), 'eval.json under runs/zoo/tiny');
  // Without --eps, the card's ε (the audit that made it ran at 0.2), not MNIST's 0.3.
  assert.equal((JSON.parse(readFileSync(join(cwd, 'runs', 'zoo', 'tiny', 'eval.json'), 'utf8')) as { threat: { eps: number } }).threat.eps, 0.2);
  assert.ok(!existsSync(join(zoo, 'tiny', 'eval.json')), 'nothing written beside the packaged model');
  const unknown = alp(['eval', '--model', 'zoo:nope', '--n', '4']);
  assert.equal(unknown.code, 2);
  assert.match(unknown.stderr, /zoo:nope: no such model .*expected one of: tiny/);
});

test('an output inside the zoo is refused, even with --force', async () => {
  await packaged();
  for (const args of [
    ['eval', '--model', 'zoo:tiny', '--n', '4', '--attacks', 'fgsm', '--out', join(zoo, 'tiny', 'eval.json'), '--force'],
    ['audit', '--model', 'zoo:tiny', '--n', '4', '--budget', 'quick', '--out', join(zoo, 'tiny')],
    ['train', '--method', 'standard', '--arch', 'mlp', '--train-size', '50', '--out', join(zoo, 'tiny'), '--force'],
  ]) {
    const r = alp(args);
    assert.equal(r.code, 2, `${args[0]}: ${r.stderr}`);
    assert.match(r.stderr, /refusing to write .* into the model zoo/, args[0]);
  }
  assert.ok(!existsSync(join(zoo, 'tiny', 'eval.json')));
});

test('alp zoo verify reproduces the card, and fails on a number that does not reproduce or on changed weights', async () => {
  await packaged();
  const ok = alp(['zoo', 'verify', 'tiny', '--workers', '1', '--json']);
  assert.equal(ok.code, 0, ok.stderr);
  assert.equal((JSON.parse(ok.stdout) as { ok: boolean }).ok, true);

  const cardFile = join(zoo, 'tiny', 'card.json');
  const card = readFileSync(cardFile, 'utf8');
  const j = JSON.parse(card) as { numbers: { audited: number } };
  j.numbers.audited = Math.min(1, j.numbers.audited + 0.25);
  writeFileSync(cardFile, JSON.stringify(j));
  const wrong = alp(['zoo', 'verify', 'tiny', '--workers', '1', '--quiet']);
  assert.equal(wrong.code, 3, wrong.stderr);
  writeFileSync(cardFile, card);

  const weights = join(zoo, 'tiny', 'weights.bin');
  const bytes = readFileSync(weights);
  bytes[100] = (bytes[100] as number) ^ 0xff;
  writeFileSync(weights, bytes);
  const tampered = alp(['zoo', 'verify', 'tiny', '--weights-only']);
  assert.equal(tampered.code, 7, tampered.stderr);
  assert.match(tampered.stderr, /SHA-256 is [0-9a-f]{64}, the card says/);
});

test('alp playground with no run opens on the zoo', async () => {
  await packaged();
  const r = alp(['playground', '--export', join(cwd, 'site'), '--samples', '4', '--json']);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual((JSON.parse(r.stdout) as { models: string[] }).models, ['tiny']);
});

test('the library loads a zoo model by name', async () => {
  await packaged();
  const before = process.env['ALP_ZOO_DIR'];
  process.env['ALP_ZOO_DIR'] = zoo;
  try {
    const m = await loadZooModel('tiny');
    assert.deepEqual((m.predict(tf.zeros([2, 28, 28, 1])) as tf.Tensor).shape, [2, 10]);
    await assert.rejects(loadZooModel('nope'), /zoo:nope: no such model/);
  } finally {
    if (before === undefined) delete process.env['ALP_ZOO_DIR'];
    else process.env['ALP_ZOO_DIR'] = before;
  }
});
