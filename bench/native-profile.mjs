// Where a step of the native network (src/backend/native-network.ts) spends its time, by kind of layer:
// each step's forward and backward pass timed in place, for the input gradient (a PGD step) and the
// training step (training-mode forward, backward to every weight). bench/profile.mjs times TF.js'
// kernels, which a model on the native network no longer runs.
//
// The ALP step is the trainer's (train/methods.ts makeAdversarial: PGD-10 from per-example random starts
// on the native gradient source; train/native-step.ts: the weight step on [x; x']), so its time outside
// the layers' steps is what the attack loop and the loss add around the network.
//
//   node bench/native-profile.mjs [--model resnet20] [--batch 64] [--reps 5]
import { cpus } from 'node:os';
import * as tf from '@tensorflow/tfjs';
import { setupBackend } from '../dist/backend/select.js';
import { nativeNetworkOf } from '../dist/backend/native-network.js';
import { logitsOf } from '../dist/model/classifier.js';
import { DEFAULTS } from '../dist/train/config.js';
import { makeAdversarial } from '../dist/train/methods.js';
import { nativeWeightStep } from '../dist/train/native-step.js';
import { buildModel, inputShapeOf } from './models.mjs';

const args = Object.fromEntries(process.argv.slice(2).reduce((acc, a, i, all) => (a.startsWith('--') ? [...acc, [a.slice(2), all[i + 1]]] : acc), []));
const name = args.model ?? 'resnet20';
const batch = Number(args.batch ?? 64);
const reps = Number(args.reps ?? 5);

await setupBackend('auto');
const model = buildModel(name);
const net = nativeNetworkOf(model);
if (net === null) throw new Error(`${name}: not on the native network`);
net.load();

// The kind of each step: its layer's class, and the activation for an activation step of a layer.
const kindOf = new Map(model.layers.map((l) => [l.name, l.getClassName()]));
const spent = new Map();
const timed = (key, fn) => {
  const t0 = process.hrtime.bigint();
  const r = fn();
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  spent.set(key, (spent.get(key) ?? 0) + ms);
  return r;
};
for (const s of net.steps) {
  // Step names are `layer@node`, and `layer@node:activation` for an activation step of its own.
  const layer = s.layer.split('@')[0], act = s.layer.split(':')[1];
  const kind = `${kindOf.get(layer) ?? layer}${act !== undefined ? ` (${act})` : ''}`;
  const { forward, backward } = s;
  s.forward = (...a) => timed(`${kind} forward`, () => forward.apply(s, a));
  s.backward = (...a) => timed(`${kind} backward`, () => backward.apply(s, a));
}

const [h, w, c] = inputShapeOf(name);
let seed = 7;
const rand = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32);
const x = Float32Array.from({ length: batch * h * w * c }, rand);
const labels = Int32Array.from({ length: batch }, (_, i) => i % net.classes);
const dz = Float32Array.from({ length: batch * net.classes }, () => (rand() - 0.5) / batch);

const measure = (label, step) => {
  step();
  spent.clear();
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < reps; i++) step();
  const total = Number(process.hrtime.bigint() - t0) / 1e6 / reps;
  const rows = [...spent.entries()].map(([k, v]) => [k, v / reps]).sort((a, b) => b[1] - a[1]);
  const inSteps = rows.reduce((a, r) => a + r[1], 0);
  console.log(`\n${label}: ${total.toFixed(1)} ms per step of ${batch} (${((batch * 1000) / total).toFixed(0)} examples/s), ${(total - inSteps).toFixed(1)} ms outside the layers' steps`);
  for (const [k, v] of rows) console.log(`  ${k.padEnd(34)} ${v.toFixed(2).padStart(8)} ms ${((100 * v) / total).toFixed(1).padStart(5)}%`);
};

console.log(`${new Date().toISOString()} · ${cpus()[0]?.model ?? 'CPU'} · ${name} · batch ${batch} · mean of ${reps} · native threads ${process.env.ALP_NATIVE_THREADS ?? 'default'} · tfjs ${tf.version.tfjs}`);
measure('input gradient (PGD step)', () => net.inputGradient(x, labels, batch));
measure('training step (forward in training mode, backward to every weight)', () => {
  net.trainLogits(x, batch);
  net.weightGradients(dz, batch);
});
const config = { ...DEFAULTS, method: 'alp', norm: 'linf', eps: 8 / 255, attackSteps: 10, attackStepSize: 2 / 255 };
const xt = tf.tensor4d(x, [batch, h, w, c]), yt = tf.tensor1d(labels, 'int32');
const infer = logitsOf(model, false);
let round = 0;
measure('ALP step (PGD-10 on the batch, then the weight step on [x; x\'])', () => {
  round++;
  const s = { x: xt, y: yt, eps: config.eps, seed: round, rowSeeds: Int32Array.from({ length: batch }, (_, i) => round * 4096 + i) };
  const adv = makeAdversarial('alp', infer, s, config, net);
  nativeWeightStep(net, model, s, adv, config);
  adv.dispose();
});
