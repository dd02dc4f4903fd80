import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runAlp } from '../testing/cli.js';
import { EXIT, ioErrorOf } from '../util/errors.js';
import { makeDir, writeFileAtomic } from '../util/atomic.js';

const tmp = mkdtempSync(join(tmpdir(), 'alp-exit-'));
process.on('exit', () => rmSync(tmp, { recursive: true, force: true }));

const TRAIN = ['train', '--method', 'standard', '--arch', 'mlp', '--epochs', '1', '--train-size', '256', '--val-size', '0', '--batch-size', '64', '--quiet', '--workers', '1'];

/** Exactly one line on stderr, no stack trace, the given status. */
function oneLine(args: string[], code: number, pattern: RegExp): void {
  const r = runAlp(args);
  assert.equal(r.code, code, `exit status of alp ${args.join(' ')}:\n${r.stderr}`);
  const lines = r.stderr.trim().split('\n').filter((l) => !/^backend \S+; kernels: /.test(l) && !/^gradients: /.test(l));
  assert.equal(lines.length, 1, r.stderr);
  assert.match(lines[0] as string, pattern);
  assert.doesNotMatch(r.stderr, /internal error|    at /);
}

test('--out naming a file, or a path through one, is one line with exit 5', () => {
  const file = join(tmp, 'a-file');
  writeFileSync(file, 'x');
  oneLine([...TRAIN, '--out', file], EXIT.io, /a-file: a file is in the way where a folder is expected \(EEXIST/);
  oneLine([...TRAIN, '--out', join(file, 'sub')], EXIT.io, /a-file\/sub: a file is in the way where a folder is expected \(ENOTDIR/);
  assert.equal(readFileSync(file, 'utf8'), 'x');
});

test('a folder where an output file should go is one clear error (exit 5), and the folder is untouched', () => {
  const dir = join(tmp, 'eval.json');
  mkdirSync(join(dir, 'inside'), { recursive: true });
  assert.throws(() => writeFileAtomic(dir, '{}'), (e: unknown) => ioErrorOf(e)?.code === EXIT.io && /eval\.json: a folder is in the way where a file is expected \((EISDIR|ENOTEMPTY|EEXIST)/.test((e as Error).message));
  assert.deepEqual(execFileSync('ls', ['-A', tmp], { encoding: 'utf8' }).split('\n').filter((f) => f.endsWith('.tmp')), []);
});

test('divergence (--lr 1e30) is one line with exit 4 and writes no model', () => {
  const out = join(tmp, 'diverge');
  oneLine([...TRAIN, '--lr', '1e30', '--schedule', 'constant', '--out', out], EXIT.diverged, /training diverged (at|by) step \d+: .*try a lower learning rate/);
  assert.throws(() => readFileSync(join(out, 'model.json')));
});

test('a checkpoint damaged after it was written is refused on --resume with exit 7', () => {
  const out = join(tmp, 'corrupt');
  assert.equal(runAlp([...TRAIN, '--out', out, '--max-minutes', '0.00001']).code, 0);
  const path = join(out, 'checkpoint.alp');
  const buf = readFileSync(path);
  buf.writeFloatLE(buf.readFloatLE(buf.length - 40) * 1.5 + 0.25, buf.length - 40);
  writeFileSync(path, buf);
  oneLine([...TRAIN, '--out', out, '--resume'], EXIT.corrupt, /checkpoint\.alp: checkpoint is corrupt \(its SHA-256 checksum does not match/);
});

test('a full disk and a read-only file system name the file and the reason (no misleading ENOENT)', (t) => {
  // A real ENOSPC without privileges: /dev/full.
  let full: unknown;
  try {
    writeFileSync('/dev/full', 'x');
  } catch (e) {
    full = e;
  }
  assert.match(ioErrorOf(full, '/x/model.json')?.message ?? '', /^\/x\/model.json: no space left on the device \(ENOSPC/);
  assert.equal(ioErrorOf(full)?.code, EXIT.io);
  // Real small and read-only file systems where we may mount them (root); skipped elsewhere.
  const fullDir = join(tmp, 'tiny'), roDir = join(tmp, 'ro');
  mkdirSync(fullDir);
  mkdirSync(roDir);
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=16k', 'tmpfs', fullDir], { stdio: 'ignore' });
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'ro,size=16k', 'tmpfs', roDir], { stdio: 'ignore' });
  } catch {
    t.skip('cannot mount tmpfs here (needs root); ENOSPC checked through /dev/full only');
    return;
  }
  try {
    assert.throws(() => writeFileAtomic(join(fullDir, 'big.bin'), new Uint8Array(64 * 1024)), (e: unknown) => ioErrorOf(e)?.code === EXIT.io && /big\.bin: no space left on the device \(ENOSPC/.test((e as Error).message));
    assert.deepEqual(execFileSync('ls', ['-A', fullDir], { encoding: 'utf8' }), '', 'the temp file is removed');
    assert.throws(() => makeDir(join(roDir, 'a', 'b')), /ro\/a\/b: the file system is read-only \(EROFS/);
    oneLine([...TRAIN, '--out', join(fullDir, 'run')], EXIT.io, /no space left on the device \(ENOSPC/);
    oneLine([...TRAIN, '--out', join(roDir, 'run')], EXIT.io, /ro\/run: the file system is read-only \(EROFS/);
  } finally {
    execFileSync('umount', [fullDir]);
    execFileSync('umount', [roDir]);
  }
});
