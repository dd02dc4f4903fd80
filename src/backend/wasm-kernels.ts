/**
 * Kernels that make the `wasm` backend usable for adversarial training.
 *
 * tfjs-backend-wasm 4.x has no `Conv2DBackpropFilter`, and its `Conv2DBackpropInput` and the
 * transposed variants of `BatchMatMul` are scalar loops 10-100x slower than its XNNPACK convolution
 * and plain matmul (measured in ../shared/README.md). Each kernel here is rewritten as a composition
 * of the backend's own fast kernels (Conv2D, BatchMatMul, Transpose, PadV2, Reverse, Slice), so the
 * numbers stay exactly those of a convolution / matmul and no new native code is needed.
 *
 * Only the `wasm` backend is touched: other backends (tfjs-node, cpu, webgl) keep their kernels.
 */
import * as tf from '@tensorflow/tfjs';

type Info = tf.TensorInfo;
export type Attrs = Record<string, unknown>;
// The kernel registry's own types are loose (NamedAttrMap); this keeps call sites typed enough.
type KernelFunc = (args: { inputs: Record<string, Info>; attrs?: Attrs; backend: unknown }) => Info | Info[];

interface Disposable {
  disposeData(dataId: object): boolean;
}

const BACKEND = 'wasm';
const originals = new Map<string, KernelFunc>();

function kernel(name: string): KernelFunc {
  const saved = originals.get(name);
  if (saved !== undefined) return saved;
  const k = tf.getKernel(name, BACKEND);
  if (k === undefined) throw new Error(`wasm backend has no ${name} kernel`);
  return k.kernelFunc as unknown as KernelFunc;
}

/** Runs one backend kernel and returns its single output. */
function run(backend: unknown, name: string, inputs: Record<string, Info>, attrs: Attrs = {}): Info {
  const out = kernel(name)({ inputs, attrs, backend });
  return Array.isArray(out) ? (out[0] as Info) : out;
}

/** Tracks intermediates so that every temporary buffer is released, even on error. */
class Scratch {
  private readonly temps: Info[] = [];
  constructor(readonly backend: unknown) {}
  op(name: string, inputs: Record<string, Info>, attrs: Attrs = {}): Info {
    const out = run(this.backend, name, inputs, attrs);
    this.temps.push(out);
    return out;
  }
  reshape(x: Info, shape: number[]): Info {
    return this.op('Reshape', { x }, { shape });
  }
  transpose(x: Info, perm: number[]): Info {
    return this.op('Transpose', { x }, { perm });
  }
  pad(x: Info, paddings: Array<[number, number]>): Info {
    if (paddings.every(([a, b]) => a === 0 && b === 0)) return x;
    return this.op('PadV2', { x }, { paddings, constantValue: 0 });
  }
  slice(x: Info, begin: number[], size: number[]): Info {
    if (begin.every((b) => b === 0) && size.every((s, i) => s === x.shape[i])) return x;
    return this.op('Slice', { x }, { begin, size });
  }
  /** Keeps `keep` alive and frees every other intermediate. */
  release(keep?: Info): void {
    const be = this.backend as Disposable;
    for (const t of this.temps) if (t !== keep) be.disposeData(t.dataId);
    this.temps.length = 0;
  }
}

function withScratch(backend: unknown, f: (s: Scratch) => Info): Info {
  const s = new Scratch(backend);
  let out: Info | undefined;
  try {
    out = f(s);
    return out;
  } finally {
    s.release(out);
  }
}

/** Inserts (stride-1) zeros between rows and columns of an NHWC tensor: the adjoint of striding. */
function dilateSpatial(s: Scratch, x: Info, sh: number, sw: number): Info {
  if (sh === 1 && sw === 1) return x;
  const [n, h, w, c] = x.shape as [number, number, number, number];
  const r = s.reshape(x, [n, h, 1, w, 1, c]);
  const p = s.pad(r, [[0, 0], [0, 0], [0, sh - 1], [0, 0], [0, sw - 1], [0, 0]]);
  const flat = s.reshape(p, [n, h * sh, w * sw, c]);
  return s.slice(flat, [0, 0, 0, 0], [n, (h - 1) * sh + 1, (w - 1) * sw + 1, c]);
}

/** Pads (or crops, where the amount is negative) the two spatial axes of an NHWC tensor. */
function padOrCrop(s: Scratch, x: Info, top: number, bottom: number, left: number, right: number): Info {
  const [n, h, w, c] = x.shape as [number, number, number, number];
  const padded = s.pad(x, [[0, 0], [Math.max(top, 0), Math.max(bottom, 0)], [Math.max(left, 0), Math.max(right, 0)], [0, 0]]);
  const ct = Math.max(-top, 0), cb = Math.max(-bottom, 0), cl = Math.max(-left, 0), cr = Math.max(-right, 0);
  const ph = h + Math.max(top, 0) + Math.max(bottom, 0), pw = w + Math.max(left, 0) + Math.max(right, 0);
  return s.slice(padded, [0, ct, cl, 0], [n, ph - ct - cb, pw - cl - cr, c]);
}

/** Conv geometry from a conv kernel's attrs (shared with the native kernels). */
export function convInfo(xShape: number[], filterShape: number[], attrs: Attrs): tf.backend_util.Conv2DInfo {
  const format = tf.backend_util.convertConv2DDataFormat((attrs['dataFormat'] as 'NHWC' | 'NCHW') ?? 'NHWC');
  return tf.backend_util.computeConv2DInfo(
    xShape as [number, number, number, number],
    filterShape as [number, number, number, number],
    attrs['strides'] as [number, number] | number,
    1,
    attrs['pad'] as 'valid' | 'same' | number,
    attrs['dimRoundingMode'] as 'floor' | 'round' | 'ceil' | undefined,
    false,
    format,
  );
}

/**
 * dx of a 2-D convolution as a stride-1 VALID convolution of the stride-dilated, re-padded dy with the
 * spatially flipped filter whose in/out channels are swapped.
 */
function conv2DBackpropInput(args: { inputs: Record<string, Info>; attrs?: Attrs; backend: unknown }): Info {
  const { dy, filter } = args.inputs as { dy: Info; filter: Info };
  const attrs = args.attrs ?? {};
  if ((attrs['dataFormat'] ?? 'NHWC') !== 'NHWC') return run(args.backend, 'Conv2DBackpropInput', args.inputs, attrs);
  const inputShape = attrs['inputShape'] as number[];
  const info = convInfo(inputShape, filter.shape, attrs);
  const { strideHeight: sh, strideWidth: sw, filterHeight: kh, filterWidth: kw } = info;
  return withScratch(args.backend, (s) => {
    const d = dilateSpatial(s, dy, sh, sw);
    const dh = d.shape[1] as number, dw = d.shape[2] as number;
    const top = kh - 1 - info.padInfo.top, left = kw - 1 - info.padInfo.left;
    const bottom = info.inHeight + kh - 1 - top - dh, right = info.inWidth + kw - 1 - left - dw;
    const dp = padOrCrop(s, d, top, bottom, left, right);
    const flipped = s.op('Reverse', { x: filter }, { dims: [0, 1] });
    const w = s.transpose(flipped, [0, 1, 3, 2]);
    return s.op('Conv2D', { x: dp, filter: w }, {
      strides: [1, 1], pad: 'valid', dataFormat: 'NHWC', dilations: [1, 1], dimRoundingMode: undefined,
    });
  });
}

/**
 * dW of a 2-D convolution as one convolution in which the batch axis plays the role of channels:
 * input x^T [ci, H, W, N] correlated with dy^T [OH, OW, N, co] gives [ci, kh, kw, co].
 */
function conv2DBackpropFilter(args: { inputs: Record<string, Info>; attrs?: Attrs; backend: unknown }): Info {
  const { x, dy } = args.inputs as { x: Info; dy: Info };
  const attrs = args.attrs ?? {};
  if ((attrs['dataFormat'] ?? 'NHWC') !== 'NHWC') {
    throw new Error('Conv2DBackpropFilter on wasm supports only NHWC data');
  }
  const filterShape = attrs['filterShape'] as [number, number, number, number];
  const info = convInfo(x.shape, filterShape, attrs);
  const { strideHeight: sh, strideWidth: sw, filterHeight: kh, filterWidth: kw } = info;
  return withScratch(args.backend, (s) => {
    const d = dilateSpatial(s, dy, sh, sw);
    const dh = d.shape[1] as number, dw = d.shape[2] as number;
    // Pad x exactly as the forward pass did, then crop so that the correlation yields kh x kw outputs.
    const needH = dh + kh - 1, needW = dw + kw - 1;
    const top = info.padInfo.top, left = info.padInfo.left;
    const xp = padOrCrop(s, x, top, needH - info.inHeight - top, left, needW - info.inWidth - left);
    const xt = s.transpose(xp, [3, 1, 2, 0]);
    const ft = s.transpose(d, [1, 2, 0, 3]);
    const conv = s.op('Conv2D', { x: xt, filter: ft }, {
      strides: [1, 1], pad: 'valid', dataFormat: 'NHWC', dilations: [1, 1], dimRoundingMode: undefined,
    });
    return s.transpose(conv, [1, 2, 0, 3]);
  });
}

/** Makes a transposed operand contiguous first: a copy costs far less than the strided inner loop. */
function untransposed(s: Scratch, t: Info, transposed: boolean): Info {
  if (!transposed) return t;
  const r = t.shape.length;
  const perm = [...Array(r).keys()];
  [perm[r - 2], perm[r - 1]] = [perm[r - 1] as number, perm[r - 2] as number];
  return s.transpose(t, perm);
}

/** BatchMatMul or _FusedMatMul with any transposed operand made contiguous first (untransposed). */
function untransposedMatMul(name: 'BatchMatMul' | '_FusedMatMul', args: { inputs: Record<string, Info>; attrs?: Attrs; backend: unknown }): Info {
  const attrs = args.attrs ?? {};
  const { a, b } = args.inputs as { a: Info; b: Info };
  if (!attrs['transposeA'] && !attrs['transposeB']) return run(args.backend, name, args.inputs, attrs);
  return withScratch(args.backend, (s) => {
    const a2 = untransposed(s, a, Boolean(attrs['transposeA']));
    const b2 = untransposed(s, b, Boolean(attrs['transposeB']));
    return s.op(name, { ...args.inputs, a: a2, b: b2 }, { ...attrs, transposeA: false, transposeB: false });
  });
}

/** The two wasm-backend methods kernels need to work on heap memory in place. */
export interface HeapBackend {
  makeOutput(shape: number[], dtype: tf.DataType): Info;
  typedArrayFromHeap(t: Info): Float32Array;
}

/**
 * Max-pool gradient as a plain loop over the wasm heap. tfjs-backend-wasm 4.22's own kernel starts its
 * running maximum at the smallest positive float instead of -Infinity, so a window whose values are all
 * ≤ 0 sends its gradient to the first element of the tensor. Ties go to the first maximum in window
 * order, as in the cpu backend and PyTorch.
 */
function maxPoolGrad(args: { inputs: Record<string, Info>; attrs?: Attrs; backend: unknown }): Info {
  const { dy, input } = args.inputs as { dy: Info; input: Info };
  const a = args.attrs ?? {};
  if (dy.dtype !== 'float32' || input.dtype !== 'float32') return run(args.backend, 'MaxPoolGrad', args.inputs, a);
  const info = tf.backend_util.computePool2DInfo(input.shape as [number, number, number, number], a['filterSize'] as [number, number],
    a['strides'] as [number, number], 1, a['pad'] as 'same', a['dimRoundingMode'] as 'floor' | undefined);
  const be = args.backend as HeapBackend;
  const out = be.makeOutput([...input.shape], 'float32');
  const dx = be.typedArrayFromHeap(out);
  const x = be.typedArrayFromHeap(input);
  const g = be.typedArrayFromHeap(dy);
  dx.fill(0);
  const { batchSize: N, inHeight: H, inWidth: W, inChannels: C, outHeight: OH, outWidth: OW } = info;
  const { strideHeight: sH, strideWidth: sW, effectiveFilterHeight: pH, effectiveFilterWidth: pW } = info;
  const top = info.padInfo.top, left = info.padInfo.left;
  for (let n = 0; n < N; n++) {
    for (let oy = 0; oy < OH; oy++) {
      for (let ox = 0; ox < OW; ox++) {
        for (let c = 0; c < C; c++) {
          let best = -Infinity, at = -1;
          for (let ky = 0; ky < pH; ky++) {
            const iy = oy * sH - top + ky;
            if (iy < 0 || iy >= H) continue;
            for (let kx = 0; kx < pW; kx++) {
              const ix = ox * sW - left + kx;
              if (ix < 0 || ix >= W) continue;
              const idx = ((n * H + iy) * W + ix) * C + c;
              const v = x[idx] as number;
              if (v > best) {
                best = v;
                at = idx;
              }
            }
          }
          if (at >= 0) dx[at] = (dx[at] as number) + (g[((n * OH + oy) * OW + ox) * C + c] as number);
        }
      }
    }
  }
  return out;
}

/**
 * Sums rows of x into numSegments buckets by segment id (ids outside [0, numSegments) are dropped, as
 * in TensorFlow). tfjs-backend-wasm 4.22 has no such kernel, and the gradient of a gather — of every
 * Embedding layer — needs it.
 */
function unsortedSegmentSum(args: { inputs: Record<string, Info>; attrs?: Attrs; backend: unknown }): Info {
  const { x, segmentIds } = args.inputs as { x: Info; segmentIds: Info };
  const numSegments = (args.attrs ?? {})['numSegments'] as number;
  if (x.dtype !== 'float32') throw new Error(`UnsortedSegmentSum (alp wasm kernel): expected float32 values, found ${x.dtype}`);
  const be = args.backend as HeapBackend;
  const n = segmentIds.shape.reduce((a, b) => a * b, 1);
  const size = x.shape.reduce((a, b) => a * b, 1);
  const row = n > 0 ? size / n : 0;
  const out = be.makeOutput([numSegments, ...x.shape.slice(segmentIds.shape.length)], 'float32');
  const o = be.typedArrayFromHeap(out);
  const v = be.typedArrayFromHeap(x);
  const ids = be.typedArrayFromHeap(segmentIds) as unknown as Int32Array;
  o.fill(0);
  for (let i = 0; i < n; i++) {
    const s = ids[i] as number;
    if (s < 0 || s >= numSegments) continue;
    const from = i * row, to = s * row;
    for (let j = 0; j < row; j++) o[to + j] = (o[to + j] as number) + (v[from + j] as number);
  }
  return out;
}

/**
 * sign(x) as TF.js' cpu backend and TensorFlow define it: −1, 0 or 1 by comparison with zero.
 * tfjs-backend-wasm 4.22's kernel returns 0 for every |x| < 2⁻²³ (FLT_EPSILON; measured: sign(1.19e-7)
 * = 0, sign(1.2e-7) = 1), so a sign-gradient attack (FGSM, PGD) left every input whose gradient is
 * that small where it was: on a confident model, where cross-entropy gradients are tiny, PGD was
 * weaker on wasm than on any other backend. Non-float32 inputs keep the original kernel.
 */
function sign(args: { inputs: Record<string, Info>; attrs?: Attrs; backend: unknown }): Info {
  const { x } = args.inputs as { x: Info };
  if (x.dtype !== 'float32') return kernel('Sign')(args) as Info;
  const be = args.backend as HeapBackend;
  const out = be.makeOutput([...x.shape], 'float32');
  const o = be.typedArrayFromHeap(out);
  const v = be.typedArrayFromHeap(x);
  for (let i = 0; i < v.length; i++) {
    const xi = v[i] as number;
    o[i] = xi < 0 ? -1 : xi > 0 ? 1 : 0;
  }
  return out;
}

const replacements: Record<string, KernelFunc> = {
  Sign: sign,
  UnsortedSegmentSum: unsortedSegmentSum,
  MaxPoolGrad: maxPoolGrad,
  Conv2DBackpropInput: conv2DBackpropInput,
  Conv2DBackpropFilter: conv2DBackpropFilter,
  BatchMatMul: (args) => untransposedMatMul('BatchMatMul', args),
  _FusedMatMul: (args) => untransposedMatMul('_FusedMatMul', args),
};

let installed = false;

/** Registers the composite kernels on the wasm backend. Idempotent. */
export function installWasmKernels(): void {
  if (installed) return;
  for (const [name, func] of Object.entries(replacements)) {
    const existing = tf.getKernel(name, BACKEND);
    if (existing !== undefined) {
      originals.set(name, existing.kernelFunc as unknown as KernelFunc);
      tf.unregisterKernel(name, BACKEND);
    }
    // The wasm kernels bind their C entry points in setupFunc when the backend initialises; keep it
    // so the original kernel we delegate to still works.
    tf.registerKernel({
      kernelName: name,
      backendName: BACKEND,
      kernelFunc: func as unknown as tf.KernelFunc,
      ...(existing?.setupFunc !== undefined ? { setupFunc: existing.setupFunc } : {}),
    });
  }
  installed = true;
}

/** The kernels this module replaces or adds, for tests and diagnostics. */
export const WASM_KERNEL_NAMES: readonly string[] = Object.keys(replacements);
