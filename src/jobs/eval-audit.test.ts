import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { trainedToyModel } from '../testing/setup.js';
import { subset } from '../data/index.js';
import { dataRecord } from '../data/digest.js';
import type { SuiteSpec } from '../eval/suite.js';
import { OutputExistsError } from '../util/errors.js';
import { mergeShards } from './merge.js';
import { withoutTimings } from '../testing/timings.js';
import { runEvalJob, type EvalJobSpec } from './eval.js';
import { auditStatePath, runAuditJob, type AuditJobSpec } from './audit.js';
import { silentLog, type JobLog } from './log.js';

const tmp = mkdtempSync(join(tmpdir(), 'alp-jobs-'));
test.after(() => rmSync(tmp, { recursive: true, force: true }));

const threat = { norm: 'linf' as const, eps: 0.5 };
const suite: SuiteSpec = { threat, attacks: ['fgsm', 'pgd-ce'], steps: 5, restarts: 1, seed: 3 };


async function setup(): Promise<Pick<EvalJobSpec, 'model' | 'ds' | 'data' | 'modelPath' | 'weightsHash' | 'versions' | 'warnings' | 'backend' | 'batchSize' | 'workers'>> {
  const { model, ds: all } = await trainedToyModel();
  const ds = subset(all, 0, 30);
  return { model, ds, data: dataRecord(ds), modelPath: 'toy', weightsHash: null, versions: { alp: 'test' }, warnings: [], backend: 'test', batchSize: 8, workers: 1 };
}

test('eval job: writes the artifact it returns; 2 shards merged equal the unsharded run; a foreign result is refused before the work', async () => {
  const base = await setup();
  const spec: EvalJobSpec = { ...base, threat, suite, epsSweep: [0, 0.5], out: join(tmp, 'eval.json') };
  const lines: string[] = [];
  const log: JobLog = { ...silentLog, say: (l) => lines.push(l) };
  const full = await runEvalJob(spec, log);
  assert.deepEqual(JSON.parse(readFileSync(spec.out as string, 'utf8')), JSON.parse(JSON.stringify(full)));
  assert.match(lines[0] ?? '', /^alp eval: toy on 30 toy test examples, linf ε=0\.5/);
  assert.ok(full.result.worstCaseAccuracy < full.result.cleanAccuracy, `the suite fools some examples: ${full.result.worstCaseAccuracy} of ${full.result.cleanAccuracy}`);
  const shards = await Promise.all([1, 2].map(async (k) => {
    const out = join(tmp, `eval-${k}.json`);
    const a = await runEvalJob({ ...spec, out, shard: { index: k, count: 2 } }, silentLog);
    assert.equal(a.shard?.index, k);
    return out;
  }));
  const merged = mergeShards(shards);
  assert.equal(merged.kind, 'eval');
  assert.deepEqual(withoutTimings(merged.artifact), withoutTimings(full));
  // Another suite into the same file: refused (exit 6) before anything runs.
  const said: string[] = [];
  await assert.rejects(runEvalJob({ ...spec, suite: { ...suite, seed: 4 } }, { ...silentLog, say: (l) => said.push(l) }), OutputExistsError);
  assert.deepEqual(said, []);
});

test('audit job: an interrupted audit resumes from its state file to the uninterrupted result; 2 shards merged equal it', async () => {
  const base = await setup();
  const spec: AuditJobSpec = { ...base, threat, version: 'quick', seed: 5, out: join(tmp, 'audit') };
  const full = await runAuditJob({ ...spec, out: join(tmp, 'audit-full') }, silentLog);
  assert.ok(existsSync(join(tmp, 'audit-full', 'audit.json')));
  assert.ok(full.result.worstCaseAccuracy < full.result.cleanAccuracy, `the audit fools some examples: ${full.result.worstCaseAccuracy}`);
  assert.ok(!existsSync(auditStatePath(join(tmp, 'audit-full'))), 'the state is deleted once the result is written');
  // Stop after the first batch: the state file keeps it, and the same spec finishes the audit.
  const stop = new AbortController();
  let phases = 0;
  const log: JobLog = { ...silentLog, bar: () => ({ update: () => { if (++phases === 1) stop.abort(); }, done: () => undefined }) };
  await assert.rejects(runAuditJob({ ...spec, signal: stop.signal }, log));
  assert.ok(existsSync(auditStatePath(spec.out as string)), 'an interrupted audit leaves its state');
  const said: string[] = [];
  const resumed = await runAuditJob(spec, { ...silentLog, say: (l) => said.push(l) });
  assert.ok(said.some((l) => l.startsWith('found an interrupted audit in')), said.join('\n'));
  assert.ok(said.includes('resuming the interrupted audit'), said.join('\n'));
  assert.deepEqual(withoutTimings(resumed.artifact), withoutTimings(full.artifact));
  const shards = await Promise.all([1, 2].map(async (k) => {
    const out = join(tmp, `audit-${k}`);
    await runAuditJob({ ...spec, out, shard: { index: k, count: 2 } }, silentLog);
    return out;
  }));
  const merged = mergeShards(shards);
  assert.equal(merged.kind, 'audit');
  assert.deepEqual(withoutTimings(merged.artifact), withoutTimings(full.artifact));
});
