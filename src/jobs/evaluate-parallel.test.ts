import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { trainedToyModel } from '../testing/setup.js';
import { subset } from '../data/index.js';
import { evalPart, sweepPart, type SweepConfig } from '../eval/evaluate.js';
import { auditPart, type AuditOptions } from '../eval/audit.js';
import { buildSuite, type SuiteSpec } from '../eval/suite.js';
import { EXIT, WorkerCrashedError } from '../util/errors.js';
import { attackParallel, auditPartParallel, evalPartParallel } from './evaluate-parallel.js';
import { runAttack } from '../attack/runner.js';
import { tensorsOf } from '../testing/setup.js';
import { logitsOf } from '../model/classifier.js';
import type { WorkerPool } from '../parallel/pool.js';

const threat = { norm: 'linf' as const, eps: 0.25 };
const spec: SuiteSpec = { threat, attacks: ['fgsm', 'pgd-ce', 'square'], steps: 6, restarts: 2, seed: 5, queries: 40 };
const sweep: SweepConfig = { norm: 'linf', epsilons: [0, 0.25], steps: 5, restarts: 1, losses: ['ce'], seed: 5 };

const withoutSeconds = <T>(p: T): T => JSON.parse(JSON.stringify(p, (k, v: unknown) => (k === 'seconds' ? undefined : v))) as T;

test('eval: 2 workers give exactly the per-example results of the in-thread run, and leave no tensors behind', { timeout: 120_000 }, async () => {
  const { model, ds: all } = await trainedToyModel();
  const ds = subset(all, 0, 40);
  const one = await evalPart(model, ds, buildSuite(spec), [0, ds.count]);
  const oneSweep = await sweepPart(model, ds, sweep);
  const before = tf.memory().numTensors;
  const seen: number[] = [];
  const two = await evalPartParallel(model, ds, spec, [0, ds.count], { workers: 2, chunk: 7, sweep, onProgress: (p) => seen.push(p.done) });
  assert.equal(tf.memory().numTensors, before, 'tensors leaked in the main thread');
  const fooled = one.attacks.map((a) => a.fooled.reduce((s, v) => s + v, 0));
  assert.ok(fooled.some((n) => n > 0) && one.correct.some((c, i) => c === 1 && one.attacks.every((a) => a.fooled[i] === 0)), `fooled ${fooled}`);
  assert.deepEqual(two.part.correct, one.correct);
  assert.deepEqual(two.part.attacks.map((a) => a.fooled), one.attacks.map((a) => a.fooled));
  assert.deepEqual(withoutSeconds(two.part), withoutSeconds(one));
  assert.deepEqual(two.sweep, oneSweep);
  // Progress counts examples over all workers, up to all of them.
  assert.equal(seen.length, 6);
  assert.equal(seen[seen.length - 1], 40);

  // alp attack's path: one attack over all rows, the same points and verdicts as in one batch.
  const [pgd] = buildSuite({ ...spec, attacks: ['pgd-ce'] });
  const { x, y } = tensorsOf(ds);
  const alone = runAttack(pgd as NonNullable<typeof pgd>, logitsOf(model), x, y);
  const split = await attackParallel(model, ds, { ...spec, attacks: ['pgd-ce'] }, [0, ds.count], { workers: 2, chunk: 9 });
  assert.deepEqual(split.success, alone.success);
  assert.deepEqual(split.pred, alone.pred);
  const data = alone.adversarial.dataSync() as Float32Array;
  const worst = split.data.reduce((m, v, i) => Math.max(m, Math.abs(v - (data[i] as number))), 0);
  assert.ok(worst < 1e-5, `adversarial points differ by ${worst}`);
  tf.dispose([x, y, alone.adversarial]);
});

test('audit: 2 workers match the in-thread audit part, and an interrupted run resumes from its finished slices', { timeout: 180_000 }, async () => {
  const { model, ds: all } = await trainedToyModel();
  const ds = subset(all, 0, 36);
  const dir = mkdtempSync(join(tmpdir(), 'alp-par-audit-'));
  try {
    const opts: AuditOptions = { threat: { norm: 'linf', eps: 0.3 }, version: 'quick', seed: 2, batchSize: 12, keepExamples: 5 };
    const one = await auditPart(model, ds, opts);
    const statePath = join(dir, 'audit.state.json');
    await assert.rejects(auditPartParallel(model, ds, { ...opts, statePath }, [0, ds.count], {
      workers: 2, chunk: 12, onProgress: () => {
        throw new Error('interrupted');
      },
    }), /interrupted/);
    const saved = JSON.parse(readFileSync(statePath, 'utf8')) as { parts: unknown[] };
    assert.equal(saved.parts.length, 1);
    let resumed: boolean | undefined;
    let slices = 0;
    const two = await auditPartParallel(model, ds, { ...opts, statePath }, [0, ds.count], {
      workers: 2, chunk: 12, onResume: (r) => (resumed = r), onProgress: () => slices++,
    });
    assert.equal(resumed, true);
    assert.equal(slices, 2, 'the saved slice is not computed again');
    assert.ok(one.kept.length > 0 && one.fooledBy.some((b) => b === ''));
    assert.deepEqual(two.fooledBy, one.fooledBy);
    assert.deepEqual(two.correct, one.correct);
    assert.deepEqual(withoutSeconds({ ...two, kept: two.kept.map((k) => [k.id, Array.from(k.data)]) }), withoutSeconds({ ...one, kept: one.kept.map((k) => [k.id, Array.from(k.data)]) }));
    assert.ok(existsSync(statePath));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a worker killed mid-run fails the run with WorkerCrashedError (exit status 8), without a hang', { timeout: 120_000 }, async () => {
  const { model, ds: all } = await trainedToyModel();
  const ds = subset(all, 0, 40);
  let pool: WorkerPool | undefined;
  let killed = false;
  const err = await evalPartParallel(model, ds, spec, [0, ds.count], {
    workers: 2, chunk: 4, onPool: (p) => (pool = p),
    onProgress: () => {
      if (!killed) {
        killed = true;
        void pool?.kill(0);
      }
    },
  }).then(() => undefined, (e: unknown) => e);
  assert.ok(err instanceof WorkerCrashedError, `got ${String(err)}`);
  assert.equal(err.code, EXIT.worker);
  assert.match(err.message, /worker 0 died/);
});
