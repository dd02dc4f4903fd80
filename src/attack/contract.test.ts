/**
 * The contract every attack keeps, as one table over the attacks instead of a copy per attack:
 * its points stay inside the ε-ball and the [0,1] box and actually move; the success flags it reports
 * agree with a fresh forward pass (of the true label, or of the target when targeted); a targeted run
 * reaches the target; and a run is reproducible from its seed without leaking tensors.
 * Attack-specific properties (APGD's step-size schedule, Square's query budget, …) stay in each
 * attack's own test file.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import type { Dataset } from '../data/dataset.js';
import { logitsOf } from '../model/classifier.js';
import { tensorsOf, toyDataset, trainedToyModel } from '../testing/setup.js';
import type { Attack } from './attack.js';
import { Apgd, type ApgdLoss } from './apgd.js';
import { Pgd } from './pgd.js';
import { Square } from './square.js';
import { L2, LINF, type NormName } from './threat-model.js';

async function trained(): Promise<tf.LayersModel> {
  return (await trainedToyModel(2)).model;
}

const NORMS: readonly NormName[] = ['linf', 'l2'];
const APGD_LOSSES: readonly ApgdLoss[] = ['ce', 'dlr', 'dlr-targeted'];

interface BallCase {
  label: string;
  data: () => Dataset;
  eps: number;
  attack: (norm: NormName, eps: number) => Attack;
  /** The ε is chosen so that some but not all examples are fooled: check that it is so. */
  mixed?: boolean;
}

const BALL_CASES: Array<BallCase & { norm: NormName }> = [
  ...NORMS.map((norm) => ({
    label: `${norm} PGD`, norm, data: () => toyDataset(256, 3), eps: norm === 'linf' ? 0.3 : 1.5,
    attack: (n: NormName, eps: number): Attack => new Pgd({ threat: { norm: n, eps }, steps: 10, restarts: 2, seed: 4 }),
  })),
  ...NORMS.flatMap((norm) => APGD_LOSSES.map((loss) => ({
    label: `${norm} APGD-${loss}`, norm, data: () => toyDataset(64, 5), eps: norm === 'linf' ? 0.3 : 1.0, mixed: true,
    attack: (n: NormName, eps: number): Attack => new Apgd({ threat: { norm: n, eps }, steps: 10, restarts: 2, loss, targetClasses: 2, seed: 4 }),
  }))),
  ...NORMS.map((norm) => ({
    label: `${norm} Square`, norm, data: () => toyDataset(64, 5), eps: norm === 'linf' ? 0.3 : 1.5,
    attack: (n: NormName, eps: number): Attack => new Square({ threat: { norm: n, eps }, queries: 100, seed: 4 }),
  })),
];

for (const c of BALL_CASES) {
  test(`${c.label}: outputs inside the ε-ball and box; success flags match a fresh forward pass`, async () => {
    const m = await trained();
    const ds = c.data();
    const { x, y } = tensorsOf(ds);
    const r = c.attack(c.norm, c.eps).run(logitsOf(m), x, y);
    const geo = c.norm === 'linf' ? LINF : L2;
    const sizes = tf.tidy(() => geo.size(tf.sub(r.adversarial, x)).arraySync());
    assert.ok(Math.max(...sizes) <= c.eps * (1 + 1e-5), `max size ${Math.max(...sizes)} > ${c.eps}`);
    assert.ok(Math.max(...sizes) > c.eps * 0.5, 'the attack should actually move');
    assert.ok((tf.min(r.adversarial).dataSync()[0] as number) >= 0);
    assert.ok((tf.max(r.adversarial).dataSync()[0] as number) <= 1);
    const pred = tf.tidy(() => logitsOf(m)(r.adversarial).argMax(-1).arraySync() as number[]);
    const labels = Array.from(ds.labels);
    pred.forEach((p, i) => assert.equal(r.success[i] === 1, p !== labels[i], `example ${i}`));
    if (c.mixed === true) assert.ok(r.success.some((s) => s === 1) && r.success.some((s) => s === 0), 'ε chosen so that some but not all are fooled');
    tf.dispose([x, y, r.adversarial]);
  });
}

/** Targeted runs at a large ε: more than 90% reach the target, and the flags say exactly which. */
const TARGETED_CASES: Array<{ label: string; data: () => Dataset; attack: () => Attack }> = [
  ...(['ce', 'cw'] as const).map((loss) => ({
    label: `PGD-${loss}`, data: () => toyDataset(256, 3),
    attack: (): Attack => new Pgd({ threat: { norm: 'linf', eps: 0.6 }, steps: 30, loss, seed: 3 }),
  })),
  ...(['ce', 'dlr-targeted'] as const).map((loss) => ({
    label: `APGD-${loss}`, data: () => toyDataset(64, 6),
    attack: (): Attack => new Apgd({ threat: { norm: 'linf', eps: 0.6 }, steps: 20, loss, seed: 3 }),
  })),
];

for (const c of TARGETED_CASES) {
  test(`targeted ${c.label} (explicit targets) moves predictions to the target`, async () => {
    const m = await trained();
    const f = logitsOf(m);
    const ds = c.data();
    const { x, y } = tensorsOf(ds);
    const target = 2;
    const t = tf.fill([ds.count], target, 'int32') as tf.Tensor1D;
    const r = c.attack().run(f, x, y, t);
    const pred = tf.tidy(() => f(r.adversarial).argMax(-1).arraySync() as number[]);
    const hit = pred.filter((p) => p === target).length / pred.length;
    assert.ok(hit > 0.9, `${c.label}: only ${hit} reached the target`);
    pred.forEach((p, i) => assert.equal(r.success[i] === 1, p === target));
    tf.dispose([x, y, t, r.adversarial]);
  });
}

/**
 * Each attack run again (`repeats` times) gives the same points and flags as its first run, leaves the
 * live tensor count where it was, and — where `targetedFlags` is set — its targeted runs' flags match a
 * fresh forward pass too.
 */
const REPRODUCIBLE_CASES: Array<{ label: string; count: number; repeats: number; attacks: () => Attack[]; targetedFlags?: number }> = [
  {
    label: 'APGD', count: 16, repeats: 2,
    attacks: () => APGD_LOSSES.flatMap((loss) => [
      new Apgd({ threat: { norm: 'linf', eps: 0.3 }, steps: 6, restarts: 2, loss, seed: 1 }),
      new Apgd({ threat: { norm: 'l2', eps: 1 }, steps: 6, restarts: 2, loss, seed: 1 }),
    ]),
  },
  {
    label: 'Square', count: 32, repeats: 3, targetedFlags: 1,
    attacks: () => [
      new Square({ threat: { norm: 'linf', eps: 0.3 }, queries: 30, restarts: 2, seed: 1 }),
      new Square({ threat: { norm: 'l2', eps: 1.2 }, queries: 30, restarts: 2, seed: 1 }),
    ],
  },
];

for (const c of REPRODUCIBLE_CASES) {
  test(`${c.label} runs are reproducible from the seed${c.targetedFlags !== undefined ? ', support targets' : ''} and do not leak tensors`, async () => {
    const m = await trained();
    const f = logitsOf(m);
    const { x, y } = tensorsOf(toyDataset(c.count, 9));
    const attacks = c.attacks();
    const first = attacks.map((a) => a.run(f, x, y));
    const t = c.targetedFlags !== undefined ? (tf.fill([c.count], c.targetedFlags, 'int32') as tf.Tensor1D) : undefined;
    const before = tf.memory().numTensors;
    for (let i = 0; i < c.repeats; i++) {
      attacks.forEach((a, j) => {
        const r = a.run(f, x, y);
        const ref = first[j] as { adversarial: tf.Tensor; success: Uint8Array };
        assert.deepEqual(Array.from(r.success), Array.from(ref.success));
        assert.deepEqual(Array.from(r.adversarial.dataSync()), Array.from(ref.adversarial.dataSync()));
        r.adversarial.dispose();
        if (t !== undefined) {
          const rt = a.run(f, x, y, t);
          const pred = tf.tidy(() => f(rt.adversarial).argMax(-1).arraySync() as number[]);
          pred.forEach((p, k) => assert.equal(rt.success[k] === 1, p === c.targetedFlags));
          rt.adversarial.dispose();
        }
      });
    }
    assert.equal(tf.memory().numTensors, before);
    first.forEach((r) => r.adversarial.dispose());
    tf.dispose([x, y, ...(t !== undefined ? [t] : [])]);
  });
}
