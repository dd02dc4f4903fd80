/**
 * The package's attack surface: `runAttack` (which drives the search with a criterion and verifies the
 * result) is the only way in. The unverified searches (`Attack.run`, the gradient loop) stay internal.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const DIST = join(dirname(fileURLToPath(import.meta.url)), '..');

test('alp and alp/browser export runAttack and no unverified attack entry; the declarations give attacks no run() or craft()', async () => {
  const entries: Array<[string, Record<string, unknown>]> = [['alp', await import('../index.js')], ['alp/browser', await import('../browser/index.js')]];
  for (const [name, m] of entries) {
    assert.equal(typeof m['runAttack'], 'function', `${name}: runAttack`);
    assert.equal(typeof m['Pgd'], 'function', `${name}: Pgd`);
    for (const k of ['gradientAttack', 'gradientAscent', 'gradientRun', 'searchWithRestarts']) assert.ok(!(k in m), `${name} exports ${k}`);
  }
  // What a TypeScript user compiles against: no attack declares run() or craft() (stripped as @internal).
  for (const f of ['attack/attack', 'attack/pgd', 'attack/fgsm', 'attack/apgd', 'attack/square', 'attack/transfer', 'detect/adaptive']) {
    const d = readFileSync(join(DIST, `${f}.d.ts`), 'utf8');
    assert.match(d, /describe\(\)/, `${f}.d.ts was read`);
    assert.doesNotMatch(d, /^\s*(run|craft)\??\(/m, `${f}.d.ts declares run() or craft()`);
  }
});
