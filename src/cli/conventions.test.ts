import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRequire } from 'node:module';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { assertUserError, runAlp } from '../testing/cli.js';
import { parseArgs, type CommandSpec } from './args.js';
import { Progress } from './progress.js';
import { TRAIN_SPEC, trainCommand } from './commands/train.js';
import { ConfigError, resolveConfig } from '../train/config.js';
import { optionMessage } from './args.js';
import { EXIT } from '../util/errors.js';

const tmp = mkdtempSync(join(tmpdir(), 'alp-conv-'));
process.on('exit', () => rmSync(tmp, { recursive: true, force: true }));

test('-h prints help and starts nothing; alp --version prints the version', () => {
  const h = runAlp(['train', '-h']);
  assert.equal(h.code, 0);
  assert.match(h.stdout, /^alp train — /);
  assert.match(h.stdout, /-h, --help/);
  assert.equal(h.stderr, '');
  const v = runAlp(['--version']);
  assert.equal(v.code, 0, v.stderr);
  const pkg = createRequire(import.meta.url)('../../package.json') as { version: string };
  assert.equal(v.stdout, `alp ${pkg.version}\n`);
});

test('stray arguments, single-dash options and a missing --method are errors, not ignored', async () => {
  // In-process (each CLI start loads tfjs); one real run below checks what the user sees.
  assert.throws(() => parseArgs(['--method', 'alp', 'runs/x'], TRAIN_SPEC), /alp train: unexpected argument 'runs\/x'/);
  assert.throws(() => parseArgs(['--method', 'alp', '-epochs', '2'], TRAIN_SPEC), /alp train: unknown option -epochs \(options are spelled --name/);
  assert.throws(() => parseArgs(['--method', 'alp', '--out', '--quiet'], TRAIN_SPEC), /--out needs a value \(got the option --quiet\)/);
  await assert.rejects(trainCommand(['--epochs', '1']), /alp train: --method is required \(one of standard, pgd-at, alp/);
  // The library names the config field (batchSize); the CLI names the option the user typed.
  assert.throws(() => resolveConfig(undefined, { batchSize: 1 }), (e: unknown) => e instanceof ConfigError && optionMessage(e) === '--batch-size: expected an integer ≥ 2, got 1' && !e.message.includes('--'));
  assertUserError(['eval', '--model', 'm', '-q'], /alp eval: unknown option -q/);
  assertUserError(['train', '--method', 'alp', '--batch-size', '1'], /^alp: --batch-size: expected an integer ≥ 2, got 1$/);
});

const spec: CommandSpec = {
  name: 'x', summary: '', usage: '', examples: [],
  options: [
    { name: 'budget', type: 'string', choices: ['quick', 'standard'], deprecatedAlias: 'version', help: '' },
    { name: 'eps', type: 'number', help: '' },
    { name: 'range', type: 'numbers', help: '' },
    { name: 'help', type: 'boolean', help: '' },
  ],
};

test('a renamed option keeps its old name with a deprecation notice; negative numbers are values', () => {
  const notes: string[] = [];
  const p = parseArgs(['--version', 'quick', '--eps', '-0.5', '--range', '-1,1'], spec, (l) => notes.push(l));
  assert.equal(p['budget'], 'quick');
  assert.equal(p['eps'], -0.5);
  assert.deepEqual(p['range'], [-1, 1]);
  assert.deepEqual(notes, ['alp x: --version is deprecated; use --budget']);
  assert.throws(() => parseArgs(['--version', 'huge'], spec, () => undefined), /--budget expects one of quick, standard, got 'huge'/);
  const a = runAlp(['audit', '--version', 'quick', '--help']);
  assert.equal(a.code, 0);
  assert.match(a.stderr, /alp audit: --version is deprecated; use --budget/);
  assert.match(a.stdout, /--budget quick\|standard\|thorough.*\(formerly --version\)/);
});

test('the first progress line has no ETA yet (not "0:00"); later ones estimate from this run\'s pace', () => {
  const lines: string[] = [];
  const stream = { isTTY: false, write: (s: string) => lines.push(s) } as unknown as NodeJS.WriteStream;
  const bar = new Progress('train', 100, { stream, every: 0 });
  bar.update(1);
  assert.match(lines[0] as string, /eta --:--/);
  const until = Date.now() + 30;
  while (Date.now() < until) { /* let time pass */ }
  bar.update(2);
  assert.doesNotMatch(lines[1] as string, /eta --:--/);
  assert.doesNotMatch(lines[1] as string, /eta 0:00/);
});

const TRAIN = ['train', '--method', 'standard', '--arch', 'mlp', '--epochs', '1', '--train-size', '128', '--val-size', '0', '--batch-size', '64', '--quiet', '--workers', '1'];

test('alp train refuses to overwrite a model in --out (exit 6); --resume continues it, --force replaces it and its stale results', () => {
  const out = join(tmp, 'run');
  assert.equal(runAlp([...TRAIN, '--out', out]).code, 0);
  const before = readFileSync(join(out, 'weights.bin'));
  writeFileSync(join(out, 'eval.json'), '{"model":"the old weights"}');
  const again = runAlp([...TRAIN, '--seed', '2', '--out', out]);
  assert.equal(again.code, EXIT.exists, again.stderr);
  assert.match(again.stderr.trim(), /^alp: .*run: already holds a standard model on mnist \(2 steps\); add --resume to continue that run, --force to replace it/);
  assert.equal(again.stderr.trim().split('\n').length, 1);
  assert.deepEqual(readFileSync(join(out, 'weights.bin')), before);
  assert.ok(existsSync(join(out, 'eval.json')));
  const forced = runAlp([...TRAIN, '--seed', '2', '--out', out, '--force']);
  assert.equal(forced.code, 0, forced.stderr);
  assert.notDeepEqual(readFileSync(join(out, 'weights.bin')), before);
  assert.ok(!existsSync(join(out, 'eval.json')), 'the replaced model\'s eval.json is gone');
});

test('every command that sets up a backend says which kernels run and, if not the native ones, why', () => {
  const r = runAlp(['eval', '--model', join(tmp, 'none')]);
  assert.equal(r.code, 2);
  assert.match(r.stderr.split('\n')[0] as string, /^backend (wasm|cpu|tensorflow); kernels: (native OpenBLAS|.*(not built|did not load|need the wasm backend|TensorFlow|ALP_NO_NATIVE))/);
  const off = spawnSync(process.execPath, [fileURLToPath(new URL('./main.js', import.meta.url)), 'eval', '--model', join(tmp, 'none')], { encoding: 'utf8', env: { ...process.env, ALP_NO_NATIVE: '1' } });
  assert.match(off.stderr.split('\n')[0] as string, /^backend wasm; kernels: alp wasm kernels; native kernels off \(ALP_NO_NATIVE=1\)/);
});
