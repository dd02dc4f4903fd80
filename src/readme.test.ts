/**
 * README.md's Node example, run verbatim as a user would after `npm ci`: written into a folder of this
 * package (so `import … from 'alp'` resolves to this build through the package's own exports), run
 * with node, and its output checked. The browser example runs in src/playground/playground.test.ts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { readmeSnippet, REPO_ROOT } from './testing/readme.js';

test("README's Node example trains, attacks through runAttack and evaluates", { timeout: 120_000 }, (t) => {
  const code = readmeSnippet('node');
  assert.match(code, /runAttack\(/);
  assert.doesNotMatch(code, /\.run\(|gradientAttack/, 'the example goes through the verifying runner only');
  const d = mkdtempSync(join(REPO_ROOT, 'dist', 'readme-example-'));
  t.after(() => rmSync(d, { recursive: true, force: true }));
  writeFileSync(join(d, 'example.mjs'), code);
  const r = spawnSync(process.execPath, ['example.mjs'], { cwd: d, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const fooled = /fooled by PGD-40: (\d+) of 100/.exec(r.stdout);
  assert.ok(fooled !== null, r.stdout);
  assert.ok(Number(fooled[1]) >= 0 && Number(fooled[1]) <= 100);
  const m = /clean ([\d.]+) worst case ([\d.]+)/.exec(r.stdout);
  assert.ok(m !== null, r.stdout);
  assert.ok(Number(m[2]) <= Number(m[1]) && Number(m[1]) > 0.5, r.stdout);
  assert.ok(existsSync(join(d, 'runs', 'x', 'model.json')) && existsSync(join(d, 'runs', 'x', 'weights.bin')));
});
