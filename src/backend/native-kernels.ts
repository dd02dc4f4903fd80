/**
 * Optional native kernels: when the OpenBLAS addon in native/ was built at install time, the heavy
 * kernels of the wasm backend (convolutions and their gradients, matmuls, max-pool gradient) run
 * natively, reading and writing the wasm heap in place through Float32Array views, so tensors never
 * leave the backend. Everything else stays on wasm. Without the addon nothing changes.
 */
import { createRequire } from 'node:module';
import * as tf from '@tensorflow/tfjs';
import { convInfo, type HeapBackend } from './wasm-kernels.js';

/** The addon's functions (see native/README.md). All arrays are float32, NHWC, row-major. */
export interface NativeApi {
  sgemm(transA: boolean, transB: boolean, M: number, N: number, K: number, A: Float32Array, B: Float32Array, C: Float32Array, accumulate: boolean): void;
  conv2d(x: Float32Array, N: number, H: number, W: number, Ci: number, w: Float32Array, KH: number, KW: number, Co: number,
    out: Float32Array, OH: number, OW: number, sH: number, sW: number, padTop: number, padLeft: number, bias: Float32Array | null, relu: boolean): void;
  conv2dBackpropInput(dy: Float32Array, N: number, OH: number, OW: number, Co: number, w: Float32Array, KH: number, KW: number, Ci: number,
    dx: Float32Array, H: number, W: number, sH: number, sW: number, padTop: number, padLeft: number): void;
  conv2dBackpropFilter(x: Float32Array, N: number, H: number, W: number, Ci: number, dy: Float32Array, OH: number, OW: number, Co: number,
    dw: Float32Array, KH: number, KW: number, sH: number, sW: number, padTop: number, padLeft: number): void;
  maxPoolGrad(dy: Float32Array, x: Float32Array, N: number, H: number, W: number, C: number, OH: number, OW: number,
    pH: number, pW: number, sH: number, sW: number, padTop: number, padLeft: number, dx: Float32Array): void;
  /** Forward max pooling, NHWC: the max over each window's in-bounds positions (TF.js' MaxPool). */
  maxPool(x: Float32Array, N: number, H: number, W: number, C: number, OH: number, OW: number,
    pH: number, pW: number, sH: number, sW: number, padTop: number, padLeft: number, out: Float32Array): void;
  /** out = dy · float(step(x)), TF.js' Relu gradient (out may be dy). */
  reluGrad(dy: Float32Array, x: Float32Array, out: Float32Array, n: number): void;
  /** out[r, j] = x[r, j] + b[j] (out must not overlap x). */
  addRow(x: Float32Array, R: number, C: number, b: Float32Array, out: Float32Array): void;
  /** out[C] = column sums of x[R, C], rows added in order (the gradient of a bias add). */
  sumRows(x: Float32Array, R: number, C: number, out: Float32Array): void;
  /** One Adam step in TF.js' float32 operation order (./fused-adam.ts). */
  adamUpdate(value: Float32Array, m: Float32Array, v: Float32Array, g: Float32Array, newValue: Float32Array, newM: Float32Array, newV: Float32Array,
    n: number, beta1: number, oneMinusBeta1: number, beta2: number, oneMinusBeta2: number, oneMinusAccBeta1: number, oneMinusAccBeta2: number,
    epsilon: number, negLr: number): void;
  /** In place: x[r, j] = act(x[r, j] + b[j]) (b may be null; act relu or identity), rounded like TF.js' add then relu. */
  biasAct(x: Float32Array, R: number, C: number, b: Float32Array | null, relu: boolean): void;
  /** In place, one L∞ PGD step in TF.js' float32 order: xadv = clip(x + clip(xadv + sign(g)·alpha − x, ±eps), lo, hi) (no box clip unless `box`). */
  linfPgdStep(xadv: Float32Array, g: Float32Array, x: Float32Array, n: number, alpha: number, eps: number, lo: number, hi: number, box: boolean): void;
  /** out = (x − mean[c])·scale[c] + shift[c] over [R, C], each operation rounded (batch norm with fixed statistics). */
  channelAffine(x: Float32Array, R: number, C: number, mean: Float32Array, scale: Float32Array, shift: Float32Array, out: Float32Array): void;
  /** dx = (dy·inv[c])·gamma[c] over [R, C], each product rounded (TF.js' batch-norm input gradient); gamma may be null. */
  channelScaleGrad(dy: Float32Array, R: number, C: number, inv: Float32Array, gamma: Float32Array | null, dx: Float32Array): void;
  /** Batch norm's batch statistics of x [R, C]: per channel the mean and the biased variance, tf.moments' float32 operations summed in float64. */
  batchMoments(x: Float32Array, R: number, C: number, mean: Float32Array, variance: Float32Array): void;
  /**
   * Batch norm's gradient through its batch statistics (xh = (x − mean)·inv): sumDy = Σ dy, sumDyXh = Σ dy·xh
   * (β's and γ's gradients), dx = γ·inv·(dy − sumDy/R − xh·sumDyXh/R); float64, each result rounded once. gamma may be null.
   */
  batchNormTrainGrad(dy: Float32Array, x: Float32Array, R: number, C: number, mean: Float32Array, inv: Float32Array, gamma: Float32Array | null,
    dx: Float32Array, sumDy: Float32Array, sumDyXh: Float32Array): void;
  /** Depthwise convolution, NHWC, w [KH, KW, C, M], out [N, OH, OW, C·M]; dilation dH, dW (taps apart). */
  depthwiseConv2d(x: Float32Array, N: number, H: number, W: number, C: number, w: Float32Array, KH: number, KW: number, M: number,
    out: Float32Array, OH: number, OW: number, sH: number, sW: number, dH: number, dW: number, padTop: number, padLeft: number): void;
  /** Its input gradient: dy [N, OH, OW, C·M] → dx [N, H, W, C] (written, not added to). */
  depthwiseConv2dBackpropInput(dy: Float32Array, N: number, H: number, W: number, C: number, w: Float32Array, KH: number, KW: number, M: number,
    dx: Float32Array, OH: number, OW: number, sH: number, sW: number, dH: number, dW: number, padTop: number, padLeft: number): void;
  /** Its kernel gradient: x [N, H, W, C], dy [N, OH, OW, C·M] → dw [KH, KW, C, M], summed in float64 and rounded once. */
  depthwiseConv2dBackpropFilter(x: Float32Array, N: number, H: number, W: number, C: number, dy: Float32Array, KH: number, KW: number, M: number,
    dw: Float32Array, OH: number, OW: number, sH: number, sW: number, dH: number, dW: number, padTop: number, padLeft: number): void;
  /** out = min(max(x, lo), hi) (relu6, a ReLU layer's maxValue). */
  clamp(x: Float32Array, n: number, lo: number, hi: number, out: Float32Array): void;
  /** out = dy where lo < x < hi (x ≤ hi when `inclusive`), else 0. */
  clampGrad(dy: Float32Array, x: Float32Array, n: number, lo: number, hi: number, inclusive: boolean, out: Float32Array): void;
  /** out = a + b element-wise (out may be a). */
  add(a: Float32Array, b: Float32Array, n: number, out: Float32Array): void;
  /** out = f(x) for a smooth activation, `kind` as NATIVE_ACTIVATION_KINDS numbers them (out may be x). */
  activation(kind: number, x: Float32Array, n: number, out: Float32Array): void;
  /** out = dy·f'(x), from the input x and the output y = f(x). */
  activationGrad(kind: number, dy: Float32Array, x: Float32Array, y: Float32Array, n: number, out: Float32Array): void;
  numThreads(): number;
  setNumThreads(n: number): void;
  /** The direct convolution kernels that run where they apply (few output channels): AVX-512, AVX2, or none (im2col + GEMM everywhere). */
  convKernels(): ConvKernels;
}

/** Which direct convolution kernels the addon runs (native/src/alp_native.c, `direct_mode`). */
export type ConvKernels = 'avx512' | 'avx2' | 'gemm';

type Info = tf.TensorInfo;
type Attrs = Record<string, unknown>;
type Args = { inputs: Record<string, Info>; attrs?: Attrs; backend: unknown };
type KernelFunc = (args: Args) => Info | Info[];


let api: NativeApi | null | undefined;

/** Every function NativeApi names (the type makes the list complete): the addon must have all of them. */
const NATIVE_FUNCTIONS = Object.keys({
  sgemm: 1, conv2d: 1, conv2dBackpropInput: 1, conv2dBackpropFilter: 1, maxPoolGrad: 1, maxPool: 1, reluGrad: 1,
  addRow: 1, sumRows: 1, adamUpdate: 1, biasAct: 1, linfPgdStep: 1, channelAffine: 1, channelScaleGrad: 1,
  depthwiseConv2dBackpropFilter: 1, batchMoments: 1, batchNormTrainGrad: 1, depthwiseConv2d: 1,
  depthwiseConv2dBackpropInput: 1, clamp: 1, clampGrad: 1, add: 1, activation: 1, activationGrad: 1, numThreads: 1,
  setNumThreads: 1, convKernels: 1,
} satisfies Record<keyof NativeApi, 1>) as Array<keyof NativeApi>;

/** The addon, or null when it was not built (no OpenBLAS at install) or ALP_NO_NATIVE is set. */
export function nativeApi(): NativeApi | null {
  if (api !== undefined) return api;
  api = null;
  if (process.env['ALP_NO_NATIVE'] === '1') return api;
  try {
    const require = createRequire(import.meta.url);
    api = (require('../../native/index.cjs') as NativeApi | null) ?? null;
    // An addon built by an older alp lacks this one's newest functions: run without it, and say how to
    // rebuild, rather than fail in the middle of a step.
    const missing = api === null ? [] : NATIVE_FUNCTIONS.filter((f) => typeof (api as unknown as Record<string, unknown>)[f] !== 'function');
    if (missing.length > 0) {
      process.emitWarning(`alp: native/build holds an addon older than this alp (no ${missing.join(', ')}); running without it. Rebuild: npm run build:native`, 'AlpNativeWarning');
      api = null;
      return api;
    }
    // One BLAS thread by default: measured here, OpenBLAS' spinning threads lose 10-30x as soon as the
    // two cores are shared with anything else; ALP_NATIVE_THREADS opts into more on an idle machine.
    const threads = Number(process.env['ALP_NATIVE_THREADS'] ?? '1');
    if (api !== null && Number.isInteger(threads) && threads >= 1) api.setNumThreads(threads);
  } catch {
    api = null;
  }
  return api;
}

const BACKEND = 'wasm';

function isF32(...ts: Info[]): boolean {
  return ts.every((t) => t.dtype === 'float32');
}

function conv2dKernel(native: NativeApi, fallback: KernelFunc, fused: boolean): KernelFunc {
  return (args) => {
    const { x, filter, bias, preluActivationWeights } = args.inputs as Record<string, Info | undefined>;
    const a = args.attrs ?? {};
    const activation = (a['activation'] as string | undefined) ?? 'linear';
    const dil = a['dilations'] as number | number[] | undefined;
    const dilOk = dil === undefined || dil === 1 || (Array.isArray(dil) && dil.every((d) => d === 1));
    if (x === undefined || filter === undefined || (a['dataFormat'] ?? 'NHWC') !== 'NHWC' || !dilOk || preluActivationWeights !== undefined ||
        (activation !== 'linear' && activation !== 'relu') || !isF32(x, filter) || (bias !== undefined && (bias.shape.length !== 1 || bias.dtype !== 'float32'))) {
      return fallback(args);
    }
    const info = convInfo(x.shape, filter.shape, a);
    const be = args.backend as HeapBackend;
    const out = be.makeOutput([...info.outShape], 'float32');
    native.conv2d(be.typedArrayFromHeap(x), info.batchSize, info.inHeight, info.inWidth, info.inChannels,
      be.typedArrayFromHeap(filter), info.filterHeight, info.filterWidth, info.outChannels,
      be.typedArrayFromHeap(out), info.outHeight, info.outWidth, info.strideHeight, info.strideWidth, info.padInfo.top, info.padInfo.left,
      fused && bias !== undefined ? be.typedArrayFromHeap(bias) : null, fused && activation === 'relu');
    return out;
  };
}

function backpropInputKernel(native: NativeApi, fallback: KernelFunc): KernelFunc {
  return (args) => {
    const { dy, filter } = args.inputs as { dy: Info; filter: Info };
    const a = args.attrs ?? {};
    if ((a['dataFormat'] ?? 'NHWC') !== 'NHWC' || !isF32(dy, filter)) return fallback(args);
    const inputShape = a['inputShape'] as [number, number, number, number];
    const info = convInfo(inputShape, filter.shape, a);
    const be = args.backend as HeapBackend;
    const out = be.makeOutput([...inputShape], 'float32');
    native.conv2dBackpropInput(be.typedArrayFromHeap(dy), info.batchSize, info.outHeight, info.outWidth, info.outChannels,
      be.typedArrayFromHeap(filter), info.filterHeight, info.filterWidth, info.inChannels,
      be.typedArrayFromHeap(out), info.inHeight, info.inWidth, info.strideHeight, info.strideWidth, info.padInfo.top, info.padInfo.left);
    return out;
  };
}

function backpropFilterKernel(native: NativeApi, fallback: KernelFunc): KernelFunc {
  return (args) => {
    const { x, dy } = args.inputs as { x: Info; dy: Info };
    const a = args.attrs ?? {};
    if ((a['dataFormat'] ?? 'NHWC') !== 'NHWC' || !isF32(x, dy)) return fallback(args);
    const filterShape = a['filterShape'] as [number, number, number, number];
    const info = convInfo(x.shape, filterShape, a);
    const be = args.backend as HeapBackend;
    const out = be.makeOutput([...filterShape], 'float32');
    native.conv2dBackpropFilter(be.typedArrayFromHeap(x), info.batchSize, info.inHeight, info.inWidth, info.inChannels,
      be.typedArrayFromHeap(dy), info.outHeight, info.outWidth, info.outChannels,
      be.typedArrayFromHeap(out), info.filterHeight, info.filterWidth, info.strideHeight, info.strideWidth, info.padInfo.top, info.padInfo.left);
    return out;
  };
}

/** [.., M, K] · [.., K, N] for a single batch matrix (the layers' case); batched ones fall back. */
function matMulKernel(native: NativeApi, fallback: KernelFunc, fused: boolean): KernelFunc {
  return (args) => {
    const { a, b, bias, preluActivationWeights } = args.inputs as Record<string, Info | undefined>;
    const at = args.attrs ?? {};
    const activation = (at['activation'] as string | undefined) ?? 'linear';
    if (a === undefined || b === undefined || !isF32(a, b) || preluActivationWeights !== undefined || (activation !== 'linear' && activation !== 'relu')) return fallback(args);
    const batchA = a.shape.slice(0, -2).reduce((p, q) => p * q, 1);
    const batchB = b.shape.slice(0, -2).reduce((p, q) => p * q, 1);
    if (batchA !== 1 || batchB !== 1) return fallback(args);
    const tA = Boolean(at['transposeA']), tB = Boolean(at['transposeB']);
    const ra = a.shape.length, rb = b.shape.length;
    const M = (tA ? a.shape[ra - 1] : a.shape[ra - 2]) as number;
    const K = (tA ? a.shape[ra - 2] : a.shape[ra - 1]) as number;
    const N = (tB ? b.shape[rb - 2] : b.shape[rb - 1]) as number;
    let biasLen = 0;
    if (fused && bias !== undefined) {
      biasLen = bias.shape.reduce((p, q) => p * q, 1);
      if (bias.dtype !== 'float32' || (biasLen !== N && biasLen !== 1)) return fallback(args);
    }
    const be = args.backend as HeapBackend;
    // Same output shape as tfjs' kernel: the (all-ones) batch dims of the higher-rank input, then [M, N].
    const outer = (a.shape.length >= b.shape.length ? a.shape : b.shape).slice(0, -2);
    const out = be.makeOutput([...outer, M, N], 'float32');
    const o = be.typedArrayFromHeap(out);
    native.sgemm(tA, tB, M, N, K, be.typedArrayFromHeap(a), be.typedArrayFromHeap(b), o, false);
    if (fused && (biasLen > 0 || activation === 'relu')) {
      const bv = biasLen > 0 && bias !== undefined ? be.typedArrayFromHeap(bias) : null;
      const relu = activation === 'relu';
      for (let i = 0; i < M; i++) {
        const row = i * N;
        for (let j = 0; j < N; j++) {
          let v = (o[row + j] as number) + (bv === null ? 0 : (bv[biasLen === 1 ? 0 : j] as number));
          if (relu && v < 0) v = 0;
          o[row + j] = v;
        }
      }
    }
    return out;
  };
}

function maxPoolGradKernel(native: NativeApi, fallback: KernelFunc): KernelFunc {
  return (args) => {
    const { dy, input } = args.inputs as { dy: Info; input: Info };
    const a = args.attrs ?? {};
    if (!isF32(dy, input)) return fallback(args);
    const info = tf.backend_util.computePool2DInfo(input.shape as [number, number, number, number], a['filterSize'] as [number, number],
      a['strides'] as [number, number], 1, a['pad'] as 'same', a['dimRoundingMode'] as 'floor' | undefined);
    const be = args.backend as HeapBackend;
    const out = be.makeOutput([...input.shape], 'float32');
    native.maxPoolGrad(be.typedArrayFromHeap(dy), be.typedArrayFromHeap(input), info.batchSize, info.inHeight, info.inWidth, info.inChannels,
      info.outHeight, info.outWidth, info.effectiveFilterHeight, info.effectiveFilterWidth, info.strideHeight, info.strideWidth,
      info.padInfo.top, info.padInfo.left, be.typedArrayFromHeap(out));
    return out;
  };
}

let installed = false;

/**
 * Routes the heavy wasm kernels to the addon; returns whether it did. Call after installWasmKernels so
 * the composite kernels remain the fallback for cases the addon does not cover.
 */
export function installNativeKernels(): boolean {
  if (installed) return true;
  const native = nativeApi();
  if (native === null) return false;
  const wrap: Record<string, (fb: KernelFunc) => KernelFunc> = {
    Conv2D: (fb) => conv2dKernel(native, fb, false),
    FusedConv2D: (fb) => conv2dKernel(native, fb, true),
    Conv2DBackpropInput: (fb) => backpropInputKernel(native, fb),
    Conv2DBackpropFilter: (fb) => backpropFilterKernel(native, fb),
    BatchMatMul: (fb) => matMulKernel(native, fb, false),
    _FusedMatMul: (fb) => matMulKernel(native, fb, true),
    MaxPoolGrad: (fb) => maxPoolGradKernel(native, fb),
  };
  for (const [name, make] of Object.entries(wrap)) {
    const existing = tf.getKernel(name, BACKEND);
    if (existing === undefined) continue;
    const fallback = existing.kernelFunc as unknown as KernelFunc;
    tf.unregisterKernel(name, BACKEND);
    tf.registerKernel({ kernelName: name, backendName: BACKEND, kernelFunc: make(fallback) as unknown as tf.KernelFunc, ...(existing.setupFunc !== undefined ? { setupFunc: existing.setupFunc } : {}) });
  }
  installed = true;
  return true;
}

export function nativeKernelsInstalled(): boolean {
  return installed;
}
