import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { useBackend } from '../testing/setup.js';
import { loadModel, saveModel } from '../model/io.js';
import { AlpLayerNormalization } from './layer-normalization.js';
import { checkInputGradient } from '../model/gradient-check.js';

test('a model.json with LayerNormalization without center/scale loads as a differentiable layer', async () => {
  await useBackend();
  const dir = mkdtempSync(join(tmpdir(), 'alp-ln-'));
  try {
    const saved = tf.sequential({ layers: [
      tf.layers.dense({ inputShape: [5], units: 4, kernelInitializer: tf.initializers.glorotUniform({ seed: 3 }) }),
      tf.layers.layerNormalization({ center: false, scale: false }),
      tf.layers.dense({ units: 3, kernelInitializer: tf.initializers.glorotUniform({ seed: 4 }) }),
    ] });
    const x = tf.tensor2d([[0.1, -0.4, 0.3, 0.8, -0.2]]);
    // Plain TF.js cannot differentiate it (the upstream bug this fixes).
    assert.throws(() => tf.grad((t: tf.Tensor) => tf.sum(saved.apply(t) as tf.Tensor))(x));
    await saveModel(saved, dir);
    const model = await loadModel(dir);
    assert.ok(model.layers[1] instanceof AlpLayerNormalization);
    const d = tf.tidy(() => tf.max(tf.abs(tf.sub(model.predict(x) as tf.Tensor, saved.predict(x) as tf.Tensor))).dataSync()[0] as number);
    assert.ok(d < 1e-5, `outputs differ from TF.js' by ${d}`);
    const r = checkInputGradient((t) => model.apply(t) as tf.Tensor, x);
    assert.ok(r.ok, `gradient off by ${r.maxError}`);
    x.dispose();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
