/**
 * Adam with one fused pass per variable. TF.js' AdamOptimizer runs ~12 element-wise kernels per
 * variable per step, each allocating a tensor; on the wasm backend that was ~15% of a madry-cnn train
 * step (bench/README.md, "Profile"). This subclass computes exactly the same float32 values — the same
 * operations in the same order, each rounded to float32 — in one kernel (`AlpAdamUpdate`: native when
 * the addon is loaded, else a typed-array loop), so runs, checkpoints and `--resume` are bit-identical
 * to tf.train.adam. On other backends it is tf.train.adam. Its class name stays 'Adam'.
 */
import * as tf from '@tensorflow/tfjs';
import type { HeapBackend } from './wasm-kernels.js';
import type { NativeApi } from './native-kernels.js';

type Info = tf.TensorInfo;
type Args = { inputs: Record<string, Info>; attrs?: Record<string, unknown>; backend: unknown };

const BACKEND = 'wasm';
export const ADAM_KERNEL = 'AlpAdamUpdate';

/** The float32 constants of one step, as TF.js materialises them (scalar tensors of JS numbers). */
export interface AdamConstants {
  beta1: number;
  oneMinusBeta1: number;
  beta2: number;
  oneMinusBeta2: number;
  oneMinusAccBeta1: number;
  oneMinusAccBeta2: number;
  epsilon: number;
  negLr: number;
}

/** The update in JS, every operation rounded to float32 like the wasm kernels TF.js would run. */
export function adamUpdateJs(value: Float32Array, m: Float32Array, v: Float32Array, g: Float32Array,
  outValue: Float32Array, outM: Float32Array, outV: Float32Array, k: AdamConstants): void {
  const f = Math.fround;
  for (let i = 0; i < value.length; i++) {
    const gi = g[i] as number;
    const nm = f(f((m[i] as number) * k.beta1) + f(gi * k.oneMinusBeta1));
    const nv = f(f((v[i] as number) * k.beta2) + f(f(gi * gi) * k.oneMinusBeta2));
    const den = f(f(Math.sqrt(f(nv / k.oneMinusAccBeta2))) + k.epsilon);
    outValue[i] = f(f(f(f(nm / k.oneMinusAccBeta1) / den) * k.negLr) + (value[i] as number));
    outM[i] = nm;
    outV[i] = nv;
  }
}

function adamKernel(native: NativeApi | null) {
  return (args: Args): Info[] => {
    const { value, m, v, g } = args.inputs as { value: Info; m: Info; v: Info; g: Info };
    const k = args.attrs as unknown as AdamConstants;
    const be = args.backend as HeapBackend;
    const outs = [be.makeOutput([...value.shape], 'float32'), be.makeOutput([...value.shape], 'float32'), be.makeOutput([...value.shape], 'float32')];
    const [ov, om, ovv] = outs.map((o) => be.typedArrayFromHeap(o)) as [Float32Array, Float32Array, Float32Array];
    const h = (t: Info): Float32Array => be.typedArrayFromHeap(t);
    if (native !== null) {
      native.adamUpdate(h(value), h(m), h(v), h(g), ov, om, ovv, ov.length, k.beta1, k.oneMinusBeta1, k.beta2, k.oneMinusBeta2,
        k.oneMinusAccBeta1, k.oneMinusAccBeta2, k.epsilon, k.negLr);
    } else {
      adamUpdateJs(h(value), h(m), h(v), h(g), ov, om, ovv, k);
    }
    return outs;
  };
}

let registered = false;

/** Registers `AlpAdamUpdate` on the wasm backend (native when given the addon). Idempotent. */
export function installFusedAdam(native: NativeApi | null): void {
  if (registered || tf.findBackendFactory(BACKEND) === null) return;
  if (tf.getKernel(ADAM_KERNEL, BACKEND) === undefined) {
    tf.registerKernel({ kernelName: ADAM_KERNEL, backendName: BACKEND, kernelFunc: adamKernel(native) as unknown as tf.KernelFunc });
  }
  registered = true;
}

/** The fields of tfjs 4.22's AdamOptimizer this subclass reads (private in its typings). */
interface AdamFields {
  learningRate: number;
  beta1: number;
  beta2: number;
  epsilon: number;
  accBeta1: tf.Variable;
  accBeta2: tf.Variable;
  accumulatedFirstMoment: Array<{ originalName: string; variable: tf.Variable } | undefined>;
  accumulatedSecondMoment: Array<{ originalName: string; variable: tf.Variable } | undefined>;
}

type Gradients = Parameters<tf.AdamOptimizer['applyGradients']>[0];
type NamedTensor = { name: string; tensor: tf.Tensor };

export class FusedAdamOptimizer extends tf.AdamOptimizer {
  override applyGradients(variableGradients: Gradients): void {
    const list = Array.isArray(variableGradients) ? (variableGradients as NamedTensor[]) : null;
    const names = list !== null ? list.map((v) => v.name) : Object.keys(variableGradients);
    const gradOf = (name: string, i: number): tf.Tensor | undefined =>
      list !== null ? list[i]?.tensor : (variableGradients as tf.NamedTensorMap)[name];
    const vars = tf.engine().registeredVariables;
    const usable = tf.getBackend() === BACKEND && tf.getKernel(ADAM_KERNEL, BACKEND) !== undefined &&
      names.every((name, i) => {
        const g = gradOf(name, i);
        return vars[name]?.dtype === 'float32' && (g === undefined || g === null || g.dtype === 'float32');
      });
    if (!usable) {
      super.applyGradients(variableGradients);
      return;
    }
    const s = this as unknown as AdamFields;
    const f = Math.fround;
    tf.tidy(() => {
      // sub(1, accBeta1) in float32: the float32 rounding of the exact difference.
      const k: AdamConstants = {
        beta1: f(s.beta1), oneMinusBeta1: f(1 - s.beta1), beta2: f(s.beta2), oneMinusBeta2: f(1 - s.beta2),
        oneMinusAccBeta1: f(1 - (s.accBeta1.dataSync()[0] as number)), oneMinusAccBeta2: f(1 - (s.accBeta2.dataSync()[0] as number)),
        epsilon: f(s.epsilon), negLr: f(-s.learningRate),
      };
      names.forEach((name, i) => {
        const value = vars[name] as tf.Variable;
        s.accumulatedFirstMoment[i] ??= { originalName: `${name}/m`, variable: tf.tidy(() => tf.zerosLike(value).variable(false)) };
        s.accumulatedSecondMoment[i] ??= { originalName: `${name}/v`, variable: tf.tidy(() => tf.zerosLike(value).variable(false)) };
        const g = gradOf(name, i);
        if (g === undefined || g === null) return;
        const m = (s.accumulatedFirstMoment[i] as { variable: tf.Variable }).variable;
        const v = (s.accumulatedSecondMoment[i] as { variable: tf.Variable }).variable;
        const [nv, nm, nvv] = tf.engine().runKernel(ADAM_KERNEL, { value, m, v, g }, k as unknown as tf.NamedAttrMap) as tf.Tensor[];
        m.assign(nm as tf.Tensor);
        v.assign(nvv as tf.Tensor);
        value.assign(nv as tf.Tensor);
      });
      s.accBeta1.assign(tf.mul(s.accBeta1, s.beta1));
      s.accBeta2.assign(tf.mul(s.accBeta2, s.beta2));
    });
    this.incrementIterations();
  }
}

/** Drop-in for tf.train.adam(lr) with TF.js' defaults (beta1 0.9, beta2 0.999, the backend's epsilon). */
export function fusedAdam(learningRate: number, beta1 = 0.9, beta2 = 0.999, epsilon?: number): tf.AdamOptimizer {
  return new FusedAdamOptimizer(learningRate, beta1, beta2, epsilon);
}
