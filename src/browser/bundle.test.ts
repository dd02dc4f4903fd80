/**
 * The browser bundle: built from alp's own code with no Node built-in anywhere in its import graph,
 * and with the pieces a page needs. The check itself is shown to fail on a module that reads files.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BUNDLES, bundleForBrowser, DIST } from './build-bundle.js';

test('the browser entry bundles with no Node built-in in its graph and carries the attacks, detectors and guard', { timeout: 120_000 }, async () => {
  const d = mkdtempSync(join(tmpdir(), 'alp-bundle-'));
  try {
    const r = await bundleForBrowser(join(DIST, 'browser/index.js'), join(d, 'alp.js'), { write: false });
    const inputs = Object.keys(r.metafile.inputs);
    for (const m of ['attack/pgd.js', 'attack/fgsm.js', 'attack/apgd.js', 'attack/square.js', 'detect/guard.js', 'detect/calibrate.js', 'detect/registry.js', 'browser/load.js']) {
      assert.ok(inputs.some((i) => i.endsWith(`dist/${m}`)), `${m} is in the bundle`);
    }
    for (const m of ['detect/detector-files.js', 'model/io.js', 'util/atomic.js']) {
      assert.ok(!inputs.some((i) => i.endsWith(`dist/${m}`)), `${m} (Node-only) stays out of the bundle`);
    }
    for (const [file, info] of Object.entries(r.metafile.inputs)) {
      for (const imp of info.imports) assert.ok(!/^node:/.test(imp.path), `${file} imports ${imp.path}`);
    }
    // The prebuilt bundle npm's build wrote.
    for (const b of Object.values(BUNDLES)) assert.ok(existsSync(join(DIST, b)), `${b} was built`);
  } finally {
    rmSync(d, { recursive: true, force: true });
  }
});

test('the bundle build fails, naming the module, when alp code that reads files enters the browser graph', { timeout: 120_000 }, async () => {
  const d = mkdtempSync(join(tmpdir(), 'alp-bundle-'));
  try {
    const entry = join(DIST, 'browser', `.leak-${process.pid}.js`);
    writeFileSync(entry, "export { loadGuard } from '../detect/detector-files.js';\n");
    try {
      await assert.rejects(bundleForBrowser(entry, join(d, 'x.js'), { write: false }), /Node built-in 'node:(crypto|fs|path)' imported by .*detector-files\.js/);
    } finally {
      rmSync(entry, { force: true });
    }
  } finally {
    rmSync(d, { recursive: true, force: true });
  }
});
