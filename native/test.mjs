// Standalone correctness test + quick timing for the native kernels.
//   node native/test.mjs            all checks, then the chunked re-run, then timings
//   node native/test.mjs --no-speed skip the timings
// Every native result is compared with a float64 JS reference; the error of
// each element must be <= 1e-4 * (sum of |terms| for that element) + 1e-6,
// i.e. relative 1e-4 with respect to the magnitude of what was summed.
import { createRequire } from 'node:module';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const require = createRequire(import.meta.url);
const native = require('./index.cjs');
const args = new Set(process.argv.slice(2));
const CHILD = args.has('--child'); // re-run of the kernel checks with tiny scratch chunks
const DIGEST = args.has('--digest'); // print the direct kernels' output bits (testVectorWidths) and exit

if (!native) {
  console.log('alp native test: addon not built (run `npm run build:native`); nothing to test');
  process.exit(process.env.ALP_NATIVE_REQUIRED ? 1 : 0);
}

let failures = 0;
let checks = 0;
function fail(msg) {
  failures++;
  console.error('FAIL ' + msg);
}

// ---------------------------------------------------------------- helpers --

let seed = 12345;
function rand() {
  // xorshift32, deterministic
  seed ^= seed << 13;
  seed >>>= 0;
  seed ^= seed >>> 17;
  seed ^= seed << 5;
  seed >>>= 0;
  return seed / 4294967296;
}
const randn = () => rand() * 2 - 1;

// All arrays are views at odd offsets into one big buffer (by default a
// WebAssembly.Memory, like the wasm heap), with guard cells around each view
// to catch out-of-bounds writes.
const GUARD = 7;
const SENTINEL = -12345.5;
class Heap {
  constructor(kind, floats) {
    const bytes = floats * 4 + 1024;
    if (kind === 'wasm') {
      this.buffer = new WebAssembly.Memory({ initial: Math.ceil(bytes / 65536) }).buffer;
    } else if (kind === 'shared') {
      this.buffer = new SharedArrayBuffer(bytes);
    } else {
      this.buffer = new ArrayBuffer(bytes);
    }
    this.all = new Float32Array(this.buffer);
    this.pos = 3; // odd float offset => byteOffset 12
    this.views = [];
  }
  alloc(n, fill) {
    const start = this.pos + GUARD;
    if (start + n + GUARD > this.all.length) throw new Error('test heap too small');
    this.all.fill(SENTINEL, this.pos, start);
    this.all.fill(SENTINEL, start + n, start + n + GUARD);
    const v = new Float32Array(this.buffer, start * 4, n);
    if (fill) for (let i = 0; i < n; i++) v[i] = fill(i);
    this.views.push([start, n]);
    this.pos = start + n + GUARD + (n % 3);
    return v;
  }
  guardsIntact() {
    for (const [start, n] of this.views) {
      for (let i = start - GUARD; i < start; i++) if (this.all[i] !== SENTINEL) return false;
      for (let i = start + n; i < start + n + GUARD; i++) if (this.all[i] !== SENTINEL) return false;
    }
    return true;
  }
}
function heapFor(floats) {
  const kinds = ['wasm', 'plain', 'shared'];
  return new Heap(kinds[checks % kinds.length], floats + 4096);
}

function compare(name, got, ref, mag) {
  checks++;
  if (got.length !== ref.length) return fail(`${name}: length ${got.length} vs ${ref.length}`);
  let worst = 0;
  let at = -1;
  for (let i = 0; i < ref.length; i++) {
    const err = Math.abs(got[i] - ref[i]);
    const tol = 1e-4 * (mag ? mag[i] : Math.abs(ref[i])) + 1e-6;
    const r = err / tol;
    if (!(r <= worst)) {
      worst = r;
      at = i;
    }
  }
  if (!(worst <= 1)) {
    fail(`${name}: element ${at} got ${got[at]} want ${ref[at]} (error ${(worst).toFixed(2)}x tolerance)`);
  }
}

const absArr = (a) => Float64Array.from(a, Math.abs);

// ------------------------------------------------------------- references --

function refSgemm(tA, tB, M, N, K, A, B, C0, acc) {
  const C = new Float64Array(M * N);
  for (let i = 0; i < M; i++)
    for (let j = 0; j < N; j++) {
      let s = acc ? C0[i * N + j] : 0;
      for (let k = 0; k < K; k++) {
        const a = tA ? A[k * M + i] : A[i * K + k];
        const b = tB ? B[j * K + k] : B[k * N + j];
        s += a * b;
      }
      C[i * N + j] = s;
    }
  return C;
}

function refConv(x, g, w, bias) {
  const { N, H, W, Ci, KH, KW, Co, OH, OW, sH, sW, pT, pL } = g;
  const out = new Float64Array(N * OH * OW * Co);
  for (let n = 0; n < N; n++)
    for (let oy = 0; oy < OH; oy++)
      for (let ox = 0; ox < OW; ox++)
        for (let co = 0; co < Co; co++) {
          let s = bias ? bias[co] : 0;
          for (let a = 0; a < KH; a++) {
            const iy = oy * sH - pT + a;
            if (iy < 0 || iy >= H) continue;
            for (let b = 0; b < KW; b++) {
              const ix = ox * sW - pL + b;
              if (ix < 0 || ix >= W) continue;
              for (let ci = 0; ci < Ci; ci++)
                s += x[((n * H + iy) * W + ix) * Ci + ci] * w[((a * KW + b) * Ci + ci) * Co + co];
            }
          }
          out[((n * OH + oy) * OW + ox) * Co + co] = s;
        }
  return out;
}

function refConvBackpropInput(dy, g, w) {
  const { N, H, W, Ci, KH, KW, Co, OH, OW, sH, sW, pT, pL } = g;
  const dx = new Float64Array(N * H * W * Ci);
  for (let n = 0; n < N; n++)
    for (let oy = 0; oy < OH; oy++)
      for (let ox = 0; ox < OW; ox++)
        for (let a = 0; a < KH; a++) {
          const iy = oy * sH - pT + a;
          if (iy < 0 || iy >= H) continue;
          for (let b = 0; b < KW; b++) {
            const ix = ox * sW - pL + b;
            if (ix < 0 || ix >= W) continue;
            for (let ci = 0; ci < Ci; ci++) {
              let s = 0;
              for (let co = 0; co < Co; co++)
                s += dy[((n * OH + oy) * OW + ox) * Co + co] * w[((a * KW + b) * Ci + ci) * Co + co];
              dx[((n * H + iy) * W + ix) * Ci + ci] += s;
            }
          }
        }
  return dx;
}

function refConvBackpropFilter(x, g, dy) {
  const { N, H, W, Ci, KH, KW, Co, OH, OW, sH, sW, pT, pL } = g;
  const dw = new Float64Array(KH * KW * Ci * Co);
  for (let n = 0; n < N; n++)
    for (let oy = 0; oy < OH; oy++)
      for (let ox = 0; ox < OW; ox++)
        for (let a = 0; a < KH; a++) {
          const iy = oy * sH - pT + a;
          if (iy < 0 || iy >= H) continue;
          for (let b = 0; b < KW; b++) {
            const ix = ox * sW - pL + b;
            if (ix < 0 || ix >= W) continue;
            for (let ci = 0; ci < Ci; ci++) {
              const xv = x[((n * H + iy) * W + ix) * Ci + ci];
              const o = ((a * KW + b) * Ci + ci) * Co;
              const d = ((n * OH + oy) * OW + ox) * Co;
              for (let co = 0; co < Co; co++) dw[o + co] += xv * dy[d + co];
            }
          }
        }
  return dw;
}

function refMaxPoolGrad(dy, x, p) {
  const { N, H, W, C, OH, OW, pH, pW, sH, sW, pT, pL } = p;
  const dx = new Float64Array(N * H * W * C);
  for (let n = 0; n < N; n++)
    for (let oy = 0; oy < OH; oy++)
      for (let ox = 0; ox < OW; ox++)
        for (let c = 0; c < C; c++) {
          let best = -Infinity;
          let arg = -1;
          for (let a = 0; a < pH; a++) {
            const iy = oy * sH - pT + a;
            if (iy < 0 || iy >= H) continue;
            for (let b = 0; b < pW; b++) {
              const ix = ox * sW - pL + b;
              if (ix < 0 || ix >= W) continue;
              const i = ((n * H + iy) * W + ix) * C + c;
              if (x[i] > best) {
                best = x[i];
                arg = i;
              }
            }
          }
          if (arg >= 0) dx[arg] += dy[((n * OH + oy) * OW + ox) * C + c];
        }
  return dx;
}

// TF 'same' padding (extra padding goes to bottom/right) or 'valid'.
function geometry(N, H, W, Ci, KH, KW, Co, sH, sW, pad) {
  let OH, OW, pT, pL;
  if (pad === 'same') {
    OH = Math.ceil(H / sH);
    OW = Math.ceil(W / sW);
    pT = Math.floor(Math.max((OH - 1) * sH + KH - H, 0) / 2);
    pL = Math.floor(Math.max((OW - 1) * sW + KW - W, 0) / 2);
  } else if (pad === 'valid') {
    OH = Math.floor((H - KH) / sH) + 1;
    OW = Math.floor((W - KW) / sW) + 1;
    pT = pL = 0;
  } else {
    // explicit symmetric padding p
    OH = Math.floor((H + 2 * pad - KH) / sH) + 1;
    OW = Math.floor((W + 2 * pad - KW) / sW) + 1;
    pT = pL = pad;
  }
  return { N, H, W, Ci, KH, KW, Co, OH, OW, sH, sW, pT, pL };
}

// ------------------------------------------------------------------ tests --

function testSgemm() {
  const shapes = [
    [1, 1, 1], [7, 5, 3], [3, 9, 1], [64, 33, 129], [130, 17, 65], [0, 4, 3], [4, 3, 0],
  ];
  for (const [M, N, K] of shapes)
    for (const tA of [false, true])
      for (const tB of [false, true])
        for (const acc of [false, true]) {
          const heap = heapFor(M * K + K * N + M * N + 100);
          const A = heap.alloc(M * K, randn);
          const B = heap.alloc(K * N, randn);
          const C = heap.alloc(M * N, randn);
          const C0 = Float64Array.from(C);
          native.sgemm(tA, tB, M, N, K, A, B, C, acc);
          const ref = refSgemm(tA, tB, M, N, K, A, B, C0, acc);
          const mag = refSgemm(tA, tB, M, N, K, absArr(A), absArr(B), absArr(C0), acc);
          const name = `sgemm(tA=${tA},tB=${tB},M=${M},N=${N},K=${K},acc=${acc})`;
          compare(name, C, ref, mag);
          if (!heap.guardsIntact()) fail(`${name}: wrote outside its output`);
        }
}

const CONV_CASES = [
  // N, H, W, Ci, KH, KW, Co, sH, sW, pad
  [1, 5, 5, 1, 3, 3, 1, 1, 1, 'same'],
  [2, 7, 6, 3, 3, 3, 4, 2, 2, 'same'],
  [3, 8, 8, 5, 4, 4, 7, 2, 2, 'same'], // asymmetric padding (top 1, bottom 2)
  [2, 9, 9, 4, 4, 4, 3, 1, 1, 'same'], // asymmetric padding, stride 1
  [4, 9, 11, 2, 5, 5, 6, 3, 3, 'valid'],
  [2, 10, 10, 3, 5, 5, 4, 3, 3, 'same'],
  [8, 6, 6, 16, 1, 1, 8, 1, 1, 'valid'], // pointwise fast path
  [2, 7, 7, 8, 1, 1, 3, 2, 2, 'valid'], // strided 1x1
  [8, 28, 28, 1, 5, 5, 32, 1, 1, 'same'], // Madry conv1 (Ci = 1)
  [3, 14, 14, 64, 5, 5, 64, 1, 1, 2], // Madry conv2 shape, explicit pad 2
  [2, 10, 9, 32, 3, 5, 17, 2, 1, 'same'], // rectangular kernel, mixed strides
  [1, 3, 3, 3, 5, 5, 2, 1, 1, 1], // kernel larger than input
  [5, 12, 12, 7, 3, 3, 9, 3, 3, 'valid'],
  [1, 6, 6, 2, 3, 3, 2, 1, 1, 0],
  [1, 20, 40, 96, 5, 5, 4, 1, 1, 'same'], // one output row > the 256 KB chunk budget
  [2, 7, 8, 3, 4, 2, 5, 1, 1, 'same'], // even kernel: padding bottom/right > top/left
  [2, 9, 9, 16, 3, 3, 16, 1, 1, 'same'], // ResNet block shape
  // The direct kernels (≤ 32 output channels, a multiple of 8): tiles of 6 pixels, 8- and 16-wide
  // channel blocks, border columns, strides, padding larger or smaller than the kernel's half.
  [2, 11, 13, 8, 3, 3, 24, 1, 1, 'same'],
  [3, 10, 10, 16, 3, 3, 32, 2, 2, 'same'], // ResNet stage transition
  [2, 8, 7, 32, 3, 3, 8, 1, 1, 'valid'],
  [2, 7, 5, 3, 3, 3, 16, 1, 1, 'same'], // ResNet stem (Ci = 3)
  [2, 9, 10, 16, 1, 1, 32, 2, 2, 'valid'], // strided 1x1 shortcut
  [1, 6, 15, 8, 5, 3, 16, 1, 2, 3], // explicit padding past the kernel's half
  [2, 12, 4, 24, 2, 5, 8, 1, 1, 'same'],
  // AVX-512 tiles (channels a multiple of 16, up to 64 by default): 12 pixels × 16 or 32 channels,
  // 8 × 48, 6 × 64, and past 64 (forced runs only) a 64-channel group then a 16-channel one; 40
  // channels stay on AVX2 tiles.
  [2, 8, 8, 64, 3, 3, 64, 1, 1, 'same'], // ResNet stage 3
  [2, 9, 9, 32, 3, 3, 64, 2, 2, 'same'], // its transition
  [2, 5, 29, 16, 3, 3, 16, 1, 1, 'same'],
  [2, 4, 27, 32, 3, 3, 32, 1, 1, 'same'],
  [2, 7, 9, 48, 3, 3, 48, 1, 1, 'same'],
  [1, 6, 13, 16, 3, 3, 80, 1, 1, 'same'],
  [2, 6, 7, 80, 3, 3, 16, 1, 1, 'same'],
  [2, 6, 6, 8, 3, 3, 40, 1, 1, 'same'],
  // Strided input gradients on the direct kernels, one stride-1 convolution per phase of the strides:
  // odd sizes, stride 3, an even kernel, a 1x1 and a stride larger than the kernel (phases no tap
  // reaches), mixed strides, and padding that would be negative in a phase (the GEMM path).
  [2, 11, 10, 8, 3, 3, 16, 3, 3, 'same'],
  [2, 9, 9, 16, 4, 4, 16, 2, 2, 'same'],
  [2, 8, 8, 16, 1, 1, 16, 2, 2, 'valid'],
  [1, 7, 8, 16, 2, 2, 16, 3, 3, 'valid'],
  [2, 9, 7, 16, 3, 2, 8, 2, 1, 'valid'],
  [2, 8, 8, 16, 3, 3, 16, 2, 2, 3],
];

function testConv() {
  for (const c of CONV_CASES) {
    const g = geometry(...c);
    const { N, H, W, Ci, KH, KW, Co, OH, OW, sH, sW, pT, pL } = g;
    const tag = `[N=${N} ${H}x${W}x${Ci} k=${KH}x${KW} Co=${Co} s=${sH},${sW} pad=${pT},${pL} out=${OH}x${OW}]`;
    const nx = N * H * W * Ci, nw = KH * KW * Ci * Co, ny = N * OH * OW * Co;
    const heap = heapFor(2 * nx + 2 * nw + 3 * ny + Co + 100);
    const x = heap.alloc(nx, randn);
    const w = heap.alloc(nw, randn);
    const bias = heap.alloc(Co, randn);
    const out = heap.alloc(ny, () => 777);
    const dy = heap.alloc(ny, randn);
    const dx = heap.alloc(nx, () => 777);
    const dw = heap.alloc(nw, () => 777);
    const out2 = heap.alloc(ny, () => 777);

    // forward, plain
    native.conv2d(x, N, H, W, Ci, w, KH, KW, Co, out, OH, OW, sH, sW, pT, pL, null, false);
    const ref = refConv(x, g, w, null);
    const mag = refConv(absArr(x), g, absArr(w), null);
    compare(`conv2d ${tag}`, out, ref, mag);

    // forward, bias + relu
    native.conv2d(x, N, H, W, Ci, w, KH, KW, Co, out2, OH, OW, sH, sW, pT, pL, bias, true);
    const refB = refConv(x, g, w, bias).map((v) => Math.max(v, 0));
    const magB = refConv(absArr(x), g, absArr(w), absArr(bias));
    compare(`conv2d+bias+relu ${tag}`, out2, refB, magB);

    // backprop input
    native.conv2dBackpropInput(dy, N, OH, OW, Co, w, KH, KW, Ci, dx, H, W, sH, sW, pT, pL);
    compare(`conv2dBackpropInput ${tag}`, dx, refConvBackpropInput(dy, g, w),
      refConvBackpropInput(absArr(dy), g, absArr(w)));

    // backprop filter
    native.conv2dBackpropFilter(x, N, H, W, Ci, dy, OH, OW, Co, dw, KH, KW, sH, sW, pT, pL);
    compare(`conv2dBackpropFilter ${tag}`, dw, refConvBackpropFilter(x, g, dy),
      refConvBackpropFilter(absArr(x), g, absArr(dy)));

    if (!heap.guardsIntact()) fail(`conv ${tag}: wrote outside an output`);
  }
}

function testMaxPoolGrad() {
  const cases = [
    // N, H, W, C, pool, stride, pad
    [2, 8, 8, 3, 2, 2, 'valid'],
    [1, 28, 28, 32, 2, 2, 'same'],
    [3, 7, 7, 5, 3, 2, 'same'], // overlapping windows, padding
    [2, 6, 5, 4, 3, 1, 'same'], // heavy overlap
    [2, 9, 9, 300, 3, 3, 'valid'], // C above the channel block size
    [8, 14, 14, 64, 2, 2, 'valid'],
    [1, 5, 5, 1, 4, 3, 'same'],
  ];
  for (const [N, H, W, C, pool, s, pad] of cases) {
    const g = geometry(N, H, W, C, pool, pool, C, s, s, pad);
    const p = { N, H, W, C, OH: g.OH, OW: g.OW, pH: pool, pW: pool, sH: s, sW: s, pT: g.pT, pL: g.pL };
    const heap = heapFor(3 * N * H * W * C + N * g.OH * g.OW * C + 100);
    // few distinct values => many ties
    const x = heap.alloc(N * H * W * C, () => Math.floor(rand() * 4) - 2);
    const dy = heap.alloc(N * g.OH * g.OW * C, randn);
    const dx = heap.alloc(N * H * W * C, () => 777);
    native.maxPoolGrad(dy, x, N, H, W, C, p.OH, p.OW, pool, pool, s, s, p.pT, p.pL, dx);
    const name = `maxPoolGrad [N=${N} ${H}x${W}x${C} pool=${pool} s=${s} pad=${p.pT},${p.pL}]`;
    compare(name, dx, refMaxPoolGrad(dy, x, p), refMaxPoolGrad(absArr(dy), x, p));
    if (!heap.guardsIntact()) fail(`${name}: wrote outside its output`);
  }
}

function testReluGrad() {
  for (const n of [0, 1, 17, 100000, 1 << 20]) {
    const heap = heapFor(3 * n + 100);
    const dy = heap.alloc(n, randn);
    const y = heap.alloc(n, () => (rand() < 0.2 ? 0 : randn()));
    const out = heap.alloc(n, () => 777);
    native.reluGrad(dy, y, out, n);
    const ref = Float64Array.from(dy, (v, i) => (y[i] > 0 ? v : 0));
    compare(`reluGrad n=${n}`, out, ref, null);
    // in place (out aliases dy)
    native.reluGrad(dy, y, dy, n);
    compare(`reluGrad in-place n=${n}`, dy, ref, null);
    if (!heap.guardsIntact()) fail(`reluGrad n=${n}: wrote outside its output`);
  }
}

function testAdd() {
  for (const n of [0, 1, 17, 100000]) {
    const heap = heapFor(3 * n + 100);
    const a = heap.alloc(n, randn), b = heap.alloc(n, randn), out = heap.alloc(n, () => 777);
    const ref = Float64Array.from(a, (v, i) => Math.fround(v + b[i]));
    native.add(a, b, n, out);
    compare(`add n=${n}`, out, ref, null);
    native.add(a, b, n, a); // in place (out is a), as a residual Add of several inputs runs
    compare(`add in-place n=${n}`, a, ref, null);
    if (!heap.guardsIntact()) fail(`add n=${n}: wrote outside its output`);
  }
  const z = (k) => new Float32Array(k);
  expectThrow('add with a short b', RangeError, /'b' has length 3/, () => native.add(z(4), z(3), 4, z(4)));
}

// swish, sigmoid, ELU and GELU (kinds 0–3) against float64 formulas: GELU with the Abramowitz–Stegun
// erf TF.js uses. Inputs span the clamp of the polynomial exp (±87) and beyond.
function testActivations() {
  const erfAS = (v) => {
    const a = Math.abs(v), t = 1 / (1 + 0.3275911 * a);
    return Math.sign(v) * (1 - ((((1.061405429 * t - 1.453152027) * t + 1.421413741) * t - 0.284496736) * t + 0.254829592) * t * Math.exp(-a * a));
  };
  const sig = (v) => 1 / (1 + Math.exp(-v));
  const kinds = [
    ['swish', (v) => v * sig(v), (g, v) => g * sig(v) + g * v * sig(v) * (1 - sig(v))],
    ['sigmoid', sig, (g, v) => g * sig(v) * (1 - sig(v))],
    ['elu', (v) => (v >= 0 ? v : Math.expm1(v)), (g, v) => (v >= 0 ? g : g * Math.exp(v))],
    ['gelu', (v) => v * 0.5 * (1 + erfAS(v / Math.SQRT2)), (g, v) => g * (0.5 * (1 + erfAS(v / Math.SQRT2)) + v * Math.exp(-v * v / 2) / Math.sqrt(2 * Math.PI))],
  ];
  const special = [0, -0, 1e-8, -1e-8, 1, -1, 20, -20, 86.9, -86.9, 87.5, -87.5, 100, -100];
  for (const n of [0, 1, 17, 100003]) {
    kinds.forEach(([name, f, df], kind) => {
      const heap = heapFor(5 * n + 100);
      const x = heap.alloc(n, (i) => (i < special.length ? special[i] : 4 * randn()));
      const dy = heap.alloc(n, randn), y = heap.alloc(n, () => 777), dx = heap.alloc(n, () => 777);
      native.activation(kind, x, n, y);
      compare(`activation ${name} n=${n}`, y, Float64Array.from(x, f), null);
      native.activationGrad(kind, dy, x, y, n, dx);
      // ELU's gradient reads y (e^x − 1 near 0 loses bits): its tolerance scales with |dy|.
      compare(`activationGrad ${name} n=${n}`, dx, Float64Array.from(x, (v, i) => df(dy[i], v)), kind === 2 ? absArr(dy) : null);
      native.activation(kind, x, n, x); // in place
      compare(`activation ${name} in-place n=${n}`, x, Float64Array.from(y), null);
      if (!heap.guardsIntact()) fail(`activation ${name} n=${n}: wrote outside its output`);
    });
  }
  // The polynomial exp, tightly: sigmoid and swish within 4 float32 ulps of the float64 value over
  // [−87, 88] (the whole range where e^−x is a normal float); ELU within 2 ulps of e^x (and the
  // result's rounding) of TF.js' own e^x − 1; and the ends: 0 and 1, ±infinity, NaN.
  {
    const n = 200001;
    const x = Float32Array.from({ length: n }, (_, i) => -87 + (175 * i) / (n - 1));
    const y = new Float32Array(n);
    const ulp = (v) => {
      const b = new Float32Array([Math.abs(Math.fround(v))]);
      new Uint32Array(b.buffer)[0]++;
      return b[0] - Math.abs(Math.fround(v));
    };
    const within = (name, got, ref, tol) => {
      checks++;
      let worst = 0, at = 0;
      for (let i = 0; i < n; i++) {
        const r = Math.abs(got[i] - ref(x[i])) / tol(x[i]);
        if (!(r <= worst)) { worst = r; at = i; }
      }
      if (!(worst <= 1)) fail(`${name}: ${worst.toFixed(2)}x the tolerance at x = ${x[at]} (got ${got[at]}, want ${ref(x[at])})`);
    };
    native.activation(1, x, n, y);
    within('sigmoid over [−87, 88]', y, sig, (v) => 4 * ulp(sig(v)));
    native.activation(0, x, n, y);
    within('swish over [−87, 88]', y, (v) => v * sig(v), (v) => 4 * ulp(v * sig(v)));
    native.activation(2, x, n, y);
    within('elu over [−87, 88]', y, (v) => (v >= 0 ? v : Math.fround(Math.fround(Math.exp(v)) - 1)), (v) => (v >= 0 ? ulp(v) : 2 * ulp(Math.exp(v)) + ulp(Math.expm1(v))));
    const ends = Float32Array.from([Infinity, -Infinity, NaN, 100, -100, 1e30, -1e30]);
    const out = new Float32Array(ends.length);
    const same = (name, got, want) => {
      checks++;
      if (!want.every((w, i) => Object.is(w, got[i]) || (w === 0 && got[i] === 0))) fail(`${name} at ±∞, NaN, ±100, ±1e30: got [${Array.from(got)}], want [${want}]`);
    };
    native.activation(1, ends, ends.length, out);
    same('sigmoid', out, [1, 0, NaN, 1, 0, 1, 0]);
    native.activation(0, ends, ends.length, out);
    same('swish', out, [Infinity, NaN, NaN, 100, -0, Math.fround(1e30), -0]);
    native.activation(2, ends, ends.length, out);
    same('elu', out, [Infinity, -1, NaN, 100, -1, Math.fround(1e30), -1]);
  }
  const z = (k) => new Float32Array(k);
  expectThrow('activation with kind 4', RangeError, /'kind' must be 0 \(swish\)/, () => native.activation(4, z(4), 4, z(4)));
  expectThrow('activationGrad with a short y', RangeError, /'y' has length 3/, () => native.activationGrad(0, z(4), z(4), z(3), 4, z(4)));
}

function testBiasAct() {
  for (const [R, C, withBias, relu] of [[0, 5, true, true], [1, 1, true, false], [7, 33, true, true], [64, 100, false, true], [300, 10, true, false]]) {
    const heap = heapFor(2 * R * C + C + 100);
    const x = heap.alloc(R * C, randn);
    const b = withBias ? heap.alloc(C, randn) : null;
    const ref = Float64Array.from(x, (v, i) => {
      const s = Math.fround(v + (b === null ? 0 : b[i % C]));
      return relu && s < 0 ? 0 : s;
    });
    native.biasAct(x, R, C, b, relu);
    compare(`biasAct [${R}x${C} bias=${withBias} relu=${relu}]`, x, ref, null);
    if (!heap.guardsIntact()) fail(`biasAct [${R}x${C}]: wrote outside its output`);
  }
}

function testLinfPgdStep() {
  const f = Math.fround;
  for (const [n, alpha, eps, box] of [[0, 0.1, 0.3, true], [1, 0.01, 0.3, true], [1000, 0.075, 0.3, true], [4097, 0.5, 0.2, false], [100, 0, 0.3, true]]) {
    const heap = heapFor(3 * n + 100);
    const x = heap.alloc(n, () => Math.min(1, Math.max(0, rand() * 1.4 - 0.2)));
    const xadv = heap.alloc(n, (i) => x[i] + (rand() * 2 - 1) * 0.5);
    const g = heap.alloc(n, () => (rand() < 0.1 ? 0 : randn()));
    // TF.js' order: s = sign(g)·α; t = xadv + s; d = clip(t − x, ±ε); v = x + d; clip to [0, 1].
    const ref = Float64Array.from(xadv, (v, i) => {
      const s = f(Math.sign(g[i]) * f(alpha));
      const d = Math.min(Math.max(f(f(v + s) - x[i]), -f(eps)), f(eps));
      const r = f(x[i] + d);
      return box ? Math.min(Math.max(r, 0), 1) : r;
    });
    native.linfPgdStep(xadv, g, x, n, alpha, eps, 0, 1, box);
    compare(`linfPgdStep [n=${n} α=${alpha} ε=${eps} box=${box}]`, xadv, ref, null);
    if (!heap.guardsIntact()) fail(`linfPgdStep n=${n}: wrote outside its output`);
  }
}

function expectThrow(name, ctor, re, fn) {
  checks++;
  try {
    fn();
  } catch (e) {
    if (!(e instanceof ctor)) return fail(`${name}: threw ${e && e.name} instead of ${ctor.name}: ${e && e.message}`);
    if (re && !re.test(e.message)) return fail(`${name}: message "${e.message}" does not match ${re}`);
    return;
  }
  fail(`${name}: did not throw`);
}

function testErrors() {
  const f = (n) => new Float32Array(n);
  expectThrow('sgemm arity', TypeError, /expected 9 arguments/, () => native.sgemm(false, false, 1, 1, 1, f(1), f(1), f(1)));
  expectThrow('sgemm bool', TypeError, /transA/, () => native.sgemm(0, false, 1, 1, 1, f(1), f(1), f(1), false));
  expectThrow('sgemm f64', TypeError, /'B'/, () => native.sgemm(false, false, 1, 1, 1, f(1), new Float64Array(1), f(1), false));
  expectThrow('sgemm length', RangeError, /'C' has length 2/, () => native.sgemm(false, false, 1, 1, 1, f(1), f(1), f(2), false));
  expectThrow('sgemm non-integer', RangeError, /'K'/, () => native.sgemm(false, false, 1, 1, 1.5, f(1), f(1), f(1), false));
  expectThrow('sgemm string dim', TypeError, /'M' must be a number/, () => native.sgemm(false, false, '1', 1, 1, f(1), f(1), f(1), false));
  const conv = (over) => {
    const a = [f(2 * 4 * 4 * 3), 2, 4, 4, 3, f(3 * 3 * 3 * 5), 3, 3, 5, f(2 * 4 * 4 * 5), 4, 4, 1, 1, 1, 1, null, false];
    for (const [i, v] of Object.entries(over)) a[i] = v;
    return () => native.conv2d(...a);
  };
  conv({})(); // valid call must not throw
  expectThrow('conv2d x length', RangeError, /'x'/, conv({ 0: f(5) }));
  expectThrow('conv2d w length', RangeError, /'w'/, conv({ 5: f(5) }));
  expectThrow('conv2d out length', RangeError, /'out'/, conv({ 9: f(5) }));
  expectThrow('conv2d bias length', RangeError, /'bias'/, conv({ 16: f(4) }));
  expectThrow('conv2d bias type', TypeError, /'bias' must be a Float32Array or null/, conv({ 16: [1, 2, 3, 4, 5] }));
  expectThrow('conv2d stride 0', RangeError, /'strideH'/, conv({ 12: 0 }));
  expectThrow('conv2d negative pad', RangeError, /'padLeft'/, conv({ 15: -1 }));
  expectThrow('conv2d relu type', TypeError, /'relu'/, conv({ 17: undefined }));
  expectThrow('conv2dBackpropInput arity', TypeError, /expected 16/, () => native.conv2dBackpropInput(f(1)));
  expectThrow('conv2dBackpropFilter dw length', RangeError, /'dw'/, () =>
    native.conv2dBackpropFilter(f(16), 1, 4, 4, 1, f(16), 4, 4, 1, f(8), 3, 3, 1, 1, 1, 1));
  expectThrow('maxPoolGrad dx length', RangeError, /'dx'/, () =>
    native.maxPoolGrad(f(4), f(16), 1, 4, 4, 1, 2, 2, 2, 2, 2, 2, 0, 0, f(15)));
  expectThrow('reluGrad length', RangeError, /'x'/, () => native.reluGrad(f(3), f(2), f(3), 3));
  expectThrow('setNumThreads 0', RangeError, /'n'/, () => native.setNumThreads(0));
  // detached buffer (e.g. a stale view after the wasm heap grew)
  const mem = new WebAssembly.Memory({ initial: 1 });
  const stale = new Float32Array(mem.buffer, 8, 4);
  mem.grow(1);
  expectThrow('detached view', RangeError, /detached/, () => native.reluGrad(stale, f(4), f(4), 4));
}

function testThreads() {
  checks++;
  const n0 = native.numThreads();
  if (!(Number.isInteger(n0) && n0 >= 1)) fail(`numThreads() returned ${n0}`);
  native.setNumThreads(1);
  if (native.numThreads() !== 1) fail(`setNumThreads(1) then numThreads() = ${native.numThreads()}`);
  // results with 1 thread must match too
  const g = geometry(4, 14, 14, 32, 5, 5, 16, 1, 1, 'same');
  const heap = heapFor(1 << 20);
  const x = heap.alloc(g.N * g.H * g.W * g.Ci, randn);
  const w = heap.alloc(25 * g.Ci * g.Co, randn);
  const out = heap.alloc(g.N * g.OH * g.OW * g.Co);
  native.conv2d(x, g.N, g.H, g.W, g.Ci, w, 5, 5, g.Co, out, g.OH, g.OW, 1, 1, g.pT, g.pL, null, false);
  compare('conv2d with 1 thread', out, refConv(x, g, w, null), refConv(absArr(x), g, absArr(w), null));
  // The direct kernels sum every output's terms in one order whatever the thread count: 2 threads
  // and 1 give the same bits (the native network and TF.js share these kernels, and shards and
  // workers must merge exactly). im2col + GEMM (ALP_NATIVE_DIRECT_CONV=0) sums in OpenBLAS' order,
  // which depends on the thread count: nothing to check then.
  if (native.convKernels() === 'gemm') {
    native.setNumThreads(n0);
    return;
  }
  const d = geometry(3, 12, 12, 16, 3, 3, 16, 1, 1, 'same');
  const nx = d.N * d.H * d.W * 16, nw = 9 * 16 * 16, ny = d.N * d.OH * d.OW * 16;
  const dx0 = heap.alloc(nx, randn), dw0 = heap.alloc(nw, randn), dy0 = heap.alloc(ny, randn);
  const runAll = () => {
    const o = new Float32Array(ny), gx = new Float32Array(nx), gw = new Float32Array(nw);
    native.conv2d(dx0, d.N, d.H, d.W, 16, dw0, 3, 3, 16, o, d.OH, d.OW, 1, 1, d.pT, d.pL, null, false);
    native.conv2dBackpropInput(dy0, d.N, d.OH, d.OW, 16, dw0, 3, 3, 16, gx, d.H, d.W, 1, 1, d.pT, d.pL);
    native.conv2dBackpropFilter(dx0, d.N, d.H, d.W, 16, dy0, d.OH, d.OW, 16, gw, 3, 3, 1, 1, d.pT, d.pL);
    return [o, gx, gw];
  };
  const one = runAll();
  native.setNumThreads(2);
  const two = runAll();
  ['conv2d', 'conv2dBackpropInput', 'conv2dBackpropFilter'].forEach((name, i) => {
    checks++;
    const k = one[i].findIndex((v, j) => !Object.is(v, two[i][j]));
    if (k >= 0) fail(`${name}: 1 and 2 threads differ at ${k} (${one[i][k]} vs ${two[i][k]})`);
  });
  native.setNumThreads(n0);
  if (native.numThreads() !== n0) fail(`setNumThreads(${n0}) did not restore the thread count`);
}

// The direct kernels sum each output in one order whatever the vector width, so AVX-512 and AVX2
// tiles give the same bits: two children run the same convolutions (direct wherever it applies),
// one with ALP_NATIVE_AVX512=0, and print a digest of every output.
function directDigest() {
  seed = 777;
  let h = 0x811c9dc5;
  const mix = (arr) => {
    for (const v of new Uint32Array(arr.buffer, arr.byteOffset, arr.length)) h = Math.imul(h ^ v, 0x01000193) >>> 0;
  };
  for (const [ci, co, s] of [[16, 16, 1], [32, 32, 1], [16, 32, 2], [48, 48, 1], [32, 64, 2], [64, 64, 1], [16, 80, 1], [80, 16, 1]]) {
    const d = geometry(2, 9, 14, ci, 3, 3, co, s, s, 'same');
    const nx = d.N * d.H * d.W * ci, nw = 9 * ci * co, ny = d.N * d.OH * d.OW * co;
    const x = Float32Array.from({ length: nx }, randn), w = Float32Array.from({ length: nw }, randn), dy = Float32Array.from({ length: ny }, randn);
    const o = new Float32Array(ny), gx = new Float32Array(nx), gw = new Float32Array(nw);
    native.conv2d(x, d.N, d.H, d.W, ci, w, 3, 3, co, o, d.OH, d.OW, s, s, d.pT, d.pL, null, false);
    native.conv2dBackpropInput(dy, d.N, d.OH, d.OW, co, w, 3, 3, ci, gx, d.H, d.W, s, s, d.pT, d.pL);
    native.conv2dBackpropFilter(x, d.N, d.H, d.W, ci, dy, d.OH, d.OW, co, gw, 3, 3, s, s, d.pT, d.pL);
    [o, gx, gw].forEach(mix);
  }
  return h.toString(16);
}

function testVectorWidths() {
  if (native.convKernels() !== 'avx512') {
    console.log(`alp native test: direct kernels ${native.convKernels()}: the AVX-512 vs AVX2 check needs AVX-512 (skipped)`);
    return;
  }
  const digest = (extra) => {
    const r = spawnSync(process.execPath, [fileURLToPath(import.meta.url), '--digest'], {
      env: { ...process.env, ALP_NATIVE_DIRECT_CONV: '1', ...extra }, encoding: 'utf8',
    });
    return r.status === 0 ? r.stdout.trim() : `exit ${r.status}: ${r.stderr.trim()}`;
  };
  const wide = digest({}), narrow = digest({ ALP_NATIVE_AVX512: '0' });
  checks++;
  if (!/^avx512 [0-9a-f]+$/.test(wide) || !/^avx2 [0-9a-f]+$/.test(narrow) || wide.split(' ')[1] !== narrow.split(' ')[1]) {
    fail(`AVX-512 and AVX2 direct kernels differ: ${wide} vs ${narrow}`);
  }
}

// ------------------------------------------------------------------ speed --

function speed() {
  const N = 64, H = 14, W = 14, Ci = 32, K = 5, Co = 64, pad = 2;
  const OH = 14, OW = 14;
  const x = Float32Array.from({ length: N * H * W * Ci }, randn);
  const w = Float32Array.from({ length: K * K * Ci * Co }, randn);
  const dy = Float32Array.from({ length: N * OH * OW * Co }, randn);
  const out = new Float32Array(N * OH * OW * Co);
  const dx = new Float32Array(N * H * W * Ci);
  const dw = new Float32Array(K * K * Ci * Co);
  const flops = 2 * N * OH * OW * Co * K * K * Ci;
  const time = (fn) => {
    for (let i = 0; i < 3; i++) fn();
    const t = [];
    for (let i = 0; i < 15; i++) {
      const t0 = process.hrtime.bigint();
      fn();
      t.push(Number(process.hrtime.bigint() - t0) / 1e6);
    }
    t.sort((a, b) => a - b);
    return [t[0], t[Math.floor(t.length / 2)]];
  };
  const rows = [
    ['forward', () => native.conv2d(x, N, H, W, Ci, w, K, K, Co, out, OH, OW, 1, 1, pad, pad, null, false)],
    ['backprop-input', () => native.conv2dBackpropInput(dy, N, OH, OW, Co, w, K, K, Ci, dx, H, W, 1, 1, pad, pad)],
    ['backprop-filter', () => native.conv2dBackpropFilter(x, N, H, W, Ci, dy, OH, OW, Co, dw, K, K, 1, 1, pad, pad)],
  ];
  console.log(`speed: conv 5x5, x [64,14,14,32], w [5,5,32,64], stride 1, pad 2 ` +
    `(${(flops / 1e9).toFixed(2)} GFLOP each; ${native.numThreads()} thread(s); 15 runs)`);
  for (const [name, fn] of rows) {
    const [min, med] = time(fn);
    console.log(`  ${name.padEnd(16)} min ${min.toFixed(2).padStart(7)} ms  median ${med.toFixed(2).padStart(7)} ms  ` +
      `(${(flops / min / 1e6).toFixed(1)} GFLOP/s at min)`);
  }
}

// ------------------------------------------------------------------- main --

if (DIGEST) {
  console.log(`${native.convKernels()} ${directDigest()}`);
  process.exit(0);
}
const t0 = Date.now();
testConv();
testMaxPoolGrad();
if (!CHILD) {
  testSgemm();
  testReluGrad();
  testAdd();
  testActivations();
  testBiasAct();
  testLinfPgdStep();
  testErrors();
  testThreads();
  testVectorWidths();
}
console.log(`alp native test${CHILD ? ' (scratch chunks of 256 KB)' : ''}: ${checks - failures}/${checks} checks passed in ${((Date.now() - t0) / 1000).toFixed(1)} s`);

if (!CHILD) {
  // Re-run the convolution checks with a tiny scratch budget so that batches
  // are split into many chunks (including chunks that end mid-image).
  const r = spawnSync(process.execPath, [fileURLToPath(import.meta.url), '--child'], {
    env: { ...process.env, ALP_NATIVE_CHUNK_KB: '256' },
    stdio: 'inherit',
  });
  if (r.status !== 0) failures++;
  if (failures === 0 && !args.has('--no-speed')) speed();
}
if (failures) {
  console.error(`alp native test: ${failures} failure(s)`);
  process.exit(1);
}
