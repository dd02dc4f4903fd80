import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { UserError } from '../util/errors.js';
import { Pgd } from '../attack/pgd.js';
import { logitsOf } from './classifier.js';
import { adaptModel, parseInputRange } from './adapt.js';

before(async () => {
  await tf.setBackend('cpu');
});

/** A flat MLP trained (by construction) on inputs in [-1,1]: logits = W·x with fixed weights. */
function flatMlp(seed = 3): tf.LayersModel {
  return tf.sequential({
    layers: [tf.layers.dense({ inputShape: [36], units: 4, kernelInitializer: tf.initializers.glorotUniform({ seed }) })],
  });
}

test('a flat model with another input range computes the same logits through the adapter', () => {
  const bare = flatMlp();
  const { model, changes } = adaptModel(bare, [6, 6, 1], { inputRange: [-1, 1] });
  assert.deepEqual(changes, ['reshape [6,6,1] → [36]', 'rescale [0,1] → [-1,1]']);
  const x = tf.randomUniform([5, 6, 6, 1], 0, 1, 'float32', 7);
  const want = bare.predict(tf.sub(tf.mul(x, 2), 1).reshape([5, 36])) as tf.Tensor;
  const got = model.predict(x) as tf.Tensor;
  assert.deepEqual(got.shape, [5, 4]);
  const diff = tf.max(tf.abs(tf.sub(got, want))).dataSync()[0] as number;
  assert.ok(diff < 1e-5, `max |Δlogit| = ${diff}`);
  // The weights are shared, not copied: training the adapter trains the user's model.
  assert.equal(model.trainableWeights.length, bare.trainableWeights.length);
  tf.dispose([x, want, got]);
});

test('a model that already takes [0,1] NHWC inputs is used as is', () => {
  const m = tf.sequential({ layers: [tf.layers.flatten({ inputShape: [6, 6, 1] }), tf.layers.dense({ units: 4 })] });
  const a = adaptModel(m, [6, 6, 1], { inputRange: [0, 1] });
  assert.equal(a.model, m);
  assert.deepEqual(a.changes, []);
});

test('ε is measured in [0,1] units: an attack on the adapted model stays in the [0,1] ball', () => {
  const { model } = adaptModel(flatMlp(), [6, 6, 1], { inputRange: [0, 255] });
  const x = tf.randomUniform([8, 6, 6, 1], 0.2, 0.8, 'float32', 1);
  const y = tf.tensor1d([0, 1, 2, 3, 0, 1, 2, 3], 'int32');
  const r = new Pgd({ threat: { norm: 'linf', eps: 0.05 }, steps: 5, stepSize: 0.02, seed: 1 }).run(logitsOf(model), x, y);
  const linf = tf.max(tf.abs(tf.sub(r.adversarial, x))).dataSync()[0] as number;
  assert.ok(linf <= 0.05 + 1e-6 && linf > 0.04, `‖δ‖∞ = ${linf}`);
  tf.dispose([x, y, r.adversarial]);
});

test('shapes that no reshape fixes, and bad ranges, are clear errors', () => {
  assert.throws(() => adaptModel(flatMlp(), [28, 28, 1], { source: 'm/model.json', dataName: 'mnist' }),
    (e: unknown) => e instanceof UserError && /m\/model\.json: model input shape \[36\] does not match mnist inputs \[28,28,1\] \(nor their 784 values flattened\)/.test(e.message));
  assert.throws(() => parseInputRange('1,-1'), / inputRange: expected LO,HI with LO < HI/);
  assert.throws(() => parseInputRange('0'), /got '0'/);
  assert.deepEqual(parseInputRange(' -1, 1'), [-1, 1]);
  assert.deepEqual(parseInputRange('0,255'), [0, 255]);
});
