/**
 * A user's own data through the CLI, end to end: `alp train --data FOLDER`, then `alp eval --model DIR`
 * with no --data finds the folder again (train.json), with class names in eval.json; bad data is one
 * line, exit 2, and nothing written.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodePng } from '../report/png.js';
import { assertRejectsUserError, assertUserError, runAlp } from '../testing/cli.js';
import { parseDataSource } from '../data/source.js';

const tmp = mkdtempSync(join(tmpdir(), 'alp-cli-own-'));
process.on('exit', () => rmSync(tmp, { recursive: true, force: true }));
// The decoded-image cache goes to this temp folder, not the user's ~/.cache (children inherit it).
process.env['XDG_CACHE_HOME'] = join(tmp, 'cache');

/** `root/{train,test}/{circle,square}/k.png`: 8×8 RGB, a bright square top-left or bottom-right, plus noise. */
function shapesFolder(root: string, perClass: number): void {
  for (const split of ['train', 'test']) {
    for (const [k, name] of ['circle', 'square'].entries()) {
      mkdirSync(join(root, split, name), { recursive: true });
      for (let i = 0; i < perClass; i++) {
        const rgba = new Uint8Array(8 * 8 * 4);
        for (let p = 0; p < 64; p++) {
          const [y, x] = [Math.floor(p / 8), p % 8];
          const lit = k === 0 ? y < 4 && x < 4 : y >= 4 && x >= 4;
          const v = (lit ? 200 : 30) + ((p * 7 + i * 13) % 40);
          rgba.set([v, v, v, 255], p * 4);
        }
        writeFileSync(join(root, split, name, `${String(i).padStart(3, '0')}.png`), encodePng(8, 8, rgba));
      }
    }
  }
}

test('alp train --data FOLDER, then alp eval --model DIR finds the folder from train.json', () => {
  const data = join(tmp, 'shapes');
  shapesFolder(data, 24);
  const out = join(tmp, 'run');
  const t = runAlp(['train', '--method', 'standard', '--data', data, '--epochs', '3', '--batch-size', '16', '--val-size', '0', '--lr', '0.01', '--out', out, '--workers', '1']);
  assert.equal(t.code, 0, t.stderr);
  assert.match(t.stderr, /notice: defaults for RGB images: eps 0\.03137/);
  const tj = JSON.parse(readFileSync(join(out, 'train.json'), 'utf8')) as { config: { eps: number; dataset: string }; data: { source: Record<string, unknown>; defaults: { from: string } } };
  assert.equal(tj.config.dataset, data);
  assert.equal(tj.config.eps, 8 / 255);
  assert.deepEqual(tj.data.source['classNames'], ['circle', 'square']);
  assert.deepEqual(tj.data.source['shape'], [8, 8, 3]);
  assert.equal(tj.data.source['dataKind'], 'image');
  assert.equal(tj.data.source['format'], 'image-folder');
  assert.deepEqual(tj.data.source['options'], { imageSize: [8, 8], channels: 3 });
  assert.equal(tj.data.defaults.from, 'RGB images');

  const e = runAlp(['eval', '--model', out, '--n', '48', '--eps', String(8 / 255), '--attacks', 'pgd-ce', '--steps', '3', '--restarts', '1', '--workers', '1', '--json']);
  assert.equal(e.code, 0, e.stderr);
  const r = JSON.parse(e.stdout) as { dataset: string; classNames: string[]; result: { examples: number; cleanAccuracy: number } };
  assert.equal(r.dataset, 'shapes');
  assert.deepEqual(r.classNames, ['circle', 'square']);
  assert.equal(r.result.examples, 48);
  assert.ok(r.result.cleanAccuracy >= 0.9, `clean accuracy ${r.result.cleanAccuracy}`);

  assert.doesNotMatch(e.stderr, /trained at ε=/);
  // Without --eps, alp eval measures at the ε the data kind chose at training (8/255 for RGB), and says so;
  // another ε given is warned about.
  const e2 = runAlp(['eval', '--model', out, '--n', '8', '--attacks', 'fgsm', '--workers', '1', '--out', join(tmp, 'epsdefault.json'), '--json']);
  assert.equal(e2.code, 0, e2.stderr);
  assert.equal((JSON.parse(e2.stdout) as { threat: { eps: number } }).threat.eps, 8 / 255);
  assert.match(e2.stderr, /ε=0\.03137: the default for RGB images, as .* was trained \(give --eps to choose\)/);
  const e3 = runAlp(['eval', '--model', out, '--n', '8', '--attacks', 'fgsm', '--eps', '0.3', '--workers', '1', '--out', join(tmp, 'eps03.json'), '--json']);
  assert.equal(e3.code, 0, e3.stderr);
  assert.match(e3.stderr, /trained at ε=0\.03137 \(the default for RGB images\), evaluated at ε=0\.3; leave out --eps \(or pass --eps 0\.0313/);

  // audit and the playground find the folder too, and name the classes.
  const au = runAlp(['audit', '--model', out, '--n', '8', '--budget', 'quick', '--eps', String(8 / 255), '--workers', '1', '--json']);
  assert.equal(au.code, 0, au.stderr);
  assert.deepEqual((JSON.parse(au.stdout) as { classNames: string[] }).classNames, ['circle', 'square']);
  const site = join(tmp, 'site');
  const pg = runAlp(['playground', out, '--export', site, '--quiet']);
  assert.equal(pg.code, 0, pg.stderr);
  const manifest = JSON.parse(readFileSync(join(site, 'playground.json'), 'utf8')) as { classNames: string[]; shape: number[] };
  assert.deepEqual(manifest.classNames, ['circle', 'square']);
  assert.deepEqual(manifest.shape, [8, 8, 3]);

  // The folder changed since training (a class renamed): refused, not scored against the wrong labels.
  for (const split of ['train', 'test']) renameSync(join(data, split, 'square'), join(data, split, 'box'));
  assertUserError(['eval', '--model', out, '--n', '8', '--attacks', 'pgd-ce', '--steps', '1', '--restarts', '1', '--workers', '1', '--quiet', '--out', join(tmp, 'never.json')],
    /shapes: classes are now \[box, circle\], but .*train\.json records \[circle, square\] from training/);
  assert.ok(!existsSync(join(tmp, 'never.json')));
});

test('bad data through the CLI: one line, exit 2, nothing written', async () => {
  const data = join(tmp, 'mixed');
  shapesFolder(data, 2);
  const rgba = new Uint8Array(9 * 9 * 4).fill(255);
  writeFileSync(join(data, 'train', 'square', '999.png'), encodePng(9, 9, rgba));
  const out = join(tmp, 'bad-run');
  assertUserError(['train', '--method', 'standard', '--data', data, '--out', out, '--workers', '1'], /train\/square\/999\.png: 9×9 \(H×W\), but .* is 8×8; pass --image-size H,W/);
  assert.ok(!existsSync(join(out, 'model.json')) && !existsSync(join(out, 'train.json')));
  // With --image-size it trains; naming the folder again later reads it with the recorded size.
  const t = runAlp(['train', '--method', 'standard', '--data', data, '--image-size', '8,8', '--epochs', '1', '--batch-size', '4', '--val-size', '0', '--out', out, '--workers', '1', '--quiet']);
  assert.equal(t.code, 0, t.stderr);
  const e = runAlp(['eval', '--model', out, '--data', data, '--n', '4', '--attacks', 'fgsm', '--eps', String(8 / 255), '--workers', '1', '--quiet', '--out', join(tmp, 'mixed-eval.json')]);
  assert.equal(e.code, 0, e.stderr);
  assertUserError(['train', '--method', 'standard', '--data', 'imagenet', '--out', join(tmp, 'never')], /--data: expected one of mnist, .*, or the path of your own data/);
  // The same kind of --data error in-process (parseDataSource is what every command calls on --data).
  await assertRejectsUserError(Promise.resolve().then(() => parseDataSource(join(tmp, 'nope.npz'))), /^--data .*nope\.npz: no such file or folder$/);
  assert.ok(!existsSync(join(tmp, 'never')));
});

test('a folder dataset with data-parallel workers and a sharded eval', () => {
  const data = join(tmp, 'shapes-workers');
  shapesFolder(data, 8);
  const out = join(tmp, 'run-workers');
  const t = runAlp(['train', '--method', 'standard', '--data', data, '--epochs', '1', '--batch-size', '8', '--val-size', '0', '--out', out, '--workers', '2', '--quiet']);
  assert.equal(t.code, 0, t.stderr);
  const shard = join(tmp, 'shard-1.json');
  const e = runAlp(['eval', '--model', out, '--n', '16', '--shard', '1/2', '--eps', String(8 / 255), '--attacks', 'fgsm', '--workers', '1', '--out', shard, '--quiet']);
  assert.equal(e.code, 0, e.stderr);
  const r = JSON.parse(readFileSync(shard, 'utf8')) as { classNames: string[]; shard?: unknown; result: { examples: number } };
  assert.deepEqual(r.classNames, ['circle', 'square']);
  assert.ok(r.shard !== undefined);
  assert.equal(r.result.examples, 8);
});
