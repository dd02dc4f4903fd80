// Where the time of a madry-cnn PGD step / train step / ALP step goes, per TF.js kernel.
//
//   node bench/profile.mjs [--model madry-cnn] [--batch 64] [--reps 3] [--measure pgd-step,train-step,alp-step]
//
// Every kernel registered on the active backend is wrapped with a wall-clock timer (kernels of the
// wasm backend and alp's native kernels are synchronous, so this is their full cost); the remainder
// of each step ("outside kernels") is TF.js' JS work: the tape, gradient functions, tensor bookkeeping.
// Beside wall time it prints the process CPU time per kernel, which a loaded machine distorts less.
import * as tf from '@tensorflow/tfjs';
import { setupBackend } from '../dist/backend/select.js';
import { buildArch } from '../dist/model/architectures.js';
import { logitsOf } from '../dist/model/classifier.js';
import { gradientAscent } from '../dist/attack/gradient-attack.js';
import { makeAdversarial, methodLoss } from '../dist/train/methods.js';
import { DEFAULTS } from '../dist/train/config.js';
import { fusedAdam } from '../dist/backend/fused-adam.js';

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
      const c0 = process.cpuUsage();
      try {
        return inner(a);
      } finally {
        depth--;
        const c = process.cpuUsage(c0);
        const e = times.get(k.kernelName) ?? { ms: 0, cpu: 0, calls: 0 };
        e.ms += performance.now() - t0;
        e.cpu += (c.user + c.system) / 1000;
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
  const opt = fusedAdam(1e-3); // the trainer's optimizer
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
  const c0 = process.cpuUsage();
  for (let i = 0; i < reps; i++) f();
  const total = (performance.now() - t0) / reps;
  const cu = process.cpuUsage(c0);
  const totalCpu = (cu.user + cu.system) / 1000 / reps;
  active = false;
  const rows = [...times.entries()].map(([k, v]) => [k, v.ms / reps, v.cpu / reps, v.calls / reps]).sort((a, b) => b[2] - a[2]);
  const inKernels = rows.reduce((s, r) => s + r[1], 0);
  const inKernelsCpu = rows.reduce((s, r) => s + r[2], 0);
  console.log(`\n${name}: ${total.toFixed(1)} ms wall (${totalCpu.toFixed(1)} ms CPU) per step; kernels ${inKernels.toFixed(1)} ms wall (${inKernelsCpu.toFixed(1)} CPU), outside kernels ${(total - inKernels).toFixed(1)} ms wall (${(totalCpu - inKernelsCpu).toFixed(1)} CPU)`);
  console.log(`  ${'kernel'.padEnd(28)} ${'CPU ms'.padStart(8)} ${'%CPU'.padStart(6)} ${'wall ms'.padStart(8)}  calls`);
  for (const [k, ms, cpu, calls] of rows.slice(0, 25)) console.log(`  ${k.padEnd(28)} ${cpu.toFixed(2).padStart(8)} ${(100 * cpu / totalCpu).toFixed(1).padStart(5)}% ${ms.toFixed(2).padStart(8)}  ${calls.toFixed(0)}`);
}
