import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const MAIN = fileURLToPath(new URL('./main.js', import.meta.url));
const NO_TFJS = fileURLToPath(new URL('../testing/no-tfjs-register.js', import.meta.url));

/** `alp ARGS` in a process where importing any @tensorflow package throws. */
function alpWithoutTfjs(args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, ['--import', NO_TFJS, MAIN, ...args], { encoding: 'utf8' });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

test('help, the version and every usage error are answered without loading tfjs', () => {
  // Exit 0 with the text on stdout.
  for (const [args, out] of [
    [['--version'], /^alp \d+\.\d+\.\d+/],
    [['--help'], /Usage: alp <command>/],
    [['train', '--help'], /Usage: alp train/],
    [['eval', '-h'], /Usage: alp eval/],
    [['compare', '--help'], /Usage: alp compare/],
    [['zoo', '--help'], /Usage: alp zoo <list\|verify\|add>/],
    [['zoo', 'verify', '--help'], /Usage: alp zoo verify NAME/],
  ] as const) {
    const r = alpWithoutTfjs([...args]);
    assert.equal(r.code, 0, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stdout, out);
  }
  // Exit 2 with one line on stderr: the same lines as when tfjs is there (cli.test.ts, conventions.test.ts).
  for (const [args, line] of [
    [['frobnicate'], /^alp: unknown command 'frobnicate'/],
    [['train', '--bogus'], /^alp: alp train: unknown option --bogus/],
    [['train', '--epochs', 'abc'], /--epochs expects an integer, got 'abc'/],
    [['train', '--epochs', '1'], /^alp: alp train: --method is required \(one of standard, pgd-at, alp/],
    [['eval', '--n', '10'], /^alp: alp eval: --model is required/],
    [['eval', '--model', 'm', '--shard', '3/2'], /^alp: --shard: K must be in 1\.\.2/],
    [['train', '--method', 'standard', '--input-range=-1,1'], /^alp: --input-range: only with --model/],
    [['train', '--method', 'standard', '--activation', 'swish', '--model', 'm.json'], /^alp: --activation: only with a built architecture \(--arch\), not --model/],
    [['train', '--method', 'standard', '--activation', 'tanh'], /--activation expects one of relu, swish, gelu, elu/],
    [['attack', '--model', 'm', '--attack', 'magic'], /--attack expects one of fgsm, pgd-ce/],
    [['audit', '--model', 'm', '--budget', 'huge'], /--budget expects one of quick, standard, thorough/],
    [['demo', '--workers', 'two'], /--workers expects an integer, got 'two'/],
    [['merge', 'shard-1.json'], /^alp: alp merge: --out is required/],
    [['report'], /^alp: alp report: name at least one RUN folder/],
    [['playground', 'a', 'b'], /^alp: alp playground: expected at most one RUN_DIR, got 2/],
    [['zoo', 'frob'], /^alp: alp zoo: unknown subcommand 'frob'/],
    [['zoo', 'verify'], /^alp: alp zoo verify: expected one model NAME, got 0/],
    [['eval', '--model', 'zoo:no-such-model'], /^alp: zoo:no-such-model: no such model in /],
  ] as const) {
    const r = alpWithoutTfjs([...args]);
    assert.equal(r.code, 2, `${args.join(' ')}: exit ${r.code}\n${r.stderr}`);
    const lines = r.stderr.trim().split('\n');
    assert.equal(lines.length, 1, `${args.join(' ')}: ${r.stderr}`);
    assert.match(lines[0] as string, line);
  }
});

test('the no-tfjs hook does stop a command that needs tfjs (so the test above can fail)', () => {
  const out = mkdtempSync(join(tmpdir(), 'alp-startup-'));
  try {
    const r = alpWithoutTfjs(['train', '--method', 'standard', '--epochs', '1', '--train-size', '64', '--out', join(out, 'run'), '--quiet']);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /no-tfjs hook: @tensorflow\/\S+ was imported/);
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});
