// Worker side of the benchmark's data-parallel configuration (bench.mjs, `--workers N`): each pool
// worker (src/parallel/pool.ts) keeps a replica of the model and its share of the batch, and runs the
// same calls the single-process measurement makes, on its share. Training steps follow data-parallel
// SGD: every worker returns the gradient of its share (transferred, not copied), the main thread
// averages them in worker order and sends the average back, and every replica applies the same Adam
// step, so the replicas stay identical.
import * as tf from '@tensorflow/tfjs';
import { transfer } from '../dist/parallel/protocol.js';
import { buildModel } from './models.mjs';
import { logitsOf } from '../dist/model/classifier.js';
import { gradientAscent } from '../dist/attack/gradient-attack.js';
import { makeAdversarial, methodLoss } from '../dist/train/methods.js';
import { nativeNetworkOf } from '../dist/backend/native-network.js';
import { DEFAULTS } from '../dist/train/config.js';
import { fusedAdam } from '../dist/backend/fused-adam.js';
import { nativeWeightStep, weightStepNetwork } from '../dist/train/native-step.js';

let st = null;

function trainConfig(settings, method) {
  return { ...DEFAULTS, method, norm: 'linf', eps: settings.eps, attackSteps: settings.alpSteps, attackStepSize: settings.alpStepSize, lambda: settings.lambda, lr: settings.lr };
}

export const handlers = {
  /** { arch, weights: Float32Array[], settings } : builds the replica with the main thread's weights. */
  init({ arch, weights, settings }) {
    if (st) {
      tf.dispose([st.x, st.y]);
      st.model.dispose();
      for (const o of Object.values(st.opts)) o.dispose();
    }
    const model = buildModel(arch);
    model.setWeights(model.getWeights().map((w, i) => tf.tensor(weights[i], w.shape)));
    st = {
      model, settings, x: null, y: null,
      infer: logitsOf(model, false), train: logitsOf(model, true),
      vars: model.trainableWeights.map((w) => w.read()),
      opts: { standard: fusedAdam(settings.lr), alp: fusedAdam(settings.lr) },
      net: nativeNetworkOf(model),
    };
    return tf.memory().numTensors;
  },
  /** { x: Float32Array, y: Int32Array, n, shape: [H, W, C] } : this worker's share of the batch. */
  data({ x, y, n, shape }) {
    tf.dispose([st.x, st.y]);
    st.x = tf.tensor4d(x, [n, ...shape]);
    st.y = tf.tensor1d(y, 'int32');
    return n;
  },
  forward() {
    tf.tidy(() => {
      st.infer(st.x).dataSync();
    });
  },
  pgd() {
    const s = st.settings;
    const xa = gradientAscent(st.infer, st.x, st.y, { threat: { norm: 'linf', eps: s.eps }, steps: 1, stepSize: s.pgdStepSize, randomStart: false, loss: 'ce', targeted: false, seed: 1 });
    xa.dataSync();
    xa.dispose();
  },
  /** { method, seed } : the adversarial examples and the loss gradient of this share. */
  grads({ method, seed }) {
    const c = trainConfig(st.settings, method);
    // As the trainer runs it: per-example random starts, the native network where it covers the model.
    const n = st.y.shape[0];
    const s = { x: st.x, y: st.y, eps: c.eps, seed, rowSeeds: Int32Array.from({ length: n }, (_, i) => seed * 4096 + i) };
    const xAdv = makeAdversarial(method, st.infer, s, c, st.net);
    // The weight step where the trainer takes it: on the native network when it can train the model.
    const wnet = weightStepNetwork(st.net);
    if (wnet !== null) {
      const r = nativeWeightStep(wnet, st.model, s, xAdv, c);
      if (xAdv) xAdv.dispose();
      return transfer({ grads: r.grads, loss: r.loss }, r.grads.map((g) => g.buffer));
    }
    const { value, grads } = tf.variableGrads(() => methodLoss(method, st.train, s, xAdv, c).total, st.vars);
    const out = st.vars.map((v) => grads[v.name].dataSync()); // already a copy off the wasm heap
    const loss = value.dataSync()[0];
    tf.dispose([value, ...Object.values(grads), ...(xAdv ? [xAdv] : [])]);
    return transfer({ grads: out, loss }, out.map((g) => g.buffer));
  },
  /** { method, grads: Float32Array[] } : one optimizer step with the averaged gradient. */
  apply({ method, grads }) {
    const named = {};
    tf.tidy(() => {
      st.vars.forEach((v, i) => {
        named[v.name] = tf.tensor(grads[i], v.shape);
      });
      st.opts[method].applyGradients(named);
    });
    return null;
  },
  numTensors: () => tf.memory().numTensors,
};
