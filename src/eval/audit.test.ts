import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { fitQuick, toyDataset, toyModelOnce } from '../testing/setup.js';
import { buildArch } from '../model/architectures.js';
import { logitsOf } from '../model/classifier.js';
import { InterruptedError } from '../util/interrupt.js';
import { audit, AUDIT_PLANS, planAttacks, type AuditResult } from './audit.js';
import { runCascade } from './cascade.js';
import { buildSuite } from './suite.js';

const ds = toyDataset(128, 11);
const trained = toyModelOnce({ seed: 5, train: ds, steps: 150 });

test('the cascade fools most of a standard model and books each example to the attack that fooled it', async () => {
  const m = await trained();
  const f = logitsOf(m);
  const suite = buildSuite({ threat: { norm: 'linf', eps: 0.45 }, attacks: ['fgsm', 'pgd-ce', 'pgd-cw'], steps: 10, restarts: 1, seed: 2 });
  const r = await runCascade(f, ds, suite, { keepExamples: 200 });
  assert.equal(r.steps.length, 3);
  // An attack that did nothing would leave the worst case at the clean accuracy.
  assert.ok(r.cleanAccuracy > 0.9 && r.worstCaseAccuracy < r.cleanAccuracy - 0.3, `clean ${r.cleanAccuracy}, worst ${r.worstCaseAccuracy}`);
  assert.equal(r.worstCaseAccuracy, r.steps[2]?.robustAccuracyAfter);
  const fooled = r.fooledBy.filter((b) => b !== '').length;
  assert.equal(fooled, r.steps.reduce((a, s) => a + s.fooledHere, 0));
  // Every kept example is misclassified by a fresh forward pass and recorded against its attack.
  assert.equal(r.adversarial.size, fooled);
  for (const [id, row] of r.adversarial) {
    const pred = tf.tidy(() => f(tf.tensor4d(row, [1, 6, 6, 1])).argMax(-1).dataSync()[0]);
    assert.notEqual(pred, ds.labels[id], `example ${id}`);
    assert.notEqual(r.fooledBy[id], '');
  }
});

test('an interrupted cascade resumes from its state file to the same result', async () => {
  const m = await trained();
  const dir = mkdtempSync(join(tmpdir(), 'alp-cascade-'));
  try {
    const statePath = join(dir, 'state.json');
    const suite = (): ReturnType<typeof buildSuite> => buildSuite({ threat: { norm: 'linf', eps: 0.25 }, attacks: ['pgd-ce', 'pgd-cw'], steps: 8, restarts: 2, seed: 4 });
    const straight = await runCascade(logitsOf(m), ds, suite(), { batchSize: 32, keepExamples: 40 });
    // Interrupted (as Ctrl-C does, through the signal) after the second batch of the first attack.
    let calls = 0;
    const stop = new AbortController();
    await assert.rejects(runCascade(logitsOf(m), ds, suite(), {
      batchSize: 32, statePath, keepExamples: 40, signal: stop.signal, onProgress: () => {
        if (++calls === 2) stop.abort('SIGINT');
      },
    }), (e: unknown) => e instanceof InterruptedError && e.code === 130);
    assert.equal(calls, 2, 'it stopped right after the batch during which the signal came');
    assert.ok(existsSync(statePath));
    const state = JSON.parse(readFileSync(statePath, 'utf8')) as { done: number; attackIndex: number };
    assert.equal(state.attackIndex, 0);
    assert.ok(state.done > 0);
    const resumed = await runCascade(logitsOf(m), ds, suite(), { batchSize: 32, statePath, keepExamples: 40 });
    assert.deepEqual(resumed.robust, straight.robust);
    assert.deepEqual(resumed.steps.map((s) => s.fooledHere), straight.steps.map((s) => s.fooledHere));
    // The examples kept before the interruption survive it: the same ids, in the same order, same values.
    assert.ok(straight.adversarial.size > 0);
    assert.deepEqual([...resumed.adversarial.keys()], [...straight.adversarial.keys()]);
    for (const [id, row] of straight.adversarial) assert.deepEqual(Array.from(resumed.adversarial.get(id) ?? []), Array.from(row), `example ${id}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the audit flags a softmax output layer and passes a logits model on that check', async () => {
  const m = await trained();
  const r = await audit(m, ds, { threat: { norm: 'linf', eps: 0.25 }, version: 'quick', seed: 1 });
  const byId = new Map(r.findings.map((f) => [f.id, f]));
  assert.equal(byId.get('softmax-output')?.status, 'pass');
  assert.equal(byId.get('stochastic-forward')?.status, 'pass');
  assert.equal(byId.get('gradient-norms')?.status, 'pass');
  assert.equal(byId.get('eps-to-zero')?.status, 'pass', byId.get('eps-to-zero')?.detail);
  assert.ok(r.cascade.some((s) => s.attack.startsWith('square')));
  const probs = (x: tf.Tensor): tf.Tensor2D => tf.softmax(logitsOf(m)(x)) as tf.Tensor2D;
  const r2 = await audit(probs, ds, { threat: { norm: 'linf', eps: 0.25 }, version: 'quick', seed: 1 });
  assert.equal(r2.findings.find((f) => f.id === 'softmax-output')?.status, 'fail');
});

test('the audit flags a randomised forward pass', async () => {
  const m = await trained();
  let k = 0;
  const noisy = (x: tf.Tensor): tf.Tensor2D => tf.tidy(() => logitsOf(m)(tf.add(x, tf.randomNormal(x.shape, 0, 0.05, 'float32', ++k))) as tf.Tensor2D);
  const r = await audit(noisy, ds, { threat: { norm: 'linf', eps: 0.25 }, version: 'quick', seed: 1 });
  assert.equal(r.findings.find((f) => f.id === 'stochastic-forward')?.status, 'warn');
});

test('binary classifiers: the audit runs APGD on the CW margin instead of the targeted DLR loss (which needs 4 classes)', () => {
  const threat = { norm: 'linf' as const, eps: 0.1 };
  const quick2 = planAttacks(AUDIT_PLANS.quick, threat, 0, 2).map((a) => a.name);
  assert.ok(quick2.some((n) => n.startsWith('apgd-linf-cw')), quick2.join(', '));
  assert.ok(!quick2.some((n) => n.includes('dlr')), quick2.join(', '));
  // The standard plan keeps its APGD-CE and gains the margin in APGD-T's place (a loss it did not have).
  const std2 = planAttacks(AUDIT_PLANS.standard, threat, 0, 2).map((a) => a.name);
  assert.deepEqual(std2.filter((n) => n.startsWith('apgd')).map((n) => n.split('-')[2]), ['ce', 'cw'], std2.join(', '));
  assert.ok(planAttacks(AUDIT_PLANS.quick, threat, 0, 10).some((a) => a.name.includes('dlr-targeted')));
});

test("the standard and thorough budgets end with AutoAttack's standard Square: 5000 queries, p_init 0.8, fixed schedule, last", () => {
  const threat = { norm: 'linf' as const, eps: 0.3 };
  for (const version of ['standard', 'thorough'] as const) {
    const attacks = planAttacks(AUDIT_PLANS[version], threat, 0, 10);
    const last = attacks[attacks.length - 1]?.describe();
    assert.deepEqual({ attack: last?.['attack'], queries: last?.['queries'], pInit: last?.['pInit'], schedule: last?.['schedule'], restarts: last?.['restarts'] },
      { attack: 'square', queries: 5000, pInit: 0.8, schedule: 'fixed', restarts: 1 }, version);
  }
  // The quick budget stays cheap: 300 queries over the whole (rescaled) schedule.
  const quick = planAttacks(AUDIT_PLANS.quick, threat, 0, 10).find((a) => a.describe()['attack'] === 'square')?.describe();
  assert.equal(quick?.['queries'], 300);
  assert.equal(quick?.['schedule'], undefined);
});

test('an interrupted audit resumes only for the same model and configuration, and loses no kept example', async () => {
  const m = await trained();
  const dir = mkdtempSync(join(tmpdir(), 'alp-audit-'));
  try {
    const statePath = join(dir, 'audit.state.json');
    const base = { threat: { norm: 'linf' as const, eps: 0.25 }, version: 'quick' as const, seed: 1, batchSize: 32, keepExamples: 40 };
    const straight = await audit(m, ds, base);
    const interrupt = async (): Promise<void> => {
      rmSync(statePath, { force: true });
      let calls = 0;
      const stop = new AbortController();
      await assert.rejects(audit(m, ds, { ...base, statePath, signal: stop.signal, onProgress: () => {
        if (++calls === 5) stop.abort('SIGTERM');
      } }), (e: unknown) => e instanceof InterruptedError && e.code === 143);
      assert.ok(existsSync(statePath));
    };
    const phases = async (o: Partial<Parameters<typeof audit>[2]>, model: tf.LayersModel = m): Promise<{ r: AuditResult; said: string[] }> => {
      const said: string[] = [];
      const r = await audit(model, ds, { ...base, statePath, ...o, onPhase: (p) => said.push(p) });
      return { r, said };
    };
    await interrupt();
    const resumed = await phases({});
    assert.ok(resumed.said.includes('resuming the interrupted audit'), resumed.said.join(' | '));
    assert.deepEqual(resumed.r.fooledBy, straight.fooledBy);
    assert.deepEqual(resumed.r.cascade.map((s) => [s.attack, s.fooledHere, s.robustAccuracyAfter]), straight.cascade.map((s) => [s.attack, s.fooledHere, s.robustAccuracyAfter]));
    assert.ok(straight.adversarial.size > 0);
    assert.deepEqual([...resumed.r.adversarial.keys()], [...straight.adversarial.keys()]);
    for (const [id, row] of straight.adversarial) assert.deepEqual(Array.from(resumed.r.adversarial.get(id) ?? []), Array.from(row));

    // Another seed, or the same architecture with other weights, must not pick up the saved state.
    await interrupt();
    assert.ok((await phases({ seed: 2 })).said.some((p) => p.includes('starting over')));
    await interrupt();
    const retrained = buildArch('mlp', { inputShape: [6, 6, 1], numClasses: 4, seed: 5 });
    retrained.setWeights(m.getWeights());
    fitQuick(retrained, ds, 3, 0.02);
    assert.ok((await phases({}, retrained)).said.some((p) => p.includes('starting over')));
    retrained.dispose();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
