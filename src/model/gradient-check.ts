/**
 * Checks a model's input gradient — as alp computes it, on the active backend with alp's kernels —
 * against central finite differences of its forward pass.
 *
 * The objective is a fixed random projection of the logits, L(x) = Σ_k w_k z_k(x), so every logit
 * contributes. Each input coordinate i gets two central differences, D(h) and D(h/2), evaluated from
 * float32 logits but combined in float64; their Richardson extrapolation (4·D(h/2) − D(h))/3 cancels
 * the h² term. Where D(h) and D(h/2) disagree, L is not smooth within h of x along i (a ReLU or
 * max-pool kink) and no finite difference is a reference there: that coordinate is skipped and counted.
 *
 * Tolerance (see `tolerance`): the forward pass is float32, so each L carries a rounding error of a few
 * 1e-8·|L|; divided by h = 1e-2 that is ~1e-5, and the extrapolated truncation error is O(h⁴) ~ 1e-8.
 * The float32 backward pass adds ~1e-6 relative. 1e-3 of the gradient's scale is therefore well above
 * the noise and far below the errors real bugs produce (the average-pooling bug: 0.1–0.6 of the scale).
 */
import * as tf from '@tensorflow/tfjs';
import { Rng } from '../util/rng.js';

export interface GradientCheckOptions {
  /** Step of the coarser difference, in input units. Default 1e-2. */
  h?: number;
  /** Allowed |alp − reference| as a share of max(1, max |reference|). Default 1e-3. */
  tolerance?: number;
  /** Seed of the logit projection. */
  seed?: number;
  /**
   * Whether examples are independent (inference mode): then all perturbed inputs run as one batch.
   * Training-mode batch normalisation couples the examples of a batch; pass false to perturb the
   * whole batch `x` one coordinate at a time.
   */
  batched?: boolean;
}

export interface GradientCheckResult {
  /** Coordinates compared (not skipped). */
  compared: number;
  /** Coordinates skipped because L is not smooth there. */
  skipped: number;
  /** max |alp − reference| over compared coordinates. */
  maxError: number;
  /** max(1, max |reference|): the scale errors are measured against. */
  scale: number;
  /** maxError / scale. */
  relError: number;
  ok: boolean;
  /** The worst coordinate: flat index, alp's value, the reference. */
  worst: { index: number; alp: number; reference: number };
}

/**
 * `f` maps a batch [B, ...shape] to logits [B, K]; `x` is one input batch (usually one example).
 * Returns how far alp's gradient of L is from the finite-difference reference.
 */
export function checkInputGradient(f: (x: tf.Tensor) => tf.Tensor, x: tf.Tensor, opts: GradientCheckOptions = {}): GradientCheckResult {
  const h = opts.h ?? 1e-2;
  const tol = opts.tolerance ?? 1e-3;
  const batched = opts.batched ?? true;
  const k = f(x).shape.slice(-1)[0] as number;
  const rng = new Rng(opts.seed ?? 7);
  const w = Float64Array.from({ length: k }, () => (rng.next() * 2 - 1) / Math.sqrt(k));
  const wT = tf.tensor1d(Float32Array.from(w));
  const grad = tf.tidy(() => tf.grad((t: tf.Tensor) => tf.sum(tf.mul(f(t), wT)))(x).dataSync() as Float32Array);

  const base = x.dataSync() as Float32Array;
  const n = base.length;
  const steps = [h, -h, h / 2, -h / 2];
  // L of each perturbed input, in float64 from float32 logits.
  const objective = (logits: Float32Array, rows: number): Float64Array => {
    const out = new Float64Array(rows);
    for (let r = 0; r < rows; r++) {
      let s = 0;
      for (let j = 0; j < k; j++) s += (logits[r * k + j] as number) * (w[j] as number);
      out[r] = s;
    }
    return out;
  };
  const values = new Float64Array(n * steps.length);
  if (batched) {
    const rows = x.shape[0] as number;
    if (rows !== 1) throw new Error('checkInputGradient: batched mode expects one example');
    const chunk = 256;
    for (let start = 0; start < n * steps.length; start += chunk) {
      const m = Math.min(chunk, n * steps.length - start);
      const buf = new Float32Array(m * n);
      for (let r = 0; r < m; r++) {
        const idx = start + r, i = Math.floor(idx / steps.length), s = steps[idx % steps.length] as number;
        buf.set(base, r * n);
        buf[r * n + i] = (base[i] as number) + s;
      }
      const logits = tf.tidy(() => f(tf.tensor(buf, [m, ...x.shape.slice(1)])).dataSync() as Float32Array);
      values.set(objective(logits, m), start);
    }
  } else {
    const buf = new Float32Array(base);
    for (let i = 0; i < n; i++) {
      steps.forEach((s, j) => {
        buf[i] = (base[i] as number) + s;
        const logits = tf.tidy(() => f(tf.tensor(buf, x.shape)).dataSync() as Float32Array);
        values[i * steps.length + j] = objective(logits, logits.length / k).reduce((a, b) => a + b, 0);
      });
      buf[i] = base[i] as number;
    }
  }
  wT.dispose();

  const ref = new Float64Array(n);
  const smooth = new Uint8Array(n);
  let scale = 1;
  for (let i = 0; i < n; i++) {
    const v = values.subarray(i * 4, i * 4 + 4);
    const d1 = ((v[0] as number) - (v[1] as number)) / (2 * h);
    const d2 = ((v[2] as number) - (v[3] as number)) / h;
    ref[i] = (4 * d2 - d1) / 3;
    scale = Math.max(scale, Math.abs(ref[i] as number));
    smooth[i] = Math.abs(d1 - d2) <= tol * Math.max(1, Math.abs(d2)) ? 1 : 0;
  }
  let maxError = 0, compared = 0, worst = { index: -1, alp: 0, reference: 0 };
  for (let i = 0; i < n; i++) {
    if (smooth[i] === 0) continue;
    compared++;
    const e = Math.abs((grad[i] as number) - (ref[i] as number));
    if (e > maxError || worst.index < 0) {
      maxError = e;
      worst = { index: i, alp: grad[i] as number, reference: ref[i] as number };
    }
  }
  const relError = maxError / scale;
  return { compared, skipped: n - compared, maxError, scale, relError, ok: relError <= tol, worst };
}
