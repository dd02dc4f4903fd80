// Where the time of a madry-cnn PGD step / train step / ALP step goes, per TF.js kernel.
//
//   node bench/profile.mjs [--model madry-cnn] [--batch 64] [--reps 3] [--measure pgd-step,train-step,alp-step]
//
// Every kernel registered on the active backend is wrapped with a wall-clock timer (kernels of the
// wasm backend and alp's native kernels are synchronous, so this is their full cost); the remainder
// of each step ("outside kernels") is TF.js' JS work: the tape, gradient functions, tensor bookkeeping.
import * as tf from '@tensorflow/tfjs';
import { setupBackend } from '../dist/backend/select.js';
import { buildArch } from '../dist/model/architectures.js';
import { logitsOf } from '../dist/model/classifier.js';
import { gradientAscent } from '../dist/attack/gradient-attack.js';
import { makeAdversarial, methodLoss } from '../dist/train/methods.js';
import { DEFAULTS } from '../dist/train/config.js';

const args = Object.fromEntries(process.argv.slice(2).reduce((acc, a, i, all) => (a.startsWith('--') ? [...acc, [a.slice(2), all[i + 1]]] : acc), []));
const model = args.model ?? 'madry-cnn';
const B = Number(args.batch ?? 64);
const reps = Number(args.reps ?? 3);
const measures = (args.measure ?? 'pgd-step,train-step,alp-step').split(',');

const backend = await setupBackend(process.env.ALP_BACKEND ?? 'auto');
const times = new Map();
let active = false;
let depth = 0;
for (const k of tf.getKernelsForBackend(backend)) {
  const inner = k.kernelFunc;
  tf.unregisterKernel(k.kernelName, backend);
  tf.registerKernel({
    ...k,
    kernelFunc: (a) => {
      if (!active || depth > 0) return inner(a);
      depth++;
      const t0 = performance.now();
      try {
        return inner(a);
      } finally {
        depth--;
        const e = times.get(k.kernelName) ?? { ms: 0, calls: 0 };
        e.ms += performance.now() - t0;
        e.calls++;
        times.set(k.kernelName, e);
      }
    },
  });
}

const m = buildArch(model, { inputShape: [28, 28, 1], numClasses: 10, seed: 1 });
const infer = logitsOf(m, false);
const train = logitsOf(m, true);
const vars = m.trainableWeights.map((w) => w.read());
const x = tf.randomUniform([B, 28, 28, 1], 0, 1, 'float32', 1);
const y = tf.tensor1d(Array.from({ length: B }, (_, i) => i % 10), 'int32');
const EPS = 0.3;
const steps = {
  'pgd-step': () => {
    const xa = gradientAscent(infer, x, y, { threat: { norm: 'linf', eps: EPS }, steps: 1, stepSize: 0.01, randomStart: false, loss: 'ce', targeted: false, seed: 1 });
    xa.dataSync();
    xa.dispose();
  },
};
for (const [key, method] of [['train-step', 'standard'], ['alp-step', 'alp']]) {
  const c = { ...DEFAULTS, method, norm: 'linf', eps: EPS, attackSteps: 10, attackStepSize: 0.075, lambda: 0.5, lr: 1e-3 };
  const opt = tf.train.adam(1e-3);
  let seed = 1;
  steps[key] = () => {
    const s = { x, y, eps: EPS, seed: seed++ };
    const xAdv = makeAdversarial(method, infer, s, c);
    const cost = opt.minimize(() => methodLoss(method, train, s, xAdv, c).total, true, vars);
    cost.dataSync();
    tf.dispose([cost, ...(xAdv ? [xAdv] : [])]);
  };
}
console.log(`profile: ${model}, batch ${B}, backend ${backend}, ${reps} reps after 1 warm-up; load ${(await import('node:os')).loadavg().map((v) => v.toFixed(2)).join(' ')}`);
for (const name of measures) {
  const f = steps[name];
  f();
  times.clear();
  active = true;
  const t0 = performance.now();
  for (let i = 0; i < reps; i++) f();
  const total = (performance.now() - t0) / reps;
  active = false;
  const rows = [...times.entries()].map(([k, v]) => [k, v.ms / reps, v.calls / reps]).sort((a, b) => b[1] - a[1]);
  const inKernels = rows.reduce((s, r) => s + r[1], 0);
  console.log(`\n${name}: ${total.toFixed(1)} ms per step; kernels ${inKernels.toFixed(1)} ms, outside kernels ${(total - inKernels).toFixed(1)} ms`);
  for (const [k, ms, calls] of rows.slice(0, 25)) console.log(`  ${k.padEnd(28)} ${ms.toFixed(2).padStart(8)} ms ${(100 * ms / total).toFixed(1).padStart(5)}%  ${calls.toFixed(0)} calls`);
}
