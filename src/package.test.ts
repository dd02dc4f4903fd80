/**
 * What `npm publish` would ship: the library, CLI and browser bundle, never the compiled tests, their
 * fixtures or the test helpers of dist/testing (which no runtime module imports).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from './testing/readme.js';

test('the npm package holds no tests, fixtures or test helpers', (t) => {
  const r = spawnSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: REPO_ROOT, encoding: 'utf8' });
  if (r.error !== undefined) {
    t.skip(`npm not runnable here: ${r.error.message}`);
    return;
  }
  assert.equal(r.status, 0, r.stderr);
  const files = (JSON.parse(r.stdout) as Array<{ files: Array<{ path: string }> }>)[0]?.files.map((f) => f.path) ?? [];
  t.diagnostic(`${files.length} files`);
  for (const need of ['dist/index.js', 'dist/cli/main.js', 'dist/browser/index.js', 'dist/parallel/worker.js', 'README.md', 'native/build.mjs']) {
    assert.ok(files.includes(need), `${need} missing from the package`);
  }
  // The model zoo ships whole (--model zoo:NAME works from an installed package), and stays small.
  const zoo = (JSON.parse(r.stdout) as Array<{ files: Array<{ path: string; size: number }> }>)[0]?.files.filter((f) => f.path.startsWith('zoo/')) ?? [];
  assert.ok(zoo.some((f) => f.path.endsWith('/card.json')) && zoo.some((f) => f.path.endsWith('/weights.bin')), 'zoo models missing from the package');
  assert.ok(zoo.reduce((a, f) => a + f.size, 0) <= 30 * 1024 * 1024, 'the zoo is over 30 MB');
  assert.deepEqual(files.filter((f) => /\.test\.|\.fixture\.|^dist\/testing\/|^dist\/report\/fixtures\.|^dist\/readme-example-/.test(f)), []);
});

test('no runtime module imports the test helpers', () => {
  const offenders: string[] = [];
  const walk = (dir: string): void => {
    for (const name of readdirSync(dir)) {
      const p = join(dir, name);
      if (statSync(p).isDirectory()) {
        if (name !== 'testing') walk(p);
      } else if (name.endsWith('.js') && !/\.test\.js$|\.fixture\.js$/.test(name) && !(dir.endsWith('report') && name === 'fixtures.js')) {
        if (/from ['"][^'"]*\/testing\/|import\(['"][^'"]*\/testing\//.test(readFileSync(p, 'utf8'))) offenders.push(p);
      }
    }
  };
  walk(join(REPO_ROOT, 'dist'));
  assert.deepEqual(offenders, []);
});
