import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { useBackend } from '../testing/setup.js';
import { ARCH_NAMES, buildArch, HIDDEN_ACTIVATIONS, type ArchName } from './architectures.js';

const SHAPE: Record<ArchName, [number, number, number]> = {
  'madry-cnn': [28, 28, 1], 'fast-cnn': [28, 28, 1], 'wide-cnn': [28, 28, 1], mlp: [8, 8, 1], 'audio-cnn': [1, 256, 1], 'text-cnn': [16, 1, 1],
};

/** The activation each layer's config names (layers without one are left out). */
function activations(m: tf.LayersModel): Array<[string, string]> {
  return m.layers.flatMap((l) => {
    const a = (l.getConfig() as { activation?: string }).activation;
    return a === undefined ? [] : [[l.name, a] as [string, string]];
  });
}

test('every built architecture puts the chosen activation on its hidden layers, relu by default, and keeps its logits linear', async () => {
  await useBackend();
  for (const arch of ARCH_NAMES) {
    for (const activation of [undefined, ...HIDDEN_ACTIVATIONS]) {
      const m = buildArch(arch, { inputShape: SHAPE[arch], numClasses: 3, seed: 1, vocabularySize: 50, ...(activation !== undefined ? { activation } : {}) });
      const acts = activations(m);
      const [last, ...hidden] = [acts[acts.length - 1], ...acts.slice(0, -1)];
      assert.deepEqual(last, ['logits', 'linear'], `${arch}: logits last and linear`);
      assert.ok(hidden.length > 0, `${arch}: has hidden layers`);
      for (const [name, a] of hidden) assert.equal(a, activation ?? 'relu', `${arch} with ${activation ?? 'the default'}: layer ${name}`);
      m.dispose();
    }
  }
});
