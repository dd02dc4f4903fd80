import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import type { Attack } from '../attack/attack.js';
import type { AttackResult } from '../attack/gradient-attack.js';
import { runAttack } from '../attack/runner.js';
import type { ThreatModel } from '../attack/threat-model.js';
import { logitsOf, type LogitsFn } from '../model/classifier.js';
import { trainedToyModel, tensorsOf } from '../testing/setup.js';
import { evaluateRobustness } from './evaluate.js';
import { ATTACK_NAMES, buildSuite, survivorsMask, type AttackName } from './suite.js';

const threat: ThreatModel = { norm: 'linf', eps: 0.3 };

/** The control: an "attack" that returns the clean input. The table's assertions must reject it. */
class DoNothing implements Attack {
  readonly name = 'do-nothing';
  readonly threat = threat;
  run(_f: LogitsFn, x: tf.Tensor, labels: tf.Tensor1D): AttackResult {
    return { adversarial: tf.clone(x), success: new Uint8Array(labels.shape[0]) };
  }
  describe(): Record<string, unknown> {
    return { attack: 'do-nothing' };
  }
}

/** What every real attack must achieve on the toy model at ε = 0.3: most correct examples fooled. */
function attackWorks(clean: number, robust: number): boolean {
  return clean > 0.9 && robust < clean - 0.3;
}

test('every attack name: robust accuracy well below clean on a standard model (a do-nothing attack fails this)', async () => {
  const { model, ds: all } = await trainedToyModel(2);
  const ds = { ...all, count: 64 };
  const attacks = buildSuite({ threat, attacks: ATTACK_NAMES, steps: 10, restarts: 1, seed: 3, queries: 300 });
  const r = await evaluateRobustness(model, ds, [...attacks, new DoNothing()]);
  assert.equal(r.attacks.length, ATTACK_NAMES.length + 1);
  for (const a of r.attacks.slice(0, ATTACK_NAMES.length)) {
    assert.ok(attackWorks(r.cleanAccuracy, a.robustAccuracy), `${a.name}: clean ${r.cleanAccuracy}, robust ${a.robustAccuracy}`);
    assert.ok(a.maxPerturbation <= threat.eps * (1 + 1e-4) + 1e-6, `${a.name}: ‖δ‖ ${a.maxPerturbation}`);
  }
  const control = r.attacks[ATTACK_NAMES.length];
  assert.equal(control?.robustAccuracy, r.cleanAccuracy);
  assert.ok(!attackWorks(r.cleanAccuracy, control?.robustAccuracy ?? NaN));
});

test('targeted attacks: hitting the target rises from none (clean) with the budget', async () => {
  const { model, ds } = await trainedToyModel(2);
  const f = logitsOf(model);
  const sub = { ...ds, count: 48, images: ds.images.subarray(0, 48 * 36), labels: ds.labels.subarray(0, 48) };
  const { x, y } = tensorsOf(sub);
  const targets = tf.tidy(() => tf.mod(tf.add(y, 1), 4).toInt() as tf.Tensor1D);
  const rate = (a: Attack): number => {
    const r = runAttack(a, f, x, y, { targets });
    r.adversarial.dispose();
    return r.success.reduce((p, q) => p + q, 0) / sub.count;
  };
  const cleanHits = tf.tidy(() => tf.mean(tf.equal(f(x).argMax(-1), targets).toFloat()).dataSync()[0] as number);
  assert.ok(cleanHits < 0.05, `clean already hits the target on ${cleanHits}`);
  for (const name of ['pgd-ce', 'pgd-cw', 'apgd-ce', 'square'] as const) {
    const small = buildSuite({ threat: { norm: 'linf', eps: 0.1 }, attacks: [name], steps: 2, restarts: 1, seed: 5, queries: 20 })[0] as Attack;
    const large = buildSuite({ threat, attacks: [name], steps: 20, restarts: 1, seed: 5, queries: 400 })[0] as Attack;
    const lo = rate(small);
    const hi = rate(large);
    assert.ok(hi > 0.4 && hi > lo + 0.3, `${name}: target hit ${lo} with a small budget, ${hi} with a large one`);
  }
  tf.dispose([x, y, targets]);
});

/** Passes batches to a real attack and records which examples it was asked to attack. */
class Counting implements Attack {
  readonly ids: number[] = [];
  constructor(private readonly inner: Attack) {}
  get name(): string {
    return this.inner.name;
  }
  get threat(): ThreatModel {
    return this.inner.threat;
  }
  run(f: LogitsFn, x: tf.Tensor, labels: tf.Tensor1D, targets?: tf.Tensor1D, ids?: readonly number[]): AttackResult {
    this.ids.push(...(ids ?? []));
    return this.inner.run(f, x, labels, targets, ids);
  }
  describe(): Record<string, unknown> {
    return this.inner.describe();
  }
}

test('survivors: a later attack runs only on the examples the earlier ones left robust, and its number is the worst case', async () => {
  const { model, ds: all } = await trainedToyModel(2);
  const ds = { ...all, count: 64 };
  const spec = { threat: { norm: 'linf' as const, eps: 0.3 }, attacks: ['pgd-ce', 'square'] as AttackName[], steps: 1, restarts: 1, seed: 7, queries: 40, survivors: ['square'] };
  const run = async (onSurvivors: boolean[] | undefined) => {
    const suite = buildSuite(spec).map((a) => new Counting(a));
    return { r: await evaluateRobustness(model, ds, suite, onSurvivors !== undefined ? { onSurvivors } : {}), suite };
  };
  const { r, suite } = await run(survivorsMask(spec));
  const correct = Math.round(r.cleanAccuracy * ds.count);
  const afterPgd = Math.round((r.attacks[0]?.robustAccuracy ?? NaN) * ds.count);
  assert.ok(afterPgd > 0 && afterPgd < correct, `the weak PGD should fool some but not all: ${afterPgd} of ${correct}`);
  assert.equal(suite[0]?.ids.length, correct);
  assert.equal(new Set(suite[1]?.ids).size, afterPgd, 'Square attacked other examples than the survivors');
  assert.equal(r.attacks[1]?.onSurvivors, true);
  assert.equal(r.attacks[1]?.robustAccuracy, r.worstCaseAccuracy);
  // Without the flag every attack faces every correct example: the same worst case, at more cost.
  const { r: plain, suite: plainSuite } = await run(undefined);
  assert.equal(new Set(plainSuite[1]?.ids).size, correct);
  assert.equal(plain.attacks[1]?.onSurvivors, undefined);
  assert.ok(plain.worstCaseAccuracy <= r.attacks[0]!.robustAccuracy);
  assert.throws(() => survivorsMask({ ...spec, survivors: ['apgd-ce'] }), /survivors: expected names among the suite's attacks/);
  // Square runs once whatever the restarts: its queries are its budget.
  assert.equal(buildSuite({ ...spec, restarts: 4 })[1]?.describe()['restarts'], 1);
});
