/** Test helpers that run the built CLI as a user would: a child process, exit code, stdout, stderr. */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { UserError } from '../util/errors.js';
import { optionMessage } from '../cli/args.js';

const MAIN = fileURLToPath(new URL('../cli/main.js', import.meta.url));

export function runAlp(args: string[], o: { cwd?: string; env?: Record<string, string> } = {}): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [MAIN, ...args], { encoding: 'utf8', ...(o.cwd !== undefined ? { cwd: o.cwd } : {}), ...(o.env !== undefined ? { env: { ...process.env, ...o.env } } : {}) });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** A user error: exit status 2 and exactly one line on stderr, matching `pattern`. */
export function assertUserError(args: string[], pattern: RegExp): void {
  const r = runAlp(args);
  assert.equal(r.code, 2, `exit code for ${args.join(' ')}: ${r.code}\n${r.stderr}`);
  // The backend/kernels header that commands print before their work is progress, not the error.
  const lines = r.stderr.trim().split('\n').filter((l) => !/^backend \S+; kernels: /.test(l));
  assert.equal(lines.length, 1, `one line expected, got:\n${r.stderr}`);
  assert.match(lines[0] as string, pattern);
}

/**
 * The same check in-process, for the library call a command makes: `work` rejects with a UserError
 * (exit 2 by default) whose one-line message matches `pattern`. It saves a process (and a TF.js load,
 * about a second) per case; keep at least one real process per kind of error, for the CLI's part.
 */
export async function assertRejectsUserError(work: Promise<unknown>, pattern: RegExp, code = 2): Promise<void> {
  await assert.rejects(work, (e: unknown) => {
    assert.ok(e instanceof UserError, `a UserError expected, got ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
    assert.equal(e.code, code, `exit code of: ${e.message}`);
    // The line alp prints after 'alp: ' (options named as flags).
    const line = optionMessage(e);
    assert.doesNotMatch(line, /\n/, 'one line');
    assert.match(line, pattern);
    return true;
  });
}
