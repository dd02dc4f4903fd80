import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { OutputExistsError } from '../util/errors.js';
import { auditIdentity, defaultResultPath, evalIdentity, guardResultFile } from './outputs.js';

const tmp = mkdtempSync(join(tmpdir(), 'alp-outputs-'));
process.on('exit', () => rmSync(tmp, { recursive: true, force: true }));

const evalFile = (o: { weightsHash?: string | null; steps?: number; examples?: number } = {}): Record<string, unknown> => ({
  schema: 'alp.eval/2', weightsHash: o.weightsHash === undefined ? 'a'.repeat(64) : o.weightsHash, dataset: 'mnist',
  threat: { norm: 'linf', eps: 0.3 }, suite: { attacks: ['fgsm', 'pgd-ce'], steps: o.steps ?? 40, restarts: 1, seed: 0 },
  result: { examples: o.examples ?? 100 }, epsSweep: null,
});
const refused = (re: RegExp) => (e: unknown): boolean => e instanceof OutputExistsError && e.code === 6 && re.test(e.message) && !/--/.test(e.message) && e.message.endsWith('not overwritten: set force to replace it, or choose another out');

test('an eval result is replaced only by the same weights and settings, or with force', () => {
  const path = join(tmp, 'eval.json');
  const want = evalIdentity(evalFile());
  guardResultFile(path, 'eval', want); // nothing there yet
  writeFileSync(path, JSON.stringify(evalFile()));
  guardResultFile(path, 'eval', want); // the same measurement again
  writeFileSync(path, JSON.stringify(evalFile({ weightsHash: 'b'.repeat(64) })));
  assert.throws(() => guardResultFile(path, 'eval', want), refused(/eval\.json: holds the eval of other weights \(sha256 bbbbbbbbbbbb… there, aaaaaaaaaaaa… now\); not overwritten/));
  guardResultFile(path, 'eval', want, { force: true });
  // A file that did not record its weights cannot be shown to be this model's.
  writeFileSync(path, JSON.stringify(evalFile({ weightsHash: null })));
  assert.throws(() => guardResultFile(path, 'eval', want), refused(/other weights \(sha256 unknown there/));
  writeFileSync(path, JSON.stringify(evalFile({ steps: 20, examples: 50 })));
  assert.throws(() => guardResultFile(path, 'eval', want), refused(/these weights with other settings \(examples 50 there, 100 now; steps 20 there, 40 now\)/));
});

test('a file that is not a result of that kind is never replaced without force', () => {
  const path = join(tmp, 'notes.json');
  const want = evalIdentity(evalFile());
  for (const content of ['my notes', '{"schema":"alp.audit/2","weightsHash":"x"}', '[1,2]']) {
    writeFileSync(path, content);
    assert.throws(() => guardResultFile(path, 'eval', want), refused(/notes\.json: exists and is not an eval result; not overwritten/), content);
  }
  guardResultFile(path, 'eval', want, { force: true });
});

test('an audit result is keyed on weights, data, threat, budget and seed', () => {
  const dir = join(tmp, 'audit');
  mkdirSync(dir, { recursive: true });
  const path = join(dir, 'audit.json');
  const audit = { schema: 'alp.audit/2', weightsHash: 'c'.repeat(64), dataset: 'mnist', examples: 200, threat: { norm: 'linf', eps: 0.3 }, version: 'quick', seed: 0 };
  writeFileSync(path, JSON.stringify(audit));
  guardResultFile(path, 'audit', auditIdentity(audit));
  assert.throws(() => guardResultFile(path, 'audit', auditIdentity({ ...audit, seed: 1 })), refused(/seed 0 there, 1 now/));
  assert.throws(() => guardResultFile(path, 'audit', auditIdentity({ ...audit, version: 'thorough' })), refused(/budget quick there, thorough now/));
});

test("results go beside model.json by default, and are named after any other model file so they never land on another model's", () => {
  const dir = join(tmp, 'models');
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'model.json'), '{}');
  writeFileSync(join(dir, 'small.json'), '{}');
  assert.equal(defaultResultPath(dir, 'eval'), join(dir, 'eval.json'));
  assert.equal(defaultResultPath(join(dir, 'model.json'), 'audit'), dir);
  assert.equal(defaultResultPath(join(dir, 'small.json'), 'eval'), join(dir, 'small.eval.json'));
  assert.equal(defaultResultPath(join(dir, 'small.json'), 'audit'), join(dir, 'small.audit'));
  assert.equal(defaultResultPath(join(dir, 'small.json'), 'detect-eval'), join(dir, 'small.detect-eval.json'));
});
