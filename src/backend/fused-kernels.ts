/**
 * Fused and zero-copy kernels for the `wasm` backend, chosen from a profile of the madry-cnn PGD and ALP
 * steps (bench/README.md, "Profile"): after the convolutions and matmuls moved to the native addon, the
 * largest remaining costs were element-wise passes that each allocate a fresh wasm-heap tensor.
 *
 * - Identity: tfjs-core clones every tensor it saves for the backward pass, and the wasm Identity
 *   copies the data; here it shares the buffer by reference count, as the cpu backend and every
 *   wasm Reshape already do (wasm kernels never write into an input, so sharing is safe).
 * - Relu gradient: TF.js computes dy · float(step(x)) as three kernels (Step, Cast, Multiply) and
 *   three full-size tensors; `AlpReluGrad` is one native pass with the same values, NaN and -0 included.
 * - Sum over all leading axes (the gradient of every bias add): the wasm Sum transposes the whole
 *   tensor first; `sumRows` adds rows in place, in the same order (float32, row after row).
 *
 * - Add of a bias vector [C] to a [..., C] tensor: while gradients are recorded TF.js does not fuse the
 *   bias into the convolution, and the wasm Add takes its slow broadcasting path; `addRow` is one pass
 *   (x + b, the same float32 sums).
 *
 * Other backends keep TF.js' kernels and gradients.
 */
import * as tf from '@tensorflow/tfjs';
import type { HeapBackend } from './wasm-kernels.js';
import type { NativeApi } from './native-kernels.js';

type Info = tf.TensorInfo;
type Attrs = Record<string, unknown>;
type Args = { inputs: Record<string, Info>; attrs?: Attrs; backend: unknown };
type KernelFunc = (args: Args) => Info | Info[];

const BACKEND = 'wasm';
export const RELU_GRAD_KERNEL = 'AlpReluGrad';

interface RefCounting {
  incRef(dataId: object): void;
}

function identity(fallback: KernelFunc): KernelFunc {
  return (args) => {
    const x = args.inputs['x'] as Info;
    if (x.dtype === 'string') return fallback(args);
    (args.backend as RefCounting).incRef(x.dataId);
    return { dataId: x.dataId, shape: [...x.shape], dtype: x.dtype };
  };
}

function reluGrad(native: NativeApi): KernelFunc {
  return (args) => {
    const { dy, x } = args.inputs as { dy: Info; x: Info };
    const be = args.backend as HeapBackend;
    const out = be.makeOutput([...x.shape], 'float32');
    const n = x.shape.reduce((p, q) => p * q, 1);
    native.reluGrad(be.typedArrayFromHeap(dy), be.typedArrayFromHeap(x), be.typedArrayFromHeap(out), n);
    return out;
  };
}

/** Normalised, sorted reduction axes; null when they are not exactly 0..rank-2. */
function leadingAxes(axis: unknown, rank: number): boolean {
  if (rank < 2) return false;
  const list = (Array.isArray(axis) ? axis : [axis]) as number[];
  const norm = [...new Set(list.map((a) => (a < 0 ? a + rank : a)))].sort((p, q) => p - q);
  return norm.length === rank - 1 && norm.every((a, i) => a === i);
}

function sum(native: NativeApi, fallback: KernelFunc): KernelFunc {
  return (args) => {
    const x = args.inputs['x'] as Info;
    const a = args.attrs ?? {};
    if (x.dtype !== 'float32' || !leadingAxes(a['axis'], x.shape.length)) return fallback(args);
    const C = x.shape[x.shape.length - 1] as number;
    const R = x.shape.slice(0, -1).reduce((p, q) => p * q, 1);
    if (R === 0 || C === 0) return fallback(args);
    const be = args.backend as HeapBackend;
    const shape = a['keepDims'] ? [...x.shape.slice(0, -1).map(() => 1), C] : [C];
    const out = be.makeOutput(shape, 'float32');
    native.sumRows(be.typedArrayFromHeap(x), R, C, be.typedArrayFromHeap(out));
    return out;
  };
}

function add(native: NativeApi, fallback: KernelFunc): KernelFunc {
  return (args) => {
    const { a, b } = args.inputs as { a: Info; b: Info };
    const isBias = (x: Info, v: Info): boolean =>
      x.shape.length >= 2 && v.shape.length === 1 && v.shape[0] === x.shape[x.shape.length - 1];
    if (a.dtype !== 'float32' || b.dtype !== 'float32') return fallback(args);
    const [x, v] = isBias(a, b) ? [a, b] : isBias(b, a) ? [b, a] : [null, null];
    if (x === null || v === null) return fallback(args);
    const C = v.shape[0] as number;
    const R = x.shape.slice(0, -1).reduce((p, q) => p * q, 1);
    if (R === 0 || C === 0) return fallback(args);
    const be = args.backend as HeapBackend;
    const out = be.makeOutput([...x.shape], 'float32');
    native.addRow(be.typedArrayFromHeap(x), R, C, be.typedArrayFromHeap(v), be.typedArrayFromHeap(out));
    return out;
  };
}

function register(name: string, kernelFunc: KernelFunc, setupFunc?: tf.KernelConfig['setupFunc']): void {
  if (tf.getKernel(name, BACKEND) !== undefined) tf.unregisterKernel(name, BACKEND);
  tf.registerKernel({ kernelName: name, backendName: BACKEND, kernelFunc: kernelFunc as unknown as tf.KernelFunc, ...(setupFunc !== undefined ? { setupFunc } : {}) });
}

/** TF.js' own Relu gradient, kept for every backend but wasm. */
function tfjsReluGrad(dy: tf.Tensor, x: tf.Tensor): tf.Tensor {
  return tf.mul(dy, tf.cast(tf.step(x), 'float32'));
}

function fusedReluGradient(): void {
  tf.registerGradient({
    kernelName: 'Relu',
    inputsToSave: ['x'],
    gradFunc: (dy, saved) => {
      const d = dy as tf.Tensor;
      const x = (saved as tf.Tensor[])[0] as tf.Tensor;
      return {
        x: () =>
          tf.getBackend() === BACKEND && tf.getKernel(RELU_GRAD_KERNEL, BACKEND) !== undefined && d.dtype === 'float32' && x.dtype === 'float32'
            ? (tf.engine().runKernel(RELU_GRAD_KERNEL, { dy: d, x }) as tf.Tensor)
            : tfjsReluGrad(d, x),
      };
    },
  });
  // Linear in dy, piecewise constant in x: a second derivative exists (Hessian-vector products).
  tf.registerGradient({
    kernelName: RELU_GRAD_KERNEL,
    inputsToSave: ['x'],
    gradFunc: (ddx, saved) => {
      const x = (saved as tf.Tensor[])[0] as tf.Tensor;
      return {
        dy: () => tf.engine().runKernel(RELU_GRAD_KERNEL, { dy: ddx as tf.Tensor, x }) as tf.Tensor,
        x: () => tf.zerosLike(x),
      };
    },
  });
}

let installed = false;

/**
 * Installs the kernels above on the wasm backend; the native ones only when the addon is loaded.
 * Call after installNativeKernels. Idempotent.
 */
export function installFusedKernels(native: NativeApi | null): void {
  if (installed || tf.findBackendFactory(BACKEND) === null) return;
  const existing = (name: string): { fn: KernelFunc; setup?: tf.KernelConfig['setupFunc'] } | undefined => {
    const k = tf.getKernel(name, BACKEND);
    return k === undefined ? undefined : { fn: k.kernelFunc as unknown as KernelFunc, setup: k.setupFunc };
  };
  const id = existing('Identity');
  if (id !== undefined) register('Identity', identity(id.fn), id.setup);
  if (native !== null) {
    register(RELU_GRAD_KERNEL, reluGrad(native));
    fusedReluGradient();
    const s = existing('Sum');
    if (s !== undefined) register('Sum', sum(native, s.fn), s.setup);
    const ad = existing('Add');
    if (ad !== undefined) register('Add', add(native, ad.fn), ad.setup);
  }
  installed = true;
}

export function fusedKernelsInstalled(): boolean {
  return installed;
}
