import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { useBackend } from '../testing/setup.js';
import { buildArch } from '../model/architectures.js';
import { saveModel } from '../model/io.js';
import { assertRejectsUserError, assertUserError, runAlp } from '../testing/cli.js';
import { detectCommand } from '../cli/commands/detect.js';

const tmp = mkdtempSync(join(tmpdir(), 'alp-detect-cli-'));
process.on('exit', () => rmSync(tmp, { recursive: true, force: true }));

const alp = runAlp;
const userError = assertUserError;

test('alp detect: help, usage errors, calibrate → check files → eval on a tiny MNIST budget', async () => {
  for (const sub of [[], ['eval']]) {
    const r = alp(['detect', ...sub, '--help']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /Usage: alp detect/);
    assert.match(r.stdout, /Examples:/);
  }
  userError(['detect', 'x.f32'], /alp detect: --model is required/);

  await useBackend();
  const dir = join(tmp, 'mlp');
  await saveModel(buildArch('mlp', { inputShape: [28, 28, 1], numClasses: 10, seed: 1 }), dir);
  userError(['detect', '--model', dir, 'x.f32'], /detector.json: no such file; calibrate first/);
  // In-process (detectCommand is what `alp detect` runs) where the error is the library's, not the process's.
  await assertRejectsUserError(detectCommand(['eval', '--model', 'a', '--noise', 'pink:0.1']), /--noise: expected DIST:EPS/);
  await assertRejectsUserError(detectCommand(['calibrate', '--model', dir, '--detector', 'margin', '--calib-n', '50', '--fpr', '0.01']), /50 clean inputs \(--calib-n\) are too few for a false-positive rate of 0.01/);
  const c = alp(['detect', 'calibrate', '--model', dir, '--detector', 'margin', '--calib-n', '200', '--fpr', '0.05', '--json']);
  assert.equal(c.code, 0, c.stderr);
  const cal = JSON.parse(c.stdout) as { detectorFile: string; calibration: { n: number; fprTarget: number } };
  assert.equal(cal.calibration.n, 200);
  assert.ok(existsSync(join(dir, 'detector.json')));

  const three = new Float32Array(3 * 784).fill(0.25);
  writeFileSync(join(tmp, 'x.f32'), new Uint8Array(three.buffer));
  const ok = alp(['detect', '--model', dir, join(tmp, 'x.f32'), '--json']);
  assert.equal(ok.code, 0, ok.stderr);
  const res = JSON.parse(ok.stdout) as { results: Array<{ decision: string; suspicion: number }>; summary: { inputs: number } };
  assert.equal(res.summary.inputs, 3);
  assert.ok(['accept', 'reject'].includes(res.results[0]?.decision ?? ''));
  writeFileSync(join(tmp, 'short.f32'), new Uint8Array(4 * 100));
  userError(['detect', '--model', dir, join(tmp, 'short.f32')], /short.f32: 100 float32 values are not a whole number of 28×28×1 images/);
  await assertRejectsUserError(detectCommand(['eval', '--model', dir, '--n', '100', '--calib-start', '50', '--calib-n', '100']), /overlap the 100 evaluated test examples/);

  const out = join(tmp, 'eval.json');
  const e = alp(['detect', 'eval', '--model', `tiny=${dir}`, '--detectors', 'margin', '--n', '16', '--calib-n', '100', '--attacks', 'fgsm,pgd-cw',
    '--steps', '2', '--adaptive-steps', '2', '--lambdas', '0,1', '--check-every', '1', '--batch-size', '8', '--quiet', '--out', out]);
  assert.equal(e.code, 0, e.stderr);
  const report = JSON.parse(readFileSync(out, 'utf8')) as { schema: string; fields: Record<string, string>; models: Array<{ label: string; detectors: Array<{ attacks: Array<{ adaptive: boolean }> }> }>; sideBySide: unknown[] };
  assert.equal(report.schema, 'alp.detect-eval/2');
  assert.equal(report.models[0]?.label, 'tiny');
  assert.deepEqual(report.models[0]?.detectors[0]?.attacks.map((a) => a.adaptive), [false, false, true]);
  assert.equal(report.sideBySide.length, 1);
  assert.match(e.stdout, /ADAPTIVE/);

  // The same run in two shards (whole groups of --batch-size rows each), merged: the same report but for timings.
  const args = (k: string, file: string): string[] => ['detect', 'eval', '--model', `tiny=${dir}`, '--detectors', 'margin', '--n', '16', '--calib-n', '100', '--attacks', 'fgsm,pgd-cw',
    '--steps', '2', '--adaptive-steps', '2', '--lambdas', '0,1', '--check-every', '1', '--batch-size', '8', '--quiet', '--shard', k, '--out', file];
  for (const k of ['1/2', '2/2']) {
    const r = alp(args(k, join(tmp, 'detect-shards', `s${k[0]}.json`)));
    assert.equal(r.code, 0, r.stderr);
  }
  userError(args('1/3', join(tmp, 'detect-shards', 'x.json')), /--shard 1\/3: no test rows for this shard \(shards cut whole groups of --batch-size 8 rows: 2 groups for 3 shards\)/);
  const merged = join(tmp, 'merged-detect-eval.json');
  const m = alp(['merge', join(tmp, 'detect-shards'), '--out', merged]);
  assert.equal(m.code, 0, m.stderr);
  assert.match(m.stdout, /merged 2 detect-eval shards \(tiny: 16 examples\)/);
  const noSeconds = (v: unknown): unknown => JSON.parse(JSON.stringify(v, (k, x: unknown) => (/seconds/i.test(k) ? undefined : x)));
  assert.deepEqual(noSeconds((JSON.parse(readFileSync(merged, 'utf8')) as typeof report).models), noSeconds(report.models));

  // Several models in unrelated folders: no natural place for the report, so --out is asked for before the attacks.
  const elsewhere = join(tmp, 'other', 'mlp2');
  await saveModel(buildArch('mlp', { inputShape: [28, 28, 1], numClasses: 10, seed: 2 }), elsewhere);
  await assertRejectsUserError(detectCommand(['eval', '--model', `${dir},${elsewhere}`, '--detectors', 'margin']), /--out: the models live in different folders \(.*\); say where the report on all of them goes with --out FILE/);
});
