/**
 * The playground as a process under bad requests and hostile file systems (issue 24): every bad
 * request answered 4xx and the server keeps serving; links leaving the run folder neither served nor
 * exported; `--export` on a read-only and on a full file system (small tmpfs mounts; skipped when not
 * root) is one line with exit 5 and leaves nothing that looks complete.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync, copyFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeIdx } from '../data/idx.js';
import { runAlp } from '../testing/cli.js';
import { savedMnistMlp } from '../testing/setup.js';

const MAIN = fileURLToPath(new URL('../cli/main.js', import.meta.url));
const tmp = mkdtempSync(join(tmpdir(), 'alp-pg-trust-'));
process.on('exit', () => rmSync(tmp, { recursive: true, force: true }));
const root = process.getuid?.() === 0;

function data(): string {
  const dir = join(tmp, 'data');
  if (!existsSync(dir)) {
    mkdirSync(dir);
    writeIdx(join(dir, 't10k-images-idx3-ubyte'), { dtype: 'uint8', shape: [4, 28, 28], data: new Uint8Array(4 * 784).fill(7) });
    writeIdx(join(dir, 't10k-labels-idx1-ubyte'), { dtype: 'uint8', shape: [4], data: Uint8Array.from([0, 1, 2, 3]) });
  }
  return dir;
}

const PG = (run: string): string[] => ['playground', run, '--data', 'mnist', '--data-dir', data(), '--samples', '4'];

/** One raw HTTP request to 127.0.0.1:port; the status code of the answer (0: closed without one). */
function raw(port: number, request: string): Promise<number> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1');
    let got = '';
    s.setTimeout(10_000, () => s.destroy());
    s.on('data', (d) => { got += d.toString('latin1'); });
    s.on('close', () => resolve(Number(/^HTTP\/1\.1 (\d{3})/.exec(got)?.[1] ?? 0)));
    s.on('error', () => undefined);
    s.end(request);
  });
}

test('the server answers every bad request with a 4xx and keeps serving', async () => {
  const run = await savedMnistMlp(join(tmp, 'run'));
  const child = spawn(process.execPath, [MAIN, ...PG(run), '--port', '0'], { stdio: ['ignore', 'pipe', 'pipe'] });
  try {
    const url = await new Promise<string>((resolve, reject) => {
      let out = '';
      child.stdout.on('data', (d) => {
        out += String(d);
        const m = /open (http:\/\/127\.0\.0\.1:\d+\/)/.exec(out);
        if (m !== null) resolve(m[1] as string);
      });
      child.on('exit', (code) => reject(new Error(`exited ${code}`)));
    });
    const port = Number(new URL(url).port);
    const get = (path: string, method = 'GET'): Promise<number> => raw(port, `${method} ${path} HTTP/1.1\r\nhost: 127.0.0.1\r\nconnection: close\r\n\r\n`);
    const bad: Array<[string, string, number]> = [
      ['GET', '/%E0%A4%A', 400], ['GET', '/%', 400], ['GET', '/%zz', 400], ['GET', '/a%00b', 400], ['GET', '/%C0%AF', 400],
      ['GET', '/../../etc/passwd', 404], ['GET', '/models/..%2f..%2fetc%2fpasswd', 404], ['GET', '/nothing-here', 404],
      ['POST', '/index.html', 405], ['DELETE', '/', 405], ['PUT', '/playground.json', 405],
    ];
    for (const [method, path, status] of bad) assert.equal(await get(path, method), status, `${method} ${path}`);
    // Not HTTP at all, and an oversized header: 400 (the clientError handler), the server stays.
    assert.equal(await raw(port, 'hello\r\n\r\n'), 400);
    assert.equal(await raw(port, `GET / HTTP/1.1\r\nhost: x\r\nx-big: ${'a'.repeat(70_000)}\r\n\r\n`), 400);
    assert.equal(await get('/'), 200);
    assert.equal(await get('/playground.json'), 200);
    assert.equal(child.exitCode, null, 'still running');
  } finally {
    child.kill('SIGTERM');
    await new Promise((resolve) => child.once('exit', resolve));
  }
});

test('a link inside the run folder that points outside it is neither served nor exported', async () => {
  const run = join(tmp, 'linked');
  mkdirSync(run, { recursive: true });
  const src = await savedMnistMlp(join(tmp, 'run'));
  const outside = join(tmp, 'outside-weights.bin');
  copyFileSync(join(src, 'weights.bin'), outside);
  copyFileSync(join(src, 'model.json'), join(run, 'model.json'));
  symlinkSync(outside, join(run, 'weights.bin'));
  const site = join(tmp, 'site-linked');
  const r = runAlp([...PG(run), '--export', site]);
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr.trim(), /weights\.bin: expected a file inside the run folder .*linked, found a link to .*outside-weights\.bin outside it/);
  assert.equal(existsSync(site), false);
});

/** Runs `fn` with a 64 KiB tmpfs mounted at a fresh folder (`ro`: read-only), unmounted afterwards. */
async function withTmpfs(options: string, fn: (dir: string) => Promise<void> | void): Promise<void> {
  const dir = mkdtempSync(join(tmp, 'mnt-'));
  execFileSync('mount', ['-t', 'tmpfs', '-o', options, 'tmpfs', dir]);
  try {
    await fn(dir);
  } finally {
    spawnSync('umount', [dir]);
  }
}

test('--export onto a read-only file system: one line, exit 5, nothing written', { skip: !root && 'needs root to mount a tmpfs' }, async () => {
  const run = await savedMnistMlp(join(tmp, 'run'));
  await withTmpfs('size=64k,ro', (dir) => {
    for (const target of [join(dir, 'site'), join(dir, 'deep', 'er', 'site')]) {
      const r = runAlp([...PG(run), '--export', target]);
      assert.equal(r.code, 5, r.stderr);
      const lines = r.stderr.trim().split('\n');
      assert.equal(lines.length, 1, r.stderr);
      assert.match(lines[0] as string, /the file system is read-only \(EROFS/);
      assert.doesNotMatch(r.stderr, /    at /);
    }
    assert.deepEqual(readdirSync(dir), []);
  });
});

test('--export onto a full disk: exit 5, no folder that looks complete, no temporary left, the same on a rerun; an earlier export stays', { skip: !root && 'needs root to mount a tmpfs' }, async () => {
  const run = await savedMnistMlp(join(tmp, 'run'));
  await withTmpfs('size=64k', (dir) => {
    const target = join(dir, 'site');
    for (let i = 0; i < 2; i++) {
      const r = runAlp([...PG(run), '--export', target]);
      assert.equal(r.code, 5, r.stderr);
      assert.match(r.stderr.trim(), /site: no space left on the device \(ENOSPC/);
      assert.deepEqual(readdirSync(dir), [], 'neither the export nor its temporary folder is left');
    }
    // An earlier, complete export stays as it was when the new one does not fit.
    mkdirSync(target);
    writeFileSync(join(target, 'playground.json'), '{"format":"alp-playground"}');
    const r = runAlp([...PG(run), '--export', target]);
    assert.equal(r.code, 5, r.stderr);
    assert.deepEqual(readdirSync(target), ['playground.json']);
    assert.deepEqual(readdirSync(dir), ['site']);
  });
});
