import * as tf from '@tensorflow/tfjs';
import { setupBackend } from '../dist/backend/select.js';
import { buildArch } from '../dist/model/architectures.js';
import { logitsOf } from '../dist/model/classifier.js';
import { gradientAscent } from '../dist/attack/gradient-attack.js';
const backend = await setupBackend('auto');
const watch = process.argv.slice(2);
const acc = new Map();
let on = false;
for (const k of tf.getKernelsForBackend(backend)) {
  if (!watch.includes(k.kernelName)) continue;
  const inner = k.kernelFunc;
  tf.unregisterKernel(k.kernelName, backend);
  tf.registerKernel({ ...k, kernelFunc: (a) => { const t0 = performance.now(); const r = inner(a); if (on) { const key = `${k.kernelName} ${Object.values(a.inputs).map(t => JSON.stringify(t.shape) + t.dtype).join(' ')} ${JSON.stringify(a.attrs ?? {}).slice(0, 80)}`; const e = acc.get(key) ?? [0, 0]; e[0] += performance.now() - t0; e[1]++; acc.set(key, e); } return r; } });
}
const m = buildArch('madry-cnn', { inputShape: [28, 28, 1], numClasses: 10, seed: 1 });
const infer = logitsOf(m, false);
const x = tf.randomUniform([64, 28, 28, 1]); const y = tf.tensor1d(Array.from({ length: 64 }, (_, i) => i % 10), 'int32');
const go = () => gradientAscent(infer, x, y, { threat: { norm: 'linf', eps: 0.3 }, steps: 1, stepSize: 0.01, randomStart: false, loss: 'ce', targeted: false, seed: 1 }).dispose();
go(); on = true; for (let i = 0; i < 5; i++) go();
for (const [k, v] of [...acc].sort((a, b) => b[1][0] - a[1][0])) console.log((v[0] / 5).toFixed(2), 'ms', v[1] / 5, k);
