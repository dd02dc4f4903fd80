import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { trainedToyModel } from '../testing/setup.js';
import { logitsOf } from '../model/classifier.js';
import { subset } from '../data/index.js';
import { evalArtifact, writeEvalArtifact, type EvalArtifact } from '../artifacts/eval.js';
import { auditArtifact, writeAuditArtifact, EXAMPLES_FILE, type AuditArtifact } from '../artifacts/audit.js';
import { evalPart, summarizeEval, summarizeSweep, sweepPart, type SweepConfig } from '../eval/evaluate.js';
import { audit, auditPart, finishAudit, type AuditOptions } from '../eval/audit.js';
import { buildSuite, type SuiteSpec } from '../eval/suite.js';
import { mergeShards } from './merge.js';
import { withoutTimings } from '../testing/timings.js';
import { assertRejectsUserError, assertUserError, runAlp } from '../testing/cli.js';
import { parseCommand, type Parsed } from '../cli/args.js';
import { MERGE_SPEC } from '../cli/specs/merge.js';
import { runMergeCommand } from '../cli/commands/merge.js';
import { mkdirSync } from 'node:fs';
import { parseShard, runHash, shardRange, shardRecord } from '../artifacts/shard.js';

const tmp = mkdtempSync(join(tmpdir(), 'alp-merge-'));
test.after(() => rmSync(tmp, { recursive: true, force: true }));

const threat = { norm: 'linf' as const, eps: 0.25 };
const spec: SuiteSpec = { threat, attacks: ['fgsm', 'pgd-ce', 'apgd-dlr'], steps: 6, restarts: 2, seed: 3 };
const sweepConfig: SweepConfig = { norm: 'linf', epsilons: [0, 0.25, 0.6], steps: 6, restarts: 1, losses: ['ce', 'cw'], seed: 3 };
const header = { model: 'toy', weightsHash: null, dataset: 'toy', threat, suite: spec, versions: { alp: 'test' } };

test('--shard K/N is 1-based, validated, and the shards tile the examples in order', () => {
  assert.deepEqual(parseShard('2/3'), { index: 2, count: 3 });
  assert.throws(() => parseShard('0/3'), /K must be in 1\.\.3 .*'0\/3'/);
  assert.throws(() => parseShard('4/3'), /K must be in 1\.\.3/);
  assert.throws(() => parseShard('2-3'), /expected K\/N/);
  const cuts = [1, 2, 3, 4].map((k) => shardRange(10, { index: k, count: 4 }));
  assert.deepEqual(cuts, [[0, 2], [2, 5], [5, 7], [7, 10]]);
});

test('eval: 3 shards merged equal the unsharded eval.json (timings apart), and mismatched shards are refused', async () => {
  const { model, ds: all } = await trainedToyModel();
  const ds = subset(all, 0, 45);
  const full: EvalArtifact = evalArtifact({
    ...header, result: summarizeEval([await evalPart(model, ds, buildSuite(spec))]), epsSweep: summarizeSweep([await sweepPart(model, ds, sweepConfig)]), seconds: 1,
  });
  const run = runHash({ suite: spec, n: ds.count });
  const files = await Promise.all([1, 2, 3].map(async (k) => {
    const s = { index: k, count: 3 };
    const range = shardRange(ds.count, s);
    const part = await evalPart(model, ds, buildSuite(spec), range, { batchSize: 7 });
    const sweep = await sweepPart(model, ds, sweepConfig, range);
    mkdirSync(join(tmp, 'evals'), { recursive: true });
    const file = join(tmp, 'evals', `eval-${k}.json`);
    writeEvalArtifact(file, evalArtifact({ ...header, result: summarizeEval([part]), epsSweep: summarizeSweep([sweep]), seconds: 0.5, shard: { ...shardRecord(s, ds.count, run), eval: part, sweep } }));
    return file;
  }));
  // The suite must fool some examples and not others, or equality would say little.
  assert.ok(full.result.worstCaseAccuracy > 0.1 && full.result.worstCaseAccuracy < full.result.cleanAccuracy, `worst ${full.result.worstCaseAccuracy}`);
  const merged = mergeShards([files[2] as string, files[0] as string, files[1] as string]);
  assert.equal(merged.kind, 'eval');
  // Legitimately different: `seconds` (top level and per attack: the shards' sum).
  assert.deepEqual(withoutTimings(merged.artifact), withoutTimings(full));
  assert.equal(merged.artifact.seconds, 1.5);

  // Refusals name the file and the field.
  assert.throws(() => mergeShards([files[0] as string, files[1] as string]), /shard 3\/3 missing/);
  assert.throws(() => mergeShards([files[0] as string, files[0] as string, files[1] as string]), /are both shard 1\/3/);
  const other = JSON.parse(readFileSync(files[1] as string, 'utf8')) as EvalArtifact & { shard: { run: string } };
  other.shard.run = runHash({ suite: spec, n: ds.count, seed: 99 });
  const otherFile = join(tmp, 'other-2.json');
  writeFileSync(otherFile, JSON.stringify(other));
  assert.throws(() => mergeShards([files[0] as string, otherFile, files[2] as string]), new RegExp(`${otherFile}: field shard.run differs`));
  const cut = JSON.parse(readFileSync(files[1] as string, 'utf8')) as EvalArtifact & { shard: { eval: { correct: number[] } } };
  cut.shard.eval.correct.pop();
  writeFileSync(otherFile, JSON.stringify(cut));
  assert.throws(() => mergeShards([files[0] as string, otherFile, files[2] as string]), /field shard\.eval\.correct: expected 15 0\/1 values, found "14 entries"/);
  const moved = JSON.parse(readFileSync(files[1] as string, 'utf8')) as EvalArtifact & { shard: { start: number } };
  moved.shard.start = 14;
  writeFileSync(otherFile, JSON.stringify(moved));
  assert.throws(() => mergeShards([files[0] as string, otherFile, files[2] as string]), /field shard.start\/end: expected shard 2\/3's examples \[15, 30\)/);
  writeFileSync(otherFile, JSON.stringify(full));
  assert.throws(() => mergeShards([otherFile]), /no `shard` field/);

  // The CLI: a folder of shard files, refusals on one line with exit 2, never overwriting a shard.
  const out = join(tmp, 'merged-eval.json');
  const r = runAlp(['merge', join(tmp, 'evals'), '--out', out, '--quiet']);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(withoutTimings(JSON.parse(readFileSync(out, 'utf8')) as EvalArtifact), withoutTimings(full));
  assertUserError(['merge', files[0] as string, files[1] as string, '--out', out], /shard 3\/3 missing/);
  // In-process through alp merge's work function (the refusal above is the real process).
  const onShard = [...files, '--out', files[0] as string];
  await assertRejectsUserError(runMergeCommand(parseCommand(onShard, MERGE_SPEC) as Parsed), /would overwrite the shard/);
  assertUserError(['eval', '--model', tmp, '--shard', '3/2'], /--shard: K must be in 1\.\.2/);
});

test('audit: 3 shards merged equal the unsharded audit.json and examples.f32 (timings apart)', async () => {
  const { model, ds: all } = await trainedToyModel();
  // Named classes (a user's folder data): the names must survive the merge too.
  const ds = { ...subset(all, 0, 48), classNames: Array.from({ length: all.numClasses }, (_, i) => `class ${i}`) };
  const f = logitsOf(model);
  const athreat = { norm: 'linf' as const, eps: 0.3 };
  const opts: AuditOptions = { threat: athreat, version: 'quick', seed: 1, batchSize: 16 };
  const meta = { model: 'toy', weightsHash: null, seed: 1, versions: { alp: 'test' } };
  const r = await audit(model, ds, opts);
  const full = auditArtifact(r, ds, f, meta);
  assert.ok(r.adversarial.size > 3 && r.worstCaseAccuracy > 0, `kept ${r.adversarial.size}, worst ${r.worstCaseAccuracy}`);
  const keep = 4;
  const fullKeep = auditArtifact(await audit(model, ds, { ...opts, keepExamples: keep }), ds, f, meta);
  const run = runHash({ audit: 'toy' });
  const dirs = await Promise.all([1, 2, 3].map(async (k) => {
    const s = { index: k, count: 3 };
    const part = await auditPart(model, ds, { ...opts, keepExamples: keep }, shardRange(ds.count, s), { modelChecks: true });
    const w = auditArtifact(finishAudit([part], { version: 'quick', threat: athreat, keepExamples: keep }), ds, f, meta);
    const { kept: _kept, ...rows } = part;
    w.artifact.shard = { ...shardRecord(s, ds.count, run), keepExamples: keep, audit: rows };
    const dir = join(tmp, `audit-${k}`);
    writeAuditArtifact(join(dir, 'audit.json'), join(dir, EXAMPLES_FILE), w);
    return dir;
  }));
  const m = mergeShards(dirs);
  assert.equal(m.kind, 'audit');
  if (m.kind !== 'audit') return;
  // Legitimately different: every `seconds` (the run's, each cascade step's, and the steps quoted in
  // the black-box finding's evidence).
  assert.deepEqual(withoutTimings(m.artifact), withoutTimings(fullKeep.artifact) as AuditArtifact);
  assert.deepEqual(Array.from(m.examples), Array.from(fullKeep.examples));
  // The kept examples are the run's first `keep` in cascade order, not each shard's first.
  assert.equal(m.artifact.examplesFile?.clean.length, keep);
  assert.deepEqual(m.artifact.examplesFile?.clean, full.artifact.examplesFile?.clean.slice(0, keep));
  assert.equal(m.artifact.findings.length, full.artifact.findings.length);
  assert.deepEqual(m.artifact.classNames, ds.classNames);
});
