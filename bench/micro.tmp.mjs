import * as tf from '@tensorflow/tfjs';
import { setupBackend } from '../dist/backend/select.js';
await setupBackend('auto');
for (const shape of [[64,28,28,32],[64,14,14,64],[128,14,14,64],[32,28,28,32]]) {
  const a = tf.randomUniform(shape), b = tf.randomUniform(shape);
  for (let i = 0; i < 3; i++) tf.mul(a, b).dispose();
  let t0 = performance.now(); for (let i = 0; i < 10; i++) tf.mul(a, b).dispose(); const tm = (performance.now() - t0) / 10;
  t0 = performance.now(); for (let i = 0; i < 10; i++) { const c = tf.mul(a, b); const d = tf.mul(c, b); c.dispose(); d.dispose(); } const t2 = (performance.now() - t0) / 10;
  console.log(JSON.stringify(shape), tm.toFixed(2), 'ms mul;', t2.toFixed(2), 'ms two muls live');
  tf.dispose([a, b]);
}
