/** `alp train --augment` and the stratified validation split through the CLI: recorded in train.json, bad input one line. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { assertUserError, runAlp } from '../testing/cli.js';

const tmp = mkdtempSync(join(tmpdir(), 'alp-cli-train-data-'));
process.on('exit', () => rmSync(tmp, { recursive: true, force: true }));

const TRAIN = ['train', '--method', 'standard', '--arch', 'mlp', '--epochs', '1', '--train-size', '128', '--batch-size', '64', '--quiet', '--workers', '1'];

test('train --augment crop:2,flip --val-size 100: both recorded in train.json; the held-out examples cover every class', () => {
  const out = join(tmp, 'aug');
  const r = runAlp([...TRAIN, '--val-size', '100', '--eval-attack-steps', '1', '--augment', 'crop:2,flip', '--out', out]);
  assert.equal(r.code, 0, r.stderr);
  const t = JSON.parse(readFileSync(join(out, 'train.json'), 'utf8')) as {
    config: { augment: unknown; valSize: number };
    data: { trainExamples: number; valExamples: number; validation: { method: string; seed: number; perClass: number[]; digest: string } };
  };
  assert.deepEqual(t.config.augment, { crop: 2, flip: true });
  assert.deepEqual([t.data.trainExamples, t.data.valExamples], [128, 100]);
  assert.equal(t.data.validation.method, 'stratified');
  assert.equal(t.data.validation.perClass.length, 10);
  assert.equal(t.data.validation.perClass.reduce((a, b) => a + b, 0), 100);
  // MNIST's classes are near-equal: 9 to 12 of each in 100.
  assert.ok(t.data.validation.perClass.every((n) => n >= 9 && n <= 12), t.data.validation.perClass.join(','));
  assert.match(t.data.validation.digest, /^[0-9a-f]{64}$/);
  // Resuming without the augmentation is another run: refused, naming the option.
  assertUserError([...TRAIN, '--val-size', '100', '--eval-attack-steps', '1', '--out', out, '--resume', '--epochs', '2'], /cannot resume with a different configuration \(.*augment: checkpoint \{"crop":2,"flip":true\}, now undefined/);
});

test('train --augment: bad values are one line, exit 2, before anything runs or is written', () => {
  const out = join(tmp, 'bad');
  for (const [value, pattern] of [
    ['rotate:10', /^alp: --augment: expected items crop:P \(P an integer ≥ 1, the padding in pixels\) and flip, or none; got 'rotate:10'$/],
    ['crop:0', /--augment: expected items crop:P .* got 'crop:0'/],
    ['flip,flip', /--augment: 'flip' given twice/],
  ] as const) {
    assertUserError([...TRAIN, '--val-size', '0', '--augment', value, '--out', out], pattern);
  }
  assertUserError([...TRAIN, '--val-size', '0', '--augment', 'crop:28', '--out', out], /--augment: crop:28 pads by at least the image size 28×28/);
  assert.equal(existsSync(join(out, 'model.json')), false);
  assert.equal(existsSync(join(out, 'checkpoint.alp')), false);
});
