/**
 * The activations the native network (./native-network.ts) runs, forward and backward, on plain
 * Float32Arrays: the functions tfjs-layers 4.22 applies and the gradients tfjs-core's autodiff takes of
 * them, including where each mask is strict (relu6 passes 0 < x < 6, a ReLU layer's maxValue clip
 * passes 0 < x ≤ max, leaky ReLU takes the slope at 0). Arithmetic runs in float64 and is rounded to
 * float32 once per TF.js operation, so results are within float32 rounding of TF.js'.
 */
export type ActivationName = 'linear' | 'relu' | 'relu6' | 'relu-clip' | 'leaky' | 'elu' | 'sigmoid' | 'tanh' | 'swish' | 'gelu';

export interface Activation {
  readonly name: ActivationName;
  /** LeakyReLU's slope. */
  readonly alpha: number;
  /** relu-clip's maximum (a ReLU layer's maxValue). */
  readonly cap: number;
}

const act = (name: ActivationName, alpha = 0, cap = 0): Activation => ({ name, alpha, cap });

/** By the names layers' configs use (`activation: 'relu'` …); 'relu-clip' and 'leaky' come from the ReLU and LeakyReLU layers. */
export const ACTIVATIONS: Readonly<Record<string, Activation>> = {
  linear: act('linear'),
  relu: act('relu'),
  relu6: act('relu6'),
  'relu-clip': act('relu-clip', 0, 6),
  leaky: act('leaky', 0.3),
  elu: act('elu'),
  sigmoid: act('sigmoid'),
  tanh: act('tanh'),
  swish: act('swish'),
  silu: act('swish'),
  gelu: act('gelu'),
};

/**
 * The activations the native addon computes itself (`activation`/`activationGrad`, vectorised: in
 * JavaScript an exp per element made a swish network's step 2.6x slower than its ReLU twin), by the
 * addon's numbering. Its exp is a polynomial within 3 ulps of the exact value, so results can differ
 * from the JavaScript loops below by a few float32 ulps (ELU by one ulp of e^x, more relative to a result
 * near 0, where e^x − 1 cancels in TF.js as here).
 */
export const NATIVE_ACTIVATION_KINDS: Readonly<Partial<Record<ActivationName, number>>> = { swish: 0, sigmoid: 1, elu: 2, gelu: 3 };

const f32 = Math.fround;

/** erf by Abramowitz–Stegun 7.1.26, the approximation TF.js' erf kernels use. */
export function erf(v: number): number {
  const p = 0.3275911, a1 = 0.254829592, a2 = -0.284496736, a3 = 1.421413741, a4 = -1.453152027, a5 = 1.061405429;
  const s = Math.sign(v), a = Math.abs(v);
  const t = 1 / (1 + p * a);
  return s * (1 - ((((a5 * t + a4) * t + a3) * t + a2) * t + a1) * t * Math.exp(-a * a));
}

const sigmoid = (x: number): number => f32(1 / (1 + Math.exp(-x)));
const SQRT2 = Math.sqrt(2);
const TWO_OVER_SQRT_PI = 2 / Math.sqrt(Math.PI);

export function activationForward(a: Activation, x: Float32Array, out: Float32Array, n: number): void {
  switch (a.name) {
    case 'linear':
      out.set(x.subarray(0, n));
      return;
    case 'relu':
      for (let i = 0; i < n; i++) {
        const v = x[i] as number;
        out[i] = v < 0 ? 0 : v;
      }
      return;
    case 'relu6':
    case 'relu-clip': {
      const cap = a.name === 'relu6' ? 6 : a.cap;
      for (let i = 0; i < n; i++) {
        const v = x[i] as number;
        out[i] = v < 0 ? 0 : v > cap ? cap : v;
      }
      return;
    }
    case 'leaky':
      for (let i = 0; i < n; i++) {
        const v = x[i] as number;
        out[i] = v < 0 ? a.alpha * v : v;
      }
      return;
    case 'elu':
      for (let i = 0; i < n; i++) {
        const v = x[i] as number;
        out[i] = v >= 0 ? v : f32(Math.exp(v)) - 1;
      }
      return;
    case 'sigmoid':
      for (let i = 0; i < n; i++) out[i] = sigmoid(x[i] as number);
      return;
    case 'tanh':
      for (let i = 0; i < n; i++) out[i] = Math.tanh(x[i] as number);
      return;
    case 'swish':
      for (let i = 0; i < n; i++) {
        const v = x[i] as number;
        out[i] = sigmoid(v) * v;
      }
      return;
    case 'gelu':
      for (let i = 0; i < n; i++) {
        const v = x[i] as number;
        out[i] = v * f32(0.5 * f32(1 + f32(erf(f32(v / SQRT2)))));
      }
      return;
  }
}

/** dx = dy · f'(x), from the input x and the output y = f(x) (dx may not alias dy). */
export function activationBackward(a: Activation, dy: Float32Array, x: Float32Array, y: Float32Array, dx: Float32Array, n: number): void {
  switch (a.name) {
    case 'linear':
      dx.set(dy.subarray(0, n));
      return;
    case 'relu':
      for (let i = 0; i < n; i++) dx[i] = (x[i] as number) > 0 ? (dy[i] as number) : 0;
      return;
    case 'relu6':
      // minimum(6, relu(x)): the minimum passes dy where relu(x) < 6, relu where x > 0.
      for (let i = 0; i < n; i++) {
        const v = x[i] as number;
        dx[i] = v > 0 && v < 6 ? (dy[i] as number) : 0;
      }
      return;
    case 'relu-clip':
      // clipByValue(relu(x), 0, cap): the clip passes dy where 0 ≤ relu(x) ≤ cap, relu where x > 0.
      for (let i = 0; i < n; i++) {
        const v = x[i] as number;
        dx[i] = v > 0 && v <= a.cap ? (dy[i] as number) : 0;
      }
      return;
    case 'leaky':
      for (let i = 0; i < n; i++) dx[i] = (x[i] as number) > 0 ? (dy[i] as number) : (dy[i] as number) * a.alpha;
      return;
    case 'elu':
      // TF.js' EluGrad reads the output: dy where y ≥ 0, else dy·(y + 1).
      for (let i = 0; i < n; i++) {
        const v = y[i] as number;
        dx[i] = v >= 0 ? (dy[i] as number) : (dy[i] as number) * f32(v + 1);
      }
      return;
    case 'sigmoid':
      for (let i = 0; i < n; i++) {
        const v = y[i] as number;
        dx[i] = (dy[i] as number) * f32(v * f32(1 - v));
      }
      return;
    case 'tanh':
      for (let i = 0; i < n; i++) {
        const v = y[i] as number;
        dx[i] = f32(1 - f32(v * v)) * (dy[i] as number);
      }
      return;
    case 'swish':
      // y = sigmoid(x)·x: dy·sigmoid(x) through the product, plus (dy·x)·s(1 − s) through the sigmoid.
      for (let i = 0; i < n; i++) {
        const v = x[i] as number, g = dy[i] as number;
        const s = sigmoid(v);
        dx[i] = f32(g * s) + f32(f32(g * v) * f32(s * f32(1 - s)));
      }
      return;
    case 'gelu':
      // y = x·Φ(x), Φ(x) = 0.5·(1 + erf(x/√2)): dy·Φ(x) + dy·x·0.5·erf'(x/√2)/√2, erf'(u) = 2/√π·e^(−u²).
      for (let i = 0; i < n; i++) {
        const v = x[i] as number, g = dy[i] as number;
        const u = f32(v / SQRT2);
        const cdf = f32(0.5 * f32(1 + f32(erf(u))));
        const dErf = f32(TWO_OVER_SQRT_PI * Math.exp(-u * u));
        dx[i] = f32(g * cdf) + f32(f32(f32(f32(g * v) * 0.5) * dErf) / SQRT2);
      }
      return;
  }
}
