// The native convolution kernels on the layer shapes of the bench's models, one at a time: forward,
// input gradient and filter gradient, GFLOP/s beside the sgemm peak of the same run. Where a model's
// step spends its convolution time, and what a change to one kernel buys, without the rest of the step.
//
//   node bench/conv-layers.mjs [--batch 64] [--threads 1] [--reps 9] [--shapes resnet20|mobilenet|mnist|all]
import { createRequire } from 'node:module';
import { cpus } from 'node:os';

const require = createRequire(import.meta.url);
const native = require('../native/index.cjs');

const args = process.argv.slice(2);
const opt = (name, fallback) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && args[i + 1] !== undefined ? args[i + 1] : fallback;
};
const batch = Number(opt('batch', '64'));
const threads = Number(opt('threads', '1'));
const reps = Number(opt('reps', '9'));
const which = opt('shapes', 'resnet20');

// [name, H, W, Ci, K, Co, stride, padding]: the convolutions of bench/models.mjs' networks (32×32×3 input).
const SHAPES = {
  resnet20: [
    ['stem 3→16', 32, 32, 3, 3, 16, 1, 'same'],
    ['stage 1 16→16', 32, 32, 16, 3, 16, 1, 'same'],
    ['stage 2 in 16→32 /2', 32, 32, 16, 3, 32, 2, 'same'],
    ['stage 2 32→32', 16, 16, 32, 3, 32, 1, 'same'],
    ['shortcut 1x1 16→32 /2', 32, 32, 16, 1, 32, 2, 'same'],
    ['stage 3 in 32→64 /2', 16, 16, 32, 3, 64, 2, 'same'],
    ['stage 3 64→64', 8, 8, 64, 3, 64, 1, 'same'],
  ],
  mobilenet: [
    ['stem 3→32', 32, 32, 3, 3, 32, 1, 'same'],
    ['pointwise 32→64', 32, 32, 32, 1, 64, 1, 'same'],
    ['pointwise 128→128', 16, 16, 128, 1, 128, 1, 'same'],
    ['pointwise 256→256', 8, 8, 256, 1, 256, 1, 'same'],
  ],
  // alp's own MNIST networks (28×28×1): fast-cnn (the demo), wide-cnn (mnist-robust), madry-cnn.
  mnist: [
    ['fast-cnn 1→16 4x4 /2', 28, 28, 1, 4, 16, 2, 'same'],
    ['fast-cnn 16→32 4x4 /2', 14, 14, 16, 4, 32, 2, 'same'],
    ['wide-cnn 1→32 4x4 /2', 28, 28, 1, 4, 32, 2, 'same'],
    ['wide-cnn 32→64 4x4 /2', 14, 14, 32, 4, 64, 2, 'same'],
    ['madry-cnn 1→32 5x5', 28, 28, 1, 5, 32, 1, 'same'],
    ['madry-cnn 32→64 5x5', 14, 14, 32, 5, 64, 1, 'same'],
  ],
};
const shapes = which === 'all' ? [...SHAPES.resnet20, ...SHAPES.mobilenet, ...SHAPES.mnist] : SHAPES[which];
if (shapes === undefined) throw new Error(`--shapes: expected resnet20, mobilenet, mnist or all, got ${which}`);

let seed = 1;
const rand = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32) - 0.5;
const time = (fn) => {
  for (let i = 0; i < 2; i++) fn();
  const t = [];
  for (let i = 0; i < reps; i++) {
    const t0 = process.hrtime.bigint();
    fn();
    t.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  return t.sort((a, b) => a - b)[Math.floor(t.length / 2)];
};

native.setNumThreads(threads);
const n = 1024, a = Float32Array.from({ length: n * n }, rand), b = Float32Array.from({ length: n * n }, rand), c = new Float32Array(n * n);
const peak = (2 * n ** 3) / time(() => native.sgemm(false, false, n, n, n, a, b, c, false)) / 1e6;
// ALP_NATIVE_DIRECT_CONV: unset, the addon's choice (direct kernels for ≤ 32 output channels on AVX2,
// ≤ 64 on AVX-512); 0, im2col + GEMM everywhere; 1, the direct kernels wherever they apply (a multiple
// of 8 channels). ALP_NATIVE_AVX512=0 keeps them on AVX2. OPENBLAS_CORETYPE caps OpenBLAS' kernels.
const direct = { '0': 'im2col+GEMM', '1': 'direct wherever it applies' }[process.env.ALP_NATIVE_DIRECT_CONV ?? ''] ?? 'default';
console.log(`${new Date().toISOString()} · ${cpus()[0]?.model ?? 'CPU'} · batch ${batch} · ${threads} thread(s) · median of ${reps} · kernels ${direct} ` +
  `(direct on ${native.convKernels()}) · sgemm 1024³ ${peak.toFixed(1)} GFLOP/s${process.env.OPENBLAS_CORETYPE ? ` (OPENBLAS_CORETYPE=${process.env.OPENBLAS_CORETYPE})` : ''}`);
console.log(`${'layer'.padEnd(24)} ${'forward'.padStart(16)} ${'input grad'.padStart(16)} ${'filter grad'.padStart(16)}   (ms · GFLOP/s)`);
const total = [0, 0, 0];
for (const [name, H, W, Ci, K, Co, s, padding] of shapes) {
  const OH = padding === 'same' ? Math.ceil(H / s) : Math.floor((H - K) / s) + 1;
  const OW = padding === 'same' ? Math.ceil(W / s) : Math.floor((W - K) / s) + 1;
  const padH = padding === 'same' ? Math.max((OH - 1) * s + K - H, 0) : 0;
  const padW = padding === 'same' ? Math.max((OW - 1) * s + K - W, 0) : 0;
  const pT = Math.floor(padH / 2), pL = Math.floor(padW / 2);
  const x = Float32Array.from({ length: batch * H * W * Ci }, rand);
  const w = Float32Array.from({ length: K * K * Ci * Co }, rand);
  const dy = Float32Array.from({ length: batch * OH * OW * Co }, rand);
  const out = new Float32Array(dy.length), dx = new Float32Array(x.length), dw = new Float32Array(w.length);
  const flops = 2 * batch * OH * OW * Co * K * K * Ci;
  const ms = [
    time(() => native.conv2d(x, batch, H, W, Ci, w, K, K, Co, out, OH, OW, s, s, pT, pL, null, false)),
    time(() => native.conv2dBackpropInput(dy, batch, OH, OW, Co, w, K, K, Ci, dx, H, W, s, s, pT, pL)),
    time(() => native.conv2dBackpropFilter(x, batch, H, W, Ci, dy, OH, OW, Co, dw, K, K, s, s, pT, pL)),
  ];
  ms.forEach((m, i) => (total[i] += m));
  console.log(`${name.padEnd(24)} ${ms.map((m) => `${m.toFixed(2).padStart(7)} · ${(flops / m / 1e6).toFixed(0).padStart(4)}`.padStart(16)).join(' ')}`);
}
console.log(`${'one of each'.padEnd(24)} ${total.map((m) => `${m.toFixed(2).padStart(7)} ms`.padStart(16)).join(' ')}`);
