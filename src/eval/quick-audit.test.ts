import { test } from 'node:test';
import assert from 'node:assert/strict';
import { trainedToyModel } from '../testing/setup.js';
import type { Attack } from '../attack/attack.js';
import type { BatchOutcome } from '../attack/runner.js';
import { logitsOf } from '../model/classifier.js';
import { evaluateRobustness, predictAll, rowsOf, sweepPart, type EvalResult } from './evaluate.js';
import { buildSuite, survivorsMask } from './suite.js';
import { modelChecksOf } from './audit.js';
import { EvalRecorder, evalCascade, quickAudit, quickFindings, quickSweep } from './quick-audit.js';

const fake = (name: string): Attack => ({ name } as unknown as Attack);

function batch(ids: number[], success: number[], pred: number[]): BatchOutcome {
  return {
    ids, success: Uint8Array.from(success), pred: Int32Array.from(pred), perturbation: new Float32Array(ids.length),
    data: Float32Array.from(ids.flatMap((id) => [id, id + 0.5])),
  };
}

test('EvalRecorder keeps the first attack that fooled each example, and the chosen attack\'s try on the rest', () => {
  const r = new EvalRecorder('pgd');
  r.onAttackBatch(fake('fgsm'), batch([0, 1, 2, 3], [0, 1, 0, 0], [5, 7, 2, 3]));
  r.onAttackBatch(fake('pgd'), batch([0, 1, 2, 3], [1, 1, 0, 0], [9, 8, 2, 3]));
  r.onAttackBatch(fake('square'), batch([2, 3], [0, 1], [2, 4]));
  assert.deepEqual(r.fooledBy(5), ['pgd', 'fgsm', '', 'square', '']);
  const robust = [0, 0, 1, 0, 0];
  const picked = r.pick(robust, 2, 5);
  assert.deepEqual(picked.map((p) => [p.id, p.attack, p.fooled, p.advPred]), [[0, 'pgd', true, 9], [1, 'fgsm', true, 7], [2, 'pgd', false, 2]]);
  // The kept image is that example's row of the batch, not a view into it.
  assert.deepEqual(Array.from(picked[1]!.data), [1, 1.5]);
  // Lowest indices first, and no more than asked.
  assert.deepEqual(r.pick(robust, 1, 0).map((p) => p.id), [0]);
});

test('the evaluation read as a cascade, and the findings it supports', () => {
  const result: Omit<EvalResult, 'robust'> = {
    examples: 10, cleanAccuracy: 0.9, worstCaseAccuracy: 0.5,
    attacks: [
      { name: 'fgsm', config: {}, robustAccuracy: 0.8, successRate: 0, maxPerturbation: 0.3, seconds: 1 },
      { name: 'pgd', config: {}, robustAccuracy: 0.6, successRate: 0, maxPerturbation: 0.3, seconds: 2 },
      { name: 'square', config: {}, robustAccuracy: 0.5, successRate: 0, maxPerturbation: 0.3, seconds: 3, onSurvivors: true },
    ],
  };
  const fooledBy = ['fgsm', 'pgd', 'pgd', 'square', '', '', '', '', '', ''];
  const c = evalCascade(result, fooledBy);
  assert.deepEqual(c.map((s) => [s.attack, s.fooledHere, s.robustAccuracyAfter]), [['fgsm', 1, 0.8], ['pgd', 2, 0.6], ['square', 1, 0.5]]);
  const findings = quickFindings({
    threat: { norm: 'linf', eps: 0.3 }, result, fooledBy, fgsm: 'fgsm', pgd: { name: 'pgd', steps: 40, restarts: 1 },
    sweep: [{ eps: 0, robustAccuracy: 0.9 }, { eps: 0.5, robustAccuracy: 0.3 }],
    model: { logits: { min: -3, maxSumDev: 2 }, lastActivation: 'linear', forwardDifference: 0, gradientNorms: [0.1, 0.2], layers: [] },
  });
  const status = Object.fromEntries(findings.map((f) => [f.id, f.status]));
  assert.deepEqual(status, {
    'softmax-output': 'pass', 'stochastic-forward': 'pass', 'gradient-norms': 'pass',
    // 30% left at ε = 0.5: the curve does not fall.
    'eps-to-zero': 'fail',
    // PGD alone 60% vs worst case 50%: 10 points, at the fail line (> 0.1 fails).
    'weak-attack-gap': 'warn',
    // Square fooled 1 of 10 that the gradient attacks missed.
    'black-box-beats-white-box': 'fail',
    'unverified-gradient': 'pass', 'fgsm-vs-pgd': 'pass',
  });
});

test('quickSweep: PGD per radius on the first examples, never rising, and at each radius at least as strong as the plain sweep', async () => {
  const { model, ds } = await trainedToyModel();
  const threat = { norm: 'linf' as const, eps: 0.3 };
  const radii = [0, 0.1, 0.2, 0.3, 0.6];
  const quick = await quickSweep(model, ds, threat, { radii, steps: 5, losses: ['ce', 'cw'], examples: 40, seed: 3 });
  assert.deepEqual(quick.map((p) => p.eps), radii);
  const clean = predictAll(logitsOf(model), rowsOf(ds, 0, 40)).filter((p, i) => p === ds.labels[i]).length / 40;
  assert.equal(quick[0]!.robustAccuracy, clean);
  quick.forEach((p, i) => assert.ok(i === 0 || p.robustAccuracy <= quick[i - 1]!.robustAccuracy, JSON.stringify(quick)));
  assert.ok(quick[quick.length - 1]!.robustAccuracy < clean, JSON.stringify(quick));
  // The same attacks at each radius on every correct example (the audit's sweep): never lower than the quick one.
  const plain = await sweepPart(model, ds, { norm: 'linf', epsilons: radii, steps: 5, restarts: 1, losses: ['ce', 'cw'], seed: 3 }, [0, 40]);
  plain.points.forEach((pt, k) => {
    const acc = pt.robust.reduce((a, b) => a + b, 0) / 40;
    assert.ok(quick[k]!.robustAccuracy <= acc + 1e-9, `ε=${pt.eps}: quick ${quick[k]!.robustAccuracy} vs plain ${acc}`);
  });
});

test('recording an evaluation changes none of its numbers, and its cascade ends at the worst case', async () => {
  const { model, ds } = await trainedToyModel();
  const sub = rowsOf(ds, 0, 60);
  const spec = { threat: { norm: 'linf' as const, eps: 0.25 }, attacks: ['fgsm', 'pgd-ce', 'pgd-cw', 'square'] as const, steps: 5, restarts: 1, seed: 1, queries: 40, survivors: ['square'] };
  const plain = await evaluateRobustness(model, sub, buildSuite(spec), { onSurvivors: survivorsMask(spec) });
  const suite = buildSuite(spec);
  const rec = new EvalRecorder(suite[1]!.name);
  const seen = await evaluateRobustness(model, sub, suite, { onSurvivors: survivorsMask(spec), onAttackBatch: rec.onAttackBatch });
  const untimed = (r: EvalResult): unknown => ({ ...r, attacks: r.attacks.map(({ seconds: _s, ...a }) => a) });
  assert.deepEqual(untimed(seen), untimed(plain));
  const cascade = evalCascade(seen, rec.fooledBy(sub.count));
  assert.ok(Math.abs(cascade[cascade.length - 1]!.robustAccuracyAfter - seen.worstCaseAccuracy) < 1e-9, JSON.stringify(cascade));
  // Every example an attack fooled is one the evaluation counts as not robust, and vice versa.
  rec.fooledBy(sub.count).forEach((b, i) => assert.equal(b !== '', seen.robust[i] === 0 && predictAll(logitsOf(model), rowsOf(sub, i, i + 1))[0] === sub.labels[i]));
  const checks = modelChecksOf(model, sub);
  assert.equal(checks.gradientNorms.length, 60);

  // The whole quick audit: the examples shown are what the model does on them, fooled ones first.
  const q = await quickAudit(model, logitsOf(model), sub, {
    threat: spec.threat, suite, result: seen, recorder: rec, sweep: { radii: [0, 0.25, 0.6], steps: 3, losses: ['ce'], examples: 20, seed: 1 }, show: { fooled: 2, resisted: 3 },
  });
  assert.deepEqual(q.epsSweep.map((p) => p.eps), [0, 0.25, 0.6]);
  assert.equal(q.findings.length, 8);
  const fooled = q.shown.filter((e) => e.fooled);
  const resisted = q.shown.filter((e) => !e.fooled);
  assert.deepEqual(q.shown.map((e) => e.fooled), [...fooled.map(() => true), ...resisted.map(() => false)]);
  assert.ok(fooled.length === 2 && resisted.length === 3, JSON.stringify(q.shown.map((e) => [e.id, e.fooled])));
  for (const e of q.shown) {
    assert.equal(e.cleanPred, e.label);
    const adv = predictAll(logitsOf(model), { ...sub, count: 1, images: e.data, labels: Int32Array.of(e.label) })[0];
    assert.equal(adv, e.advPred);
    assert.equal(e.fooled, adv !== e.label);
    assert.equal(e.attack, e.fooled ? rec.fooledBy(sub.count)[e.id] : suite[1]!.name);
  }
});
