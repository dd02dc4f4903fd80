import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SPAM_SEQUENCE_LENGTH, SPAM_VOCABULARY_SIZE } from '../data/spam-assassin.js';
import { buildArch } from '../model/architectures.js';
import { saveModel } from '../model/io.js';
import { runAlp } from '../testing/cli.js';
import { savedMnistMlp, useBackend } from '../testing/setup.js';
import { onInterrupt } from '../util/interrupt.js';

const MAIN = fileURLToPath(new URL('./main.js', import.meta.url));
const tmp = mkdtempSync(join(tmpdir(), 'alp-signals-'));
process.on('exit', () => rmSync(tmp, { recursive: true, force: true }));

// Explicit workers: SIGINT is tested on 2 worker threads, SIGTERM in this thread, whatever the cores.
const trainArgs = (out: string, workers: '1' | '2'): string[] => [
  'train', '--method', 'standard', '--arch', 'mlp', '--epochs', '1', '--train-size', '4000', '--val-size', '0',
  '--batch-size', '16', '--checkpoint-every', '0', '--workers', workers, '--out', out,
];

/** Starts `alp train`, sends `signals` once its first line is out, and collects the outcome. */
function trainAndSignal(out: string, signals: NodeJS.Signals[], workers: '1' | '2'): Promise<{ code: number | null; stderr: string; ms: number }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [MAIN, ...trainArgs(out, workers)], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '', sent = false, sentAt = 0;
    child.stdout.resume();
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
      if (!sent && stderr.includes('alp train: standard')) {
        sent = true;
        sentAt = Date.now();
        for (const s of signals) child.kill(s);
      }
    });
    child.on('exit', (code) => resolve({ code, stderr, ms: Date.now() - sentAt }));
  });
}

test('SIGINT stops alp train (2 workers) after the current step: one line, exit 130, model and checkpoint saved, --resume finishes', async () => {
  const out = join(tmp, 'int');
  const r = await trainAndSignal(out, ['SIGINT'], '2');
  assert.equal(r.code, 130, r.stderr);
  const lines = r.stderr.split('\n').filter((l) => l.includes('SIGINT'));
  assert.equal(lines.length, 1, r.stderr);
  assert.match(lines[0] as string, /alp train: SIGINT received: stopping after this step; the model and checkpoint are saved/);
  const partial = JSON.parse(readFileSync(join(out, 'train.json'), 'utf8')) as { complete: boolean; steps: number };
  assert.equal(partial.complete, false);
  assert.ok(partial.steps >= 1 && partial.steps < 250, `steps ${partial.steps}`);
  assert.ok(existsSync(join(out, 'model.json')) && existsSync(join(out, 'checkpoint.alp')));
  // Resumed in this thread: the worker count is not part of the run's configuration.
  const done = runAlp([...trainArgs(out, '1'), '--resume', '--quiet']);
  assert.equal(done.code, 0, done.stderr);
  const final = JSON.parse(readFileSync(join(out, 'train.json'), 'utf8')) as { complete: boolean; steps: number };
  assert.deepEqual([final.complete, final.steps], [true, 250]);
});

test('SIGTERM stops it (in this thread) the same way, with exit 143', async () => {
  const term = await trainAndSignal(join(tmp, 'term'), ['SIGTERM'], '1');
  assert.equal(term.code, 143, term.stderr);
  assert.match(term.stderr, /alp train: SIGTERM received: stopping after this step/);
  assert.ok(existsSync(join(tmp, 'term', 'model.json')));
});

// Two signals sent back to back reach a process as one, so the second-signal path is driven in-process.
test('a second signal exits at once with 130/143 and says it did not save', () => {
  for (const [sig, code] of [['SIGINT', 130], ['SIGTERM', 143]] as const) {
    const lines: string[] = [];
    const it = onInterrupt('train', 'this step', (l) => lines.push(l));
    const exit = process.exit;
    let exited: number | undefined;
    process.exit = ((c?: number) => {
      exited = c;
      return undefined as never;
    }) as typeof process.exit;
    try {
      process.emit(sig, sig);
      assert.equal(it.signal.aborted, true);
      assert.equal(exited, undefined);
      assert.equal(it.exitCode(), code);
      process.emit(sig, sig);
      assert.equal(exited, code);
      assert.match(lines[1] as string, new RegExp(`alp train: ${sig} again: aborted without saving`));
    } finally {
      process.exit = exit;
      it.dispose();
    }
  }
});

const mnistModel = (): Promise<string> => savedMnistMlp(join(tmp, 'mlp'));

/** Runs alp with `args` and sends `sig` once stderr matches `when` (by default the first progress line, after the first batch). */
function runAndSignal(args: string[], sig: NodeJS.Signals, when = / \d+\/\d+ \(\d+%\)/): Promise<{ code: number | null; stderr: string; stdout: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [MAIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '', stdout = '', sent = false;
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
      if (!sent && when.test(stderr)) {
        sent = true;
        child.kill(sig);
      }
    });
    child.on('exit', (code) => resolve({ code, stderr, stdout }));
  });
}

const oneLine = (stderr: string, sig: string): string => {
  const lines = stderr.split('\n').filter((l) => l.includes(sig));
  assert.equal(lines.length, 1, stderr);
  return lines[0] as string;
};

test('SIGTERM stops alp eval after the current batch: one line, exit 143, the earlier eval.json left as it was', async () => {
  const model = await mnistModel();
  const out = join(tmp, 'eval-stop.json');
  const args = ['eval', '--model', model, '--n', '1000', '--attacks', 'pgd-ce', '--steps', '100', '--restarts', '1', '--batch-size', '4', '--out', out];
  // An earlier result there (replaced only by a finished run, and only with --force).
  const kept = '{"schema":"alp.eval/2","weightsHash":"0000"}\n';
  writeFileSync(out, kept);
  const r = await runAndSignal([...args, '--force'], 'SIGTERM');
  assert.equal(r.code, 143, r.stderr);
  assert.match(oneLine(r.stderr, 'SIGTERM'), /^alp eval: SIGTERM received: stopping after this batch; nothing is written/);
  assert.equal(readFileSync(out, 'utf8'), kept);
});

test('SIGINT stops alp audit after the current batch with its state saved: exit 130, no audit.json', async () => {
  const model = await mnistModel();
  const out = join(tmp, 'audit-stop');
  const r = await runAndSignal(['audit', '--model', model, '--n', '1000', '--budget', 'quick', '--batch-size', '4', '--workers', '1', '--out', out], 'SIGINT');
  assert.equal(r.code, 130, r.stderr);
  assert.match(oneLine(r.stderr, 'SIGINT'), /^alp audit: SIGINT received: stopping after this batch; the audit so far is kept in .*audit\.state\.json and the same command resumes it/);
  const state = JSON.parse(readFileSync(join(out, 'audit.state.json'), 'utf8')) as { attackIndex: number; done: number; robust: number[] };
  // In-thread (--workers 1): stopped within the first attack, with the batches before the signal (and the one during it) booked.
  assert.equal(state.attackIndex, 0);
  assert.ok(state.done >= 4 && state.done < state.robust.length, `done ${state.done}`);
  assert.equal(existsSync(join(out, 'audit.json')), false);
});

// On 2 workers (the queue hands out no more slices, the ones in flight finish) and in this thread.
for (const [sig, code, workers] of [['SIGINT', 130, '2'], ['SIGTERM', 143, '1']] as const) {
  test(`${sig} stops alp detect eval --workers ${workers} after the current batch: exit ${code}, nothing written`, async () => {
    const model = await mnistModel();
    const out = join(tmp, `detect-stop-${workers}.json`);
    const r = await runAndSignal(['detect', 'eval', '--model', model, '--n', '1000', '--calib-n', '200', '--detectors', 'margin', '--attacks', 'pgd-ce',
      '--steps', '100', '--batch-size', '4', '--no-adaptive', '--workers', workers, '--out', out], sig);
    assert.equal(r.code, code, r.stderr);
    assert.match(oneLine(r.stderr, sig), new RegExp(`^alp detect eval: ${sig} received: stopping after this batch; nothing is written`));
    if (workers === '2') assert.match(r.stderr, /2 workers/);
    assert.equal(existsSync(out), false);
  });
}

test('SIGINT during alp eval --swaps stops the word-swap evaluation before its next message: exit 130, nothing written', async () => {
  // An untrained text-cnn shaped for SpamAssassin: about a third of the messages are classified right
  // and attacked word by word, far more than one message's worth of work.
  await useBackend();
  const model = join(tmp, 'spam-cnn');
  await saveModel(buildArch('text-cnn', { inputShape: [SPAM_SEQUENCE_LENGTH, 1, 1], numClasses: 2, seed: 1, vocabularySize: SPAM_VOCABULARY_SIZE }), model);
  const out = join(tmp, 'swaps-stop.json');
  const r = await runAndSignal(['eval', '--model', model, '--data', 'spam-assassin', '--n', '600', '--norm', 'l2', '--eps', '0.5', '--attacks', 'fgsm',
    '--swaps', '1,2', '--word-attacks', 'greedy-swap,hotflip', '--workers', '1', '--out', out], 'SIGINT', /greedy-swap k=1 +\d+\/\d+ \(/);
  assert.equal(r.code, 130, r.stderr);
  assert.match(oneLine(r.stderr, 'SIGINT'), /^alp eval: SIGINT received: stopping after this batch; nothing is written/);
  // Stopped inside the first attack run: it never reached its last message, and nothing after it started.
  const done = [...r.stderr.matchAll(/greedy-swap k=1 +(\d+)\/(\d+)/g)].map((m) => [Number(m[1]), Number(m[2])] as const);
  assert.ok(done.length > 0 && done.every(([d, n]) => d < n), JSON.stringify(done));
  assert.doesNotMatch(r.stderr, /hotflip k=1|greedy-swap k=2/);
  assert.equal(r.stdout, '');
  assert.equal(existsSync(out), false);
});
