/**
 * Models with 2 and 3 classes through everything that runs a fixed suite: eval's (and demo's) default
 * suite, `alp attack`, the audit's plans (which `alp compare` runs) and detect eval's attacks. Tiny
 * 6×6 two- and three-class problems, trained in milliseconds.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { subset, type Dataset } from '../data/dataset.js';
import { buildArch } from '../model/architectures.js';
import { logitsOf } from '../model/classifier.js';
import { runAttack } from '../attack/runner.js';
import { fitQuick, tensorsOf, useBackend } from '../testing/setup.js';
import { UserError } from '../util/errors.js';
import { evaluateDetection } from '../detect/evaluate.js';
import { buildDetector } from '../detect/registry.js';
import { audit, AUDIT_PLANS, planAttacks, planReplacements } from './audit.js';
import { evaluateRobustness } from './evaluate.js';
import { fitSuiteToClasses, minClasses, refuseUnfit, replacementLines } from './few-classes.js';
import { ATTACK_NAMES, buildSuite, DEFAULT_EVAL_ATTACKS, DEFAULT_SURVIVORS, survivorsMask, type AttackName, type SuiteSpec } from './suite.js';

/** Class k lights up the k-th of three 2×2 patches on a dim, noisy 6×6 image. */
function fewClassData(classes: number, count: number, seed: number): Dataset {
  let s = seed >>> 0;
  const next = (): number => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32);
  const images = new Float32Array(count * 36);
  const labels = new Int32Array(count);
  for (let i = 0; i < count; i++) {
    const k = i % classes;
    labels[i] = k;
    for (let p = 0; p < 36; p++) images[i * 36 + p] = 0.1 + 0.1 * next();
    const c0 = 2 * k;
    for (let dr = 0; dr < 2; dr++) for (let dc = 0; dc < 2; dc++) images[i * 36 + (2 + dr) * 6 + c0 + dc] = 0.8 + 0.2 * next();
  }
  return { name: `toy-${classes}`, images, labels, count, shape: [6, 6, 1], numClasses: classes };
}

const models = new Map<number, tf.LayersModel>();
async function trained(classes: number): Promise<{ model: tf.LayersModel; ds: Dataset }> {
  await useBackend();
  const ds = fewClassData(classes, 60, 7 + classes);
  let model = models.get(classes);
  if (model === undefined) {
    model = buildArch('mlp', { inputShape: [6, 6, 1], numClasses: classes, seed: 3 });
    fitQuick(model, fewClassData(classes, 150, 1), 80, 0.02);
    models.set(classes, model);
  }
  return { model, ds };
}

const threat = { norm: 'linf' as const, eps: 0.3 };

test('the default suite steps down with the classes: APGD-T (≥ 4), untargeted DLR (3), the CW margin (2)', () => {
  assert.deepEqual(fitSuiteToClasses(DEFAULT_EVAL_ATTACKS, 10), { attacks: [...DEFAULT_EVAL_ATTACKS], survivors: [], replaced: [] });
  assert.deepEqual(fitSuiteToClasses(DEFAULT_EVAL_ATTACKS, 4).attacks, [...DEFAULT_EVAL_ATTACKS]);
  const three = fitSuiteToClasses(DEFAULT_EVAL_ATTACKS, 3, DEFAULT_SURVIVORS);
  assert.deepEqual(three.attacks, ['fgsm', 'pgd-ce', 'pgd-cw', 'apgd-dlr-untargeted', 'square']);
  assert.deepEqual(three.survivors, ['square']);
  assert.deepEqual(three.replaced.map((r) => [r.attack, r.by]), [['apgd-dlr', 'apgd-dlr-untargeted']]);
  assert.match(three.replaced[0]?.reason ?? '', /needs 4 classes; the model has 3/);
  const two = fitSuiteToClasses(DEFAULT_EVAL_ATTACKS, 2);
  assert.deepEqual(two.attacks, ['fgsm', 'pgd-ce', 'pgd-cw', 'apgd-cw', 'square']);
  assert.deepEqual(two.replaced.map((r) => [r.attack, r.by]), [['apgd-dlr', 'apgd-cw']]);
  assert.match(replacementLines(two.replaced)[0] ?? '', /^apgd-dlr replaced by apgd-cw: .*the model has 2; APGD on the CW margin/);
  // A stand-in the suite already runs is not run twice; survivors follow their attack.
  const dup = fitSuiteToClasses(['pgd-ce', 'apgd-dlr', 'apgd-cw'], 2, ['apgd-dlr']);
  assert.deepEqual(dup.attacks, ['pgd-ce', 'apgd-cw']);
  assert.deepEqual(dup.replaced.map((r) => [r.attack, r.by]), [['apgd-dlr', null]]);
  assert.deepEqual(dup.survivors, []);
  assert.deepEqual(fitSuiteToClasses(['apgd-dlr', 'square'], 2, ['apgd-dlr', 'square']).survivors, ['apgd-cw', 'square']);
  assert.throws(() => fitSuiteToClasses(DEFAULT_EVAL_ATTACKS, 1), UserError);
  for (const a of ATTACK_NAMES) assert.ok(minClasses(a) >= 2 && minClasses(a) <= 4, a);
});

test('an attack the user named that cannot run on the classes is refused with the reason, not swapped', () => {
  assert.throws(() => refuseUnfit(['pgd-ce', 'apgd-dlr'], 2, '--attacks'),
    (e: unknown) => e instanceof UserError && /^--attacks: apgd-dlr cannot run on this model: APGD-T's targeted DLR loss .* needs 4 classes; the model has 2 \(use apgd-cw or apgd-ce\)$/.test(e.message));
  assert.throws(() => refuseUnfit(['apgd-dlr'], 3, '--attack'), /use apgd-dlr-untargeted or apgd-cw or apgd-ce/);
  assert.throws(() => refuseUnfit(['apgd-dlr-untargeted'], 2, '--attacks'), /untargeted DLR loss .* needs 3 classes; the model has 2/);
  // With a target class, APGD on DLR runs the targeted DLR loss.
  assert.throws(() => refuseUnfit(['apgd-dlr-untargeted'], 3, '--attack', true), /with a target class it runs the targeted DLR loss, which needs 4 classes; the model has 3/);
  refuseUnfit(['apgd-dlr-untargeted'], 3, '--attack');
  refuseUnfit([...ATTACK_NAMES], 4, '--attacks');
  refuseUnfit(['fgsm', 'pgd-ce', 'pgd-cw', 'apgd-ce', 'apgd-cw', 'square'], 2, '--attack', true);
});

for (const classes of [2, 3]) {
  test(`${classes} classes, alp eval's default suite: every attack runs and fools the standard model (the unfitted suite cannot run)`, async () => {
    const { model, ds } = await trained(classes);
    const fitted = fitSuiteToClasses(DEFAULT_EVAL_ATTACKS, classes, DEFAULT_SURVIVORS);
    const spec: SuiteSpec = { threat, attacks: fitted.attacks, survivors: fitted.survivors, steps: 10, restarts: 1, seed: 1, queries: 100, replaced: fitted.replaced };
    const r = await evaluateRobustness(model, ds, buildSuite(spec), { onSurvivors: survivorsMask(spec) });
    assert.ok(r.cleanAccuracy > 0.9, `clean ${r.cleanAccuracy}`);
    assert.deepEqual(r.attacks.map((a) => a.name.split('-').slice(0, 3).join('-')),
      ['fgsm-linf-ce', 'pgd-linf-ce', 'pgd-linf-cw', classes === 3 ? 'apgd-linf-dlr' : 'apgd-linf-cw', 'square-linf-100q']);
    const stand = r.attacks[3];
    assert.ok(stand !== undefined && stand.robustAccuracy < r.cleanAccuracy - 0.3, `stand-in: clean ${r.cleanAccuracy}, robust ${stand?.robustAccuracy}`);
    assert.ok(r.worstCaseAccuracy <= Math.min(...r.attacks.map((a) => a.robustAccuracy)));
    // What alp eval refused before: APGD-T on this model.
    await assert.rejects(evaluateRobustness(model, ds, buildSuite({ threat, attacks: ['apgd-dlr'], steps: 2, restarts: 1, seed: 1 })), /targeted DLR loss needs at least 4 classes/);
  });

  test(`${classes} classes, alp attack: the stand-ins untargeted and targeted, verified in the ε-ball`, async () => {
    const { model, ds } = await trained(classes);
    const f = logitsOf(model);
    const { x, y } = tensorsOf(subset(ds, 0, 20));
    const targets = tf.tidy(() => tf.mod(tf.add(y, 1), classes).toInt() as tf.Tensor1D);
    const names: AttackName[] = classes === 3 ? ['apgd-cw', 'apgd-dlr-untargeted'] : ['apgd-cw'];
    // ε = 0.5: at 0.3 one class of the two-class model is out of reach of every attack (PGD and Square too).
    const wide = { norm: 'linf' as const, eps: 0.5 };
    for (const name of names) {
      const [a] = buildSuite({ threat: wide, attacks: [name], steps: 10, restarts: 1, seed: 2 });
      assert.ok(a !== undefined);
      const u = runAttack(a, f, x, y);
      assert.ok(u.success.reduce((p, q) => p + q, 0) >= 15, `${name}: ${u.success.join('')}`);
      assert.ok(Math.max(...u.perturbation) <= wide.eps * (1 + 1e-4) + 1e-6);
      u.adversarial.dispose();
      if (name === 'apgd-cw') {
        const t = runAttack(a, f, x, y, { targets });
        const hit = t.success.reduce((p, q) => p + q, 0);
        assert.ok(hit >= 15, `targeted ${name}: ${hit}/20`);
        assert.deepEqual(Array.from(t.pred).filter((p, i) => t.success[i] === 1 && p !== targets.dataSync()[i]), []);
        t.adversarial.dispose();
      }
    }
    tf.dispose([x, y, targets]);
  });

  test(`${classes} classes, alp audit (and so alp compare): the plans run their stand-ins and say so`, async () => {
    const { model, ds } = await trained(classes);
    const stand = classes === 3 ? 'apgd-linf-dlr-' : 'apgd-linf-cw-';
    for (const v of ['quick', 'standard'] as const) {
      const names = planAttacks(AUDIT_PLANS[v], threat, 0, classes).map((a) => a.name);
      assert.equal(names.length, AUDIT_PLANS[v].attacks.length, names.join(', '));
      assert.ok(names.some((n) => n.startsWith(stand)), names.join(', '));
      assert.ok(!names.some((n) => n.includes('dlr-targeted')), names.join(', '));
      assert.deepEqual(planReplacements(v, classes).map((r) => r.by), [classes === 3 ? 'apgd-dlr-untargeted' : 'apgd-cw']);
    }
    assert.deepEqual(planReplacements('quick', 10), []);
    const r = await audit(model, { ...ds, count: 24 }, { threat, version: 'quick', seed: 1, batchSize: 24 });
    assert.ok(r.cascade.some((s) => s.attack.startsWith(stand)), r.cascade.map((s) => s.attack).join(', '));
    assert.ok(r.worstCaseAccuracy < r.cleanAccuracy);
  });

  test(`${classes} classes, alp detect eval: the default attacks and the adaptive attack run`, async () => {
    const { model, ds } = await trained(classes);
    const calib = fewClassData(classes, 120, 99);
    const r = await evaluateDetection(model, 'few', '(memory)', { ...ds, count: 30 }, calib, [buildDetector('margin')], {
      threat, attacks: ['fgsm', 'pgd-ce', 'pgd-cw', 'apgd-ce'], steps: 5, restarts: 1, seed: 1, fprs: [0.05], operatingFpr: 0.05,
      adaptive: { steps: 5, lambdas: [0, 1], eotSamples: 2, checkEvery: 5 }, batchSize: 30,
    });
    const d = r.detectors[0];
    assert.ok(d !== undefined);
    assert.equal(d.attacks.filter((a) => !a.adaptive).length, 4);
    assert.ok(d.attacks.some((a) => a.adaptive));
    assert.ok(d.attacks.every((a) => a.attacked > 0 && a.fooled <= a.attacked));
  });
}
