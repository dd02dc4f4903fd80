import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { useBackend } from '../testing/setup.js';
import { crossEntropy, crossEntropyPerExample } from './cross-entropy.js';
import { cleanLogitPairing, logitPairing } from './logit-pairing.js';
import { logitSqueezing } from './logit-squeezing.js';
import { klPerExample, tradesKl } from './trades.js';
import { margin } from '../attack/objectives.js';

const close = (a: number, b: number, tol = 1e-5): void => assert.ok(Math.abs(a - b) <= tol, `${a} vs ${b}`);

test('losses match hand-computed values', async () => {
  await useBackend();
  const z = tf.tensor2d([[2, 0, -1], [0.5, 0.5, 3]]);
  const y = tf.tensor1d([0, 1], 'int32');
  // CE = logsumexp(z) - z_y
  const lse0 = Math.log(Math.exp(2) + 1 + Math.exp(-1));
  const lse1 = Math.log(2 * Math.exp(0.5) + Math.exp(3));
  const per = crossEntropyPerExample(z, y).arraySync();
  close(per[0] as number, lse0 - 2);
  close(per[1] as number, lse1 - 0.5);
  close(crossEntropy(z, y).arraySync(), (lse0 - 2 + lse1 - 0.5) / 2);

  // Pairing: mean over B·K elements of the squared difference (official ALP code's MSE).
  const za = tf.tensor2d([[1, 0, 0], [0.5, 1.5, 1]]);
  const expectedLp = (1 + 0 + 1 + 0 + 1 + 4) / 6;
  close(logitPairing(z, za).arraySync(), expectedLp);

  // CLP pairs the first half of the batch with the second half.
  close(cleanLogitPairing(z).arraySync(), ((2 - 0.5) ** 2 + (0 - 0.5) ** 2 + (-1 - 3) ** 2) / 3);

  // Squeezing: mean squared logit.
  close(logitSqueezing(z).arraySync(), (4 + 0 + 1 + 0.25 + 0.25 + 9) / 6);

  // KL(p||q) for identical logits is 0, and matches the definition otherwise.
  close(tradesKl(z, z).arraySync(), 0);
  const p = [Math.exp(2 - lse0), Math.exp(0 - lse0), Math.exp(-1 - lse0)];
  const lseA = Math.log(Math.exp(1) + 2);
  const q = [Math.exp(1 - lseA), Math.exp(-lseA), Math.exp(-lseA)];
  const kl0 = p.reduce((s, pi, i) => s + pi * Math.log(pi / (q[i] as number)), 0);
  close(klPerExample(z, za).arraySync()[0] as number, kl0);

  // CW margin: best other logit minus the true one.
  const m = margin(z, y).arraySync();
  close(m[0] as number, 0 - 2);
  close(m[1] as number, 3 - 0.5);
});

test('the pairing term has the analytic gradient 2(z−z′)/(B·K), checked numerically', async () => {
  await useBackend();
  const a = tf.tensor2d([[0.3, -1.2, 2.0], [1.1, 0.4, -0.7]]);
  const b = tf.tensor2d([[0.1, 0.5, 1.0], [-0.3, 0.9, 0.2]]);
  const g = tf.grad((t: tf.Tensor) => logitPairing(t as tf.Tensor2D, b))(a).arraySync() as number[][];
  const av = a.arraySync();
  const bv = b.arraySync();
  const h = 1e-2;
  for (let i = 0; i < 2; i++) {
    for (let j = 0; j < 3; j++) {
      const plus = av.map((r) => [...r]);
      const minus = av.map((r) => [...r]);
      const p = plus[i] as number[], m = minus[i] as number[];
      p[j] = (p[j] as number) + h;
      m[j] = (m[j] as number) - h;
      const numeric = (logitPairing(tf.tensor2d(plus), b).arraySync() - logitPairing(tf.tensor2d(minus), b).arraySync()) / (2 * h);
      const analytic = (2 * (((av[i] as number[])[j] as number) - ((bv[i] as number[])[j] as number))) / 6;
      close(g[i]?.[j] as number, analytic, 1e-5);
      close(g[i]?.[j] as number, numeric, 1e-3);
    }
  }
});
