import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { tempDir } from '../testing/files.js';
import { toyDataset, useBackend } from '../testing/setup.js';
import { resolveConfig } from '../train/config.js';
import { trainModel } from '../train/trainer.js';
import { Rng } from '../util/rng.js';
import { loadModel, saveModel } from '../model/io.js';
import { AlpBatchNormalization } from './batch-normalization.js';
import { checkInputGradient } from '../model/gradient-check.js';

/** A model as a user would save it with plain TF.js: BatchNormalization without center or scale. */
function userModel(center: boolean, scale: boolean): tf.LayersModel {
  const m = tf.sequential({
    layers: [
      tf.layers.conv2d({ inputShape: [4, 4, 1], filters: 2, kernelSize: 2, kernelInitializer: tf.initializers.glorotUniform({ seed: 1 }) }),
      tf.layers.batchNormalization({ center, scale, movingVarianceInitializer: tf.initializers.constant({ value: 0.7 }), movingMeanInitializer: tf.initializers.constant({ value: 0.1 }) }),
      tf.layers.flatten(),
      tf.layers.dense({ units: 3, kernelInitializer: tf.initializers.glorotUniform({ seed: 2 }) }),
    ],
  });
  return m;
}

function movingMean(bn: tf.layers.Layer): Float32Array {
  const v = bn.weights.find((w) => w.name.includes('moving_mean'));
  if (v === undefined) throw new Error('no moving_mean weight');
  return v.read().dataSync() as Float32Array;
}

function images(n: number, seed: number): tf.Tensor4D {
  const rng = new Rng(seed);
  return tf.tensor4d(Float32Array.from({ length: n * 16 }, () => rng.next()), [n, 4, 4, 1]);
}

test('plain TF.js cannot differentiate or train BatchNormalization without center (the upstream bug this fixes)', async () => {
  await useBackend();
  const m = userModel(false, true); // built with TF.js' own class
  const x = images(2, 1);
  assert.throws(() => tf.grad((t: tf.Tensor) => tf.sum(m.apply(t) as tf.Tensor))(x));
  assert.throws(() => m.apply(x, { training: true }));
  tf.dispose(x);
});

for (const [center, scale] of [[false, true], [true, false], [false, false]] as const) {
  test(`a model.json with BatchNormalization(center: ${center}, scale: ${scale}) loads, differentiates exactly and trains`, async (t) => {
    await useBackend();
    const dir = tempDir(t, 'alp-bn-');
    const saved = userModel(center, scale);
    await saveModel(saved, dir);
    const model = await loadModel(dir);
    const bn = model.layers[1] as tf.layers.Layer;
    assert.ok(bn instanceof AlpBatchNormalization, 'loaded as alp\'s BatchNormalization');
    // Same outputs as TF.js' layer in inference mode, where TF.js' forward pass works.
    const x = images(4, 2);
    const d = tf.tidy(() => tf.max(tf.abs(tf.sub(model.predict(x) as tf.Tensor, saved.predict(x) as tf.Tensor))).dataSync()[0] as number);
    assert.ok(d < 1e-5, `outputs differ from TF.js' by ${d}`);

    // Inference-mode input gradient (what attacks use), one example.
    const one = images(1, 3);
    const r = checkInputGradient((t) => model.apply(t, { training: false }) as tf.Tensor, one);
    assert.ok(r.ok, `inference gradient off by ${r.maxError} (alp ${r.worst.alp}, reference ${r.worst.reference})`);
    // Training-mode gradient through the batch statistics: the batch is perturbed as a whole.
    const batch = images(3, 4);
    const rt = checkInputGradient((t) => model.apply(t, { training: true }) as tf.Tensor, batch, { batched: false });
    assert.ok(rt.ok && rt.compared >= 36, `training-mode gradient off by ${rt.maxError} (${rt.compared} coordinates compared)`);

    // Training: the loss falls, the moving statistics move, trainable γ/β are exactly those present.
    const names = model.trainableWeights.filter((w) => w.name.includes('batch_normalization')).map((w) => (w.name.split('/').pop() ?? '').replace(/_\d+$/, ''));
    assert.deepEqual(names.sort(), [...(scale ? ['gamma'] : []), ...(center ? ['beta'] : [])].sort());
    const meanBefore = movingMean(bn).slice();
    const y = tf.oneHot(tf.tensor1d([0, 1, 2, 0], 'int32'), 3);
    const opt = tf.train.adam(0.05);
    const vars = model.trainableWeights.map((v) => v.read() as tf.Variable);
    const loss = (): tf.Scalar => tf.losses.softmaxCrossEntropy(y, model.apply(x, { training: true }) as tf.Tensor) as tf.Scalar;
    const first = tf.tidy(() => loss().dataSync()[0] as number);
    for (let s = 0; s < 30; s++) tf.tidy(() => { opt.minimize(loss, false, vars); });
    const last = tf.tidy(() => loss().dataSync()[0] as number);
    assert.ok(last < first * 0.7, `training did not reduce the loss: ${first} → ${last}`);
    const meanAfter = movingMean(bn);
    assert.ok(Math.abs((meanAfter[0] as number) - (meanBefore[0] as number)) > 1e-4, 'moving mean did not update');
    opt.dispose();
    tf.dispose([x, one, batch, y]);

    // Saving again writes the standard class name: plain TF.js still loads the file.
    const dir2 = join(dir, 'again');
    await saveModel(model, dir2);
    const json = JSON.parse(readFileSync(join(dir2, 'model.json'), 'utf8')) as { modelTopology: { config: { layers: Array<{ class_name: string }> } } };
    assert.equal(json.modelTopology.config.layers[1]?.class_name, 'BatchNormalization');
  });
}

test("alp's own ALP training runs on a loaded model with BatchNormalization(center: false) and lowers its loss", async (t) => {
  await useBackend();
  const dir = tempDir(t, 'alp-bn-train-');
  const user = tf.sequential({ layers: [
    tf.layers.conv2d({ inputShape: [6, 6, 1], filters: 4, kernelSize: 3, padding: 'same', kernelInitializer: tf.initializers.glorotUniform({ seed: 5 }) }),
    tf.layers.batchNormalization({ center: false }),
    tf.layers.activation({ activation: 'relu' }),
    tf.layers.averagePooling2d({ poolSize: 2, padding: 'same' }),
    tf.layers.flatten(),
    tf.layers.dense({ units: 4, kernelInitializer: tf.initializers.glorotUniform({ seed: 6 }) }),
  ] });
  await saveModel(user, dir);
  const model = await loadModel(dir);
  const c = resolveConfig(undefined, {
    method: 'alp', epochs: 3, batchSize: 16, eps: 0.1, attackSteps: 2, attackStepSize: 0.05,
    lr: 0.01, schedule: 'constant', epsRampEpochs: 0, evalEvery: 0, seed: 3,
  });
  const state = await trainModel(model, toyDataset(96, 5), null, c);
  const losses = state.epochs.map((e) => e.loss);
  assert.equal(losses.length, 3);
  assert.ok(losses.every(Number.isFinite) && (losses[2] as number) < (losses[0] as number), `losses ${losses.join(', ')}`);
});
