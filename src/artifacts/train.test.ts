import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEFAULTS } from '../train/config.js';
import { UserError } from '../util/errors.js';
import { buildDetectionReport, DETECT_EVAL_SCHEMA, parseDetectEval } from './detect-eval.js';
import { readTrainFile, trainArtifact, TRAIN_SCHEMA, writeTrainArtifact } from './train.js';

const tmp = mkdtempSync(join(tmpdir(), 'alp-artifacts-'));
process.on('exit', () => rmSync(tmp, { recursive: true, force: true }));

test('train.json round trip: schema, an unfinished run, the caller\'s meta; no file is null, a damaged one names itself', () => {
  const path = join(tmp, 'train.json');
  assert.equal(readTrainFile(path), null);
  const a = trainArtifact({
    config: DEFAULTS, fineTunedFrom: null, warnings: [], data: { dataset: 'mnist', trainExamples: 100, valExamples: 10 },
    steps: 7, complete: false, epochs: [], evals: [{ step: 5, epoch: 0, cleanAcc: 0.5, robustAcc: 0.1, examples: 10 }], trainSeconds: 1.5,
  }, { argv: ['--method', 'alp'], steps: 999 });
  assert.equal(a.schema, TRAIN_SCHEMA);
  assert.equal(a.steps, 7, 'meta cannot replace a recorded field');
  writeTrainArtifact(path, a);
  const t = readTrainFile(path);
  assert.deepEqual([t?.schema, t?.complete, t?.steps, t?.data?.dataset, t?.argv, t?.evals[0]?.robustAcc], [TRAIN_SCHEMA, false, 7, 'mnist', ['--method', 'alp'], 0.1]);
  writeFileSync(path, '{"steps": 3');
  assert.throws(() => readTrainFile(path), (e: unknown) => e instanceof UserError && e.message.startsWith(`${path}: malformed JSON`));
});

test('detect-eval.json: what is built parses back; version 1 files still read; other files are refused by name', () => {
  const built = JSON.parse(JSON.stringify(buildDetectionReport([], { dataset: 'toy' }))) as Record<string, unknown>;
  assert.equal(built['schema'], DETECT_EVAL_SCHEMA);
  assert.deepEqual(parseDetectEval(built, 'a.json').rows, []);
  const row = { model: 'std', detector: 'margin', strongestNonAdaptive: 'pgd', nonAdaptive: { rocAuc: 0.9 }, adaptive: null };
  const v1 = parseDetectEval({ schema: 'alp-detect-eval', version: 1, sideBySide: [row], models: [{ label: 'std', model: 'runs/std', weightsHash: 'ab' }] }, 'old.json');
  assert.equal(v1.rows[0]?.nonAdaptive.rocAuc, 0.9);
  assert.ok(Number.isNaN(v1.rows[0]?.nonAdaptive.tprAt1));
  assert.deepEqual(v1.models, [{ label: 'std', model: 'runs/std', weightsHash: 'ab' }]);
  assert.throws(() => parseDetectEval({ schema: 'alp.eval/2', sideBySide: [] }, 'e.json'), /^UserError: e\.json: not an 'alp detect eval' result/);
});
