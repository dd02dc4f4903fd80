import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

// `@tensorflow/tfjs-node` cannot be installed here, so `--backend tensorflow` is exercised through a
// fake of that package (testing/fake-tfjs-node.ts) that registers a backend named 'tensorflow', reached
// by module resolution hooks: alp's own code, the pool's workers included, runs unchanged.
const MAIN = fileURLToPath(new URL('../cli/main.js', import.meta.url));
const REGISTER = fileURLToPath(new URL('../testing/fake-tfjs-node-register.js', import.meta.url));

function alp(args: string[], env: Record<string, string>, hook: boolean): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [...(hook ? ['--import', REGISTER] : []), MAIN, ...args], { encoding: 'utf8', env: { ...process.env, ...env } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

test('--backend tensorflow: trains on 2 workers through the tfjs-node module boundary (faked), every thread on that backend', () => {
  const dir = mkdtempSync(join(tmpdir(), 'alp-tfnode-'));
  try {
    const log = join(dir, 'loads.txt');
    const out = join(dir, 'run');
    const r = alp(['train', '--backend', 'tensorflow', '--workers', '2', '--method', 'alp', '--arch', 'mlp', '--epochs', '1', '--train-size', '128',
      '--val-size', '32', '--attack-steps', '1', '--eval-attack-steps', '1', '--out', out], { ALP_FAKE_TFJS_NODE_LOG: log }, true);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /backend tensorflow; kernels: TensorFlow \(tfjs-node\)/);
    assert.match(r.stderr, /backend tensorflow, 2 workers/);
    assert.doesNotMatch(r.stderr, /looks like you are running TensorFlow\.js in Node/);
    // The main thread and both workers imported the package (each thread has its own module instances).
    const threads = new Set(readFileSync(log, 'utf8').trim().split('\n'));
    assert.equal(threads.size, 3, `loaded in threads ${[...threads].join(', ')}`);
    const t = JSON.parse(readFileSync(join(out, 'train.json'), 'utf8')) as { workers: number; steps: number; versions: { backend: string } };
    assert.equal(t.workers, 2);
    assert.equal(t.steps, 2);
    assert.equal(t.versions.backend, 'tensorflow');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('--backend tensorflow without the package: one line naming both packages, exit 2', () => {
  const r = alp(['train', '--backend', 'tensorflow', '--method', 'standard', '--out', join(tmpdir(), 'alp-never-written')], {}, false);
  assert.equal(r.code, 2);
  assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
  assert.match(r.stderr, /--backend tensorflow: neither '@tensorflow\/tfjs-node-gpu' nor '@tensorflow\/tfjs-node' is installed/);
});
