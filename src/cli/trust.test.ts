/**
 * The trust rules with real processes (issue 24): results keyed on the examples' contents, one output
 * rule for every command that writes, options that do not apply refused, worker clamping and empty
 * shards. Each kind of case runs the built CLI as a user would and checks the exit code, the one stderr
 * line and what is (not) on disk; further refusals of a kind already seen run the command in-process.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeIdx } from '../data/idx.js';
import { dataRecord } from '../data/digest.js';
import { loadDataset, subset } from '../data/index.js';
import { assertRejectsUserError, runAlp } from '../testing/cli.js';
import { parseCommand, type CommandSpec, type Parsed } from './args.js';
import { ATTACK_SPEC } from './specs/attack.js';
import { AUDIT_SPEC } from './specs/audit.js';
import { COMPARE_SPEC } from './specs/compare.js';
import { EVAL_SPEC } from './specs/eval.js';
import { REPORT_SPEC } from './specs/report.js';
import { savedMnistMlp } from '../testing/setup.js';

const tmp = mkdtempSync(join(tmpdir(), 'alp-trust-'));
process.on('exit', () => rmSync(tmp, { recursive: true, force: true }));

/** An MNIST-format test split of `n` seeded images in `dir`; `flip` changes one pixel of image 0. */
function mnistDir(dir: string, n: number, flip = false): string {
  mkdirSync(dir, { recursive: true });
  const px = new Uint8Array(n * 28 * 28).map((_, i) => (i * 2654435761) >>> 24);
  if (flip) px[100] = (px[100] as number) ^ 0xff;
  writeIdx(join(dir, 't10k-images-idx3-ubyte'), { dtype: 'uint8', shape: [n, 28, 28], data: px });
  writeIdx(join(dir, 't10k-labels-idx1-ubyte'), { dtype: 'uint8', shape: [n], data: Uint8Array.from({ length: n }, (_, i) => i % 10) });
  return dir;
}

/** The stderr lines that are not the backend header. */
const errLines = (stderr: string): string[] => stderr.trim().split('\n').filter((l) => l !== '' && !/^backend \S+; kernels: /.test(l) && !/^gradients: /.test(l));

function fails(args: string[], code: number, pattern: RegExp): void {
  const r = runAlp(args);
  assert.equal(r.code, code, `alp ${args.join(' ')}: exit ${r.code}\n${r.stderr}`);
  const lines = errLines(r.stderr);
  assert.equal(lines.length, 1, r.stderr);
  assert.match(lines[0] as string, pattern);
}

const EVAL = ['eval', '--attacks', 'fgsm', '--quiet', '--workers', '1'];

/**
 * A refusal checked in-process: the command's work function, as alp runs it after parsing, rejects with
 * the one-line UserError that alp prints after 'alp: ' and exits with. Each kind of refusal is also
 * checked once with a real process in this file; this saves a process (a TF.js load) per further case.
 */
const COMMAND: Record<string, { spec: CommandSpec; run: (p: Parsed, argv: string[]) => Promise<unknown> }> = {
  eval: { spec: EVAL_SPEC, run: async (p, a) => (await import('./commands/eval.js')).runEvalCommand(p, a) },
  attack: { spec: ATTACK_SPEC, run: async (p, a) => (await import('./commands/attack.js')).runAttackCommand(p, a) },
  audit: { spec: AUDIT_SPEC, run: async (p, a) => (await import('./commands/audit.js')).runAuditCommand(p, a) },
  report: { spec: REPORT_SPEC, run: async (p) => (await import('./commands/report.js')).runReportCommand(p) },
  compare: { spec: COMPARE_SPEC, run: async (p, a) => (await import('./commands/compare.js')).runCompareCommand(p, a) },
};
async function refusedInProcess(args: string[], code: number, pattern: RegExp): Promise<void> {
  const [cmd, ...rest] = args;
  const c = COMMAND[cmd as string];
  assert.ok(c !== undefined, `no in-process runner for ${cmd}`);
  await assertRejectsUserError(Promise.resolve().then(() => c.run(parseCommand(rest, c.spec) as Parsed, rest)), pattern, code);
}

test('class 1: eval and merge tell examples apart by content, not by the dataset name, and name both sources', async () => {
  const model = await savedMnistMlp(join(tmp, 'm1'));
  const a = mnistDir(join(tmp, 'data-a'), 6), b = mnistDir(join(tmp, 'data-b'), 6, true);
  const out = join(tmp, 'e1.json');
  const first = runAlp([...EVAL, '--model', model, '--data', 'mnist', '--data-dir', a, '--out', out]);
  assert.equal(first.code, 0, first.stderr);
  const written = JSON.parse(readFileSync(out, 'utf8')) as { data: { source: string; digest: string; examples: number } };
  assert.equal(written.data.source, `mnist from ${a}`);
  assert.equal(written.data.examples, 6);
  assert.match(written.data.digest, /^[0-9a-f]{64}$/);
  // Same name, same settings, one pixel different: refused before any work, naming both folders.
  fails([...EVAL, '--model', model, '--data', 'mnist', '--data-dir', b, '--out', out], 6,
    new RegExp(`e1\\.json: holds the eval of these weights on other examples \\(mnist from ${a} \\(sha256 [0-9a-f]{12}…\\) there, mnist from ${b} \\(sha256 [0-9a-f]{12}…\\) now\\); not overwritten`));
  // The same examples from another folder are the same measurement.
  const copy = mnistDir(join(tmp, 'data-a-copy'), 6);
  assert.equal(runAlp([...EVAL, '--model', model, '--data', 'mnist', '--data-dir', copy, '--out', out]).code, 0);

  // Shards of one run on other files of the same dataset name do not merge.
  const s1 = join(tmp, 's1.json'), s2 = join(tmp, 's2.json');
  assert.equal(runAlp([...EVAL, '--model', model, '--data', 'mnist', '--data-dir', a, '--shard', '1/2', '--out', s1]).code, 0);
  assert.equal(runAlp([...EVAL, '--model', model, '--data', 'mnist', '--data-dir', b, '--shard', '2/2', '--out', s2]).code, 0);
  fails(['merge', s1, s2, '--out', join(tmp, 'merged.json')], 2,
    new RegExp(`s2\\.json: a shard of other examples than .*s1\\.json \\(mnist from ${b} .* there, mnist from ${a} .* in .*s1\\.json\\)`));
  assert.equal(existsSync(join(tmp, 'merged.json')), false);
});

test('class 2: merge --out does not replace another model\'s eval.json; the same run\'s result it may', async () => {
  const m1 = await savedMnistMlp(join(tmp, 'm1'));
  const a = mnistDir(join(tmp, 'data-a'), 6);
  const s1 = join(tmp, 'g1.json'), s2 = join(tmp, 'g2.json');
  for (const [k, f] of [['1/2', s1], ['2/2', s2]] as const) assert.equal(runAlp([...EVAL, '--model', m1, '--data', 'mnist', '--data-dir', a, '--shard', k, '--out', f]).code, 0);
  const other = join(tmp, 'other-eval.json');
  writeFileSync(other, JSON.stringify({ schema: 'alp.eval/2', weightsHash: 'e'.repeat(64), dataset: 'mnist', threat: { norm: 'linf', eps: 0.3 }, suite: {}, result: { examples: 6 } }));
  fails(['merge', s1, s2, '--out', other], 6, /other-eval\.json: holds the eval of other weights \(sha256 eeeeeeeeeeee… there, [0-9a-f]{12}… now\); not overwritten: set --force to replace it, or choose another --out$/);
  const merged = join(tmp, 'merged-ok.json');
  assert.equal(runAlp(['merge', s1, s2, '--out', merged, '--quiet']).code, 0);
  assert.equal(runAlp(['merge', s1, s2, '--out', merged, '--quiet']).code, 0, 'the same merge again replaces its own result');
  assert.equal(runAlp(['merge', s1, s2, '--out', other, '--force', '--quiet']).code, 0);
});

test('class 2: alp compare refuses duplicate methods, a second run without --resume, and a resume with other settings', async () => {
  fails(['compare', '--methods', 'standard,standard', '--out', join(tmp, 'cmp0')], 2, /--methods: expected each method once \(one folder each\), got standard more than once/);
  const out = join(tmp, 'cmp');
  mkdirSync(out, { recursive: true });
  const n = 20;
  const test = subset(loadDataset('mnist', 'test'), 0, n);
  const recorded = {
    schema: 'alp.compare/1', dataset: 'mnist', data: dataRecord(test), threat: { norm: 'linf', eps: 0.3 }, preset: 'quick', seed: 1, budgetSeconds: 6,
    auditVersion: 'quick', testExamples: n, methodList: ['standard'], shifts: 'default', ood: null, methods: [], best: null,
  };
  writeFileSync(join(out, 'compare.json'), JSON.stringify(recorded));
  const common = ['compare', '--methods', 'standard', '--budget-minutes', '0.1', '--audit', 'quick', '--n', String(n), '--ood', 'none', '--out', out, '--quiet'];
  fails(common, 6, /compare\.json: holds a comparison already; set --resume to continue it, --force to replace it, or choose another --out$/);
  await refusedInProcess([...common, '--resume', '--eps', '0.1'], 6, /compare\.json: holds the comparison with other settings \(eps 0\.3 there, 0\.1 now\); not resumed: resume it with the same settings, set --force to replace it, or choose another --out$/);
  assert.deepEqual(JSON.parse(readFileSync(join(out, 'compare.json'), 'utf8')), recorded);
  assert.equal(existsSync(join(out, 'standard')), false);
});

test('class 2: alp report writes into the run folder and replaces only a page of the same runs', async () => {
  const run = join(tmp, 'run-r');
  mkdirSync(run, { recursive: true });
  await savedMnistMlp(run);
  // A training-only run: train.json without eval numbers.
  writeFileSync(join(run, 'train.json'), JSON.stringify({ schema: 'alp.train/1', config: { method: 'standard', arch: 'mlp', dataset: 'mnist' }, steps: 10, evals: [] }));
  const r = runAlp(['report', run]);
  assert.equal(r.code, 0, r.stderr);
  assert.ok(existsSync(join(run, 'report.html')) && existsSync(join(run, 'report.data.json')));
  assert.doesNotMatch(r.stdout, /NaN/);
  assert.match(r.stdout, /clean not evaluated, worst case not evaluated/);
  assert.doesNotMatch(readFileSync(join(run, 'report.html'), 'utf8'), /NaN%/);
  assert.equal(runAlp(['report', run, '--quiet']).code, 0, 'the same page again');
  const other = join(tmp, 'run-s');
  mkdirSync(other, { recursive: true });
  await savedMnistMlp(other);
  fails(['report', other, '--out', join(run, 'report.html')], 6, /report\.html: holds the alp report with other settings \(runs \. there, \.\.\/run-s now\); not overwritten/);
  const mine = join(tmp, 'notes.html');
  writeFileSync(mine, '<p>my notes</p>');
  await refusedInProcess(['report', run, '--out', mine], 6, /notes\.html: exists and is not an alp report result; not overwritten: set --force to replace it/);
  assert.equal(readFileSync(mine, 'utf8'), '<p>my notes</p>');
});

test('class 2: alp attack keeps another attack\'s output; class 3: word-swap options on an image model are refused', async () => {
  const model = await savedMnistMlp(join(tmp, 'm1'));
  const a = mnistDir(join(tmp, 'data-a'), 6);
  const out = join(tmp, 'atk');
  const base = ['attack', '--model', model, '--data', 'mnist', '--data-dir', a, '--n', '2', '--steps', '2', '--workers', '1', '--out', out, '--quiet'];
  assert.equal(runAlp([...base, '--attack', 'fgsm']).code, 0);
  await refusedInProcess([...base, '--attack', 'pgd-ce'], 6, /atk\/attack\.json: holds the attack of these weights with other settings \(attack .* there, .* now\); not overwritten/);
  fails([...base, '--attack', 'fgsm', '--candidates', 'neighbours'], 2, /^alp: --candidates: an option of word attacks; add --word-attack NAME/);
  await refusedInProcess(['audit', '--model', model, '--data', 'mnist', '--data-dir', a, '--n', '4', '--budget', 'quick', '--swaps', '1,2', '--out', join(tmp, 'aud')], 2,
    /^--swaps: an option of the word-swap phase, for text models; .*m1 is not a text model/);
  assert.equal(existsSync(join(tmp, 'aud')), false);
  await refusedInProcess([...EVAL, '--model', model, '--data', 'mnist', '--data-dir', a, '--word-attacks', 'hotflip', '--out', join(tmp, 'w.json')], 2, /^--word-attacks: an option of the word-swap evaluation; add --swaps/);
});

test('class 5: --workers beyond the cores is clamped and said; an empty shard warns and says "no examples"', async () => {
  const model = await savedMnistMlp(join(tmp, 'm1'));
  const a = mnistDir(join(tmp, 'data-a'), 6);
  const r = runAlp(['eval', '--model', model, '--data', 'mnist', '--data-dir', a, '--n', '4', '--attacks', 'fgsm', '--workers', '99', '--json', '--out', join(tmp, 'w99.json')]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /warning: --workers 99: this machine has \d+ cores?; using \d+ workers?/);
  assert.ok((JSON.parse(r.stdout) as { warnings: string[] }).warnings.some((w) => /--workers 99: this machine has/.test(w)));
  const s = runAlp(['eval', '--model', model, '--data', 'mnist', '--data-dir', a, '--n', '2', '--attacks', 'fgsm', '--workers', '1', '--shard', '1/3', '--out', join(tmp, 'empty.json')]);
  assert.equal(s.code, 0, s.stderr);
  assert.match(s.stderr, /warning: --shard 1\/3: no examples \(2 examples over 3 shards leave this one empty\)/);
  assert.match(s.stdout, /shard 1\/3: no examples, so no accuracy/);
  assert.doesNotMatch(s.stdout, /0\.0%/);
  // The same shard again replaces its own file; another shard of the run does not.
  const again = ['eval', '--model', model, '--data', 'mnist', '--data-dir', a, '--n', '2', '--attacks', 'fgsm', '--workers', '1', '--quiet', '--out', join(tmp, 'empty.json')];
  assert.equal(runAlp([...again, '--shard', '1/3']).code, 0);
  await refusedInProcess([...again, '--shard', '3/3'], 6, /empty\.json: holds the eval of these weights with other settings \(shard 1\/3 there, 3\/3 now\)/);
});
