import * as tf from '@tensorflow/tfjs';
import { setupBackend } from '/work/wt/perf/dist/backend/select.js';
import { buildArch } from '/work/wt/perf/dist/model/architectures.js';
import { logitsOf } from '/work/wt/perf/dist/model/classifier.js';
import { gradientAscent } from '/work/wt/perf/dist/attack/gradient-attack.js';
const backend = await setupBackend('auto');
const watch = process.argv[2];
const stacks = new Map();
let on = false;
for (const k of tf.getKernelsForBackend(backend)) {
  if (k.kernelName !== watch) continue;
  const inner = k.kernelFunc;
  tf.unregisterKernel(k.kernelName, backend);
  tf.registerKernel({ ...k, kernelFunc: (a) => { if (on) { const s = new Error().stack.split('\n').slice(2, 9).map(l => l.trim().replace(/\(.*node_modules\//, '(').replace(/\?.*$/, '')).join(' < '); const key = `${JSON.stringify(a.inputs.x?.shape ?? Object.values(a.inputs)[0]?.shape)} ${s}`; stacks.set(key, (stacks.get(key) ?? 0) + 1);} return inner(a); } });
}
const m = buildArch('madry-cnn', { inputShape: [28, 28, 1], numClasses: 10, seed: 1 });
const infer = logitsOf(m, false);
const x = tf.randomUniform([64, 28, 28, 1]); const y = tf.tensor1d(Array.from({ length: 64 }, (_, i) => i % 10), 'int32');
on = true;
const xa = gradientAscent(infer, x, y, { threat: { norm: 'linf', eps: 0.3 }, steps: 1, stepSize: 0.01, randomStart: false, loss: 'ce', targeted: false, seed: 1 });
for (const [k, v] of stacks) console.log(v, k, '\n');
