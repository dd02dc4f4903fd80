import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { compareMethods, COMPARE_FILE, type CompareResult } from './compare.js';
import { useBackend } from '../testing/setup.js';
import { parseCommand, type Parsed } from '../cli/args.js';
import { MERGE_SPEC } from '../cli/specs/merge.js';
import { runMergeCommand } from '../cli/commands/merge.js';
import { OptionError, UserError } from '../util/errors.js';
import { withoutSeconds } from '../testing/without-seconds.js';


test('compare: the shards (a slice of the methods each), merged, give exactly the unsharded comparison', { timeout: 300_000 }, async () => {
  await useBackend();
  const root = mkdtempSync(join(tmpdir(), 'alp-compare-shards-'));
  try {
    const shared = join(root, 'shared'), merged = join(root, 'merged'), whole = join(root, 'whole');
    const opts = {
      budgetSeconds: 0.3, methods: ['standard', 'lsq', 'alp'] as Array<'standard' | 'lsq' | 'alp'>, auditVersion: 'quick' as const, testExamples: 12, probeSteps: 3,
      overrides: { arch: 'mlp' as const, trainSize: 200, valSize: 20, batchSize: 32, seed: 7 }, shifts: [{ kind: 'noise' as const, level: 0.3 }],
    };
    // Two shards into one shared folder, as pods on a shared volume: methods [0, 1) and [1, 3).
    const one = await compareMethods({ ...opts, out: shared, shard: { index: 1, count: 2 } });
    const two = await compareMethods({ ...opts, out: shared, shard: { index: 2, count: 2 } });
    assert.deepEqual([one.methods.map((m) => m.method), two.methods.map((m) => m.method)], [['standard'], ['lsq', 'alp']]);
    assert.ok(existsSync(join(shared, 'compare.shard-1-of-2.json')) && !existsSync(join(shared, COMPARE_FILE)));
    // More shards than methods: refused before any work.
    await assert.rejects(compareMethods({ ...opts, out: join(root, 'x'), shard: { index: 1, count: 4 } }), (e: unknown) => e instanceof OptionError && /shard 1\/4 holds no method \(3 methods for 4 shards\)/.test(e.message));

    // Merged into another folder: compare.json, and every method's folder copied beside it.
    await runMergeCommand(parseCommand([shared, '--out', merged, '--quiet'], MERGE_SPEC) as Parsed);
    const m = JSON.parse(readFileSync(join(merged, COMPARE_FILE), 'utf8')) as CompareResult & { shard?: unknown };
    assert.equal(m.shard, undefined);
    for (const method of opts.methods) assert.ok(existsSync(join(merged, method, 'audit.json')) && existsSync(join(merged, method, 'model.json')), method);
    // Merged again over it: refused without --force (the method folders are there), nothing replaced.
    await assert.rejects(runMergeCommand(parseCommand([shared, '--out', merged, '--quiet'], MERGE_SPEC) as Parsed), (e: unknown) => e instanceof UserError && e.code === 6);

    // The unsharded run with the shards' step counts (each method's budget.json, which a resume keeps):
    // the same training, audits and shifts, so the same compare.json but for timings.
    for (const method of opts.methods) {
      mkdirSync(join(whole, method), { recursive: true });
      copyFileSync(join(shared, method, 'budget.json'), join(whole, method, 'budget.json'));
    }
    const unsharded = await compareMethods({ ...opts, out: whole, resume: true });
    assert.ok(unsharded.methods.every((r) => r.complete) && unsharded.best !== null);
    assert.deepEqual(withoutSeconds(m), withoutSeconds(JSON.parse(JSON.stringify(unsharded))));
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
