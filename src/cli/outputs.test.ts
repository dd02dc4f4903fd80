import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { assertRejectsUserError, runAlp } from '../testing/cli.js';
import { parseCommand, type Parsed } from './args.js';
import { AUDIT_SPEC } from './specs/audit.js';
import { runAuditCommand } from './commands/audit.js';
import { savedMnistMlp } from '../testing/setup.js';

const tmp = mkdtempSync(join(tmpdir(), 'alp-outputs-cli-'));
process.on('exit', () => rmSync(tmp, { recursive: true, force: true }));

/** Exit 6 and one line (besides the backend and gradients header) that says what is there and how to allow it. */
function refused(args: string[], pattern: RegExp): void {
  const r = runAlp(args);
  assert.equal(r.code, 6, r.stderr);
  const lines = r.stderr.trim().split('\n').filter((l) => !/^backend \S+; kernels: /.test(l) && !/^gradients: /.test(l));
  assert.equal(lines.length, 1, r.stderr);
  assert.match(lines[0] as string, pattern);
  assert.match(lines[0] as string, /; not overwritten: set --force to replace it, or choose another --out$/);
}

test('alp eval and alp audit refuse to replace the results of other weights or settings (exit 6) before any work', async () => {
  const dir = await savedMnistMlp(join(tmp, 'm'));
  const first = runAlp(['eval', '--model', dir, '--n', '10', '--attacks', 'fgsm', '--quiet']);
  assert.equal(first.code, 0, first.stderr);
  const written = readFileSync(join(dir, 'eval.json'), 'utf8');
  refused(['eval', '--model', dir, '--n', '20', '--attacks', 'fgsm', '--quiet'], /eval\.json: holds the eval of these weights with other settings \(examples 10 there, 20 now\); not overwritten/);
  assert.equal(readFileSync(join(dir, 'eval.json'), 'utf8'), written);

  // Another model's audit in the output folder: refused before the audit starts.
  const out = join(tmp, 'audit');
  mkdirSync(out);
  writeFileSync(join(out, 'audit.json'), JSON.stringify({ schema: 'alp.audit/2', weightsHash: 'f'.repeat(64), dataset: 'mnist', examples: 10, threat: { norm: 'linf', eps: 0.3 }, version: 'quick', seed: 0 }));
  // In-process through alp audit's work function (the eval refusal above is the real process): the same line and status.
  const args = ['--model', dir, '--n', '10', '--budget', 'quick', '--out', out];
  await assertRejectsUserError(runAuditCommand(parseCommand(args, AUDIT_SPEC) as Parsed, args),
    /audit\.json: holds the audit of other weights \(sha256 ffffffffffff… there, [0-9a-f]{12}… now\); not overwritten: set --force to replace it, or choose another --out$/, 6);
  assert.equal(existsSync(join(out, 'audit.state.json')), false);
});
