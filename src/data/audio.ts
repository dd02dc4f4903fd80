/**
 * Turning recorded speech into classifier inputs of one fixed shape: resampling, trimming silence,
 * centring in a fixed-length window, and mapping [-1, 1] waveforms to the [0,1] box every threat
 * model in alp assumes (so audio needs no special case in attacks, training or evaluation).
 *
 * The map is x01 = (wave + 1) / 2, so an L∞ radius ε in the [0,1] box is 2ε in waveform units. With
 * clips peak-normalised to `peak`, that is 20·log10(2ε / peak) dB relative to the loudest sample, the
 * dB_x(δ) distortion measure of Carlini & Wagner's audio attacks (2018).
 */

/** Windowed-sinc (Blackman) low-pass resampling from `from` Hz to `to` Hz. */
export function resample(x: Float32Array, from: number, to: number): Float32Array {
  if (from === to) return new Float32Array(x);
  const ratio = to / from;
  const n = Math.max(1, Math.round(x.length * ratio));
  const out = new Float32Array(n);
  // Cut off a little below the lower Nyquist frequency so aliasing stays small.
  const cutoff = 0.9 * Math.min(1, ratio);
  const half = Math.ceil(8 / cutoff);
  for (let i = 0; i < n; i++) {
    const centre = i / ratio;
    const lo = Math.max(0, Math.ceil(centre - half));
    const hi = Math.min(x.length - 1, Math.floor(centre + half));
    let acc = 0;
    let norm = 0;
    for (let j = lo; j <= hi; j++) {
      const t = j - centre;
      const sinc = t === 0 ? 1 : Math.sin(Math.PI * cutoff * t) / (Math.PI * cutoff * t);
      const w = 0.42 + 0.5 * Math.cos((Math.PI * t) / half) + 0.08 * Math.cos((2 * Math.PI * t) / half);
      const k = sinc * w;
      acc += (x[j] as number) * k;
      norm += k;
    }
    out[i] = norm !== 0 ? acc / norm : 0;
  }
  return out;
}

/** The part of x between the first and last sample louder than `threshold` × its peak. */
export function trimSilence(x: Float32Array, threshold = 0.02): Float32Array {
  let peak = 0;
  for (const v of x) peak = Math.max(peak, Math.abs(v));
  if (peak === 0) return x.subarray(0, 0);
  const t = threshold * peak;
  let a = 0;
  while (a < x.length && Math.abs(x[a] as number) < t) a++;
  let b = x.length - 1;
  while (b > a && Math.abs(x[b] as number) < t) b--;
  return x.subarray(a, b + 1);
}

/** x centred in a window of `length` samples: zero-padded on both sides, or its middle cut out. */
export function centreIn(x: Float32Array, length: number): Float32Array {
  const out = new Float32Array(length);
  if (x.length >= length) {
    const start = Math.floor((x.length - length) / 2);
    out.set(x.subarray(start, start + length));
  } else {
    out.set(x, Math.floor((length - x.length) / 2));
  }
  return out;
}

/** x scaled so that its loudest sample is ±peak (silence stays silence). */
export function peakNormalise(x: Float32Array, peak: number): Float32Array {
  let m = 0;
  for (const v of x) m = Math.max(m, Math.abs(v));
  const out = new Float32Array(x.length);
  if (m === 0) return out;
  const k = peak / m;
  for (let i = 0; i < x.length; i++) out[i] = (x[i] as number) * k;
  return out;
}

/** Waveform [-1,1] → [0,1] box, written into `out` at `offset`. */
export function waveToUnit(x: Float32Array, out: Float32Array, offset = 0): void {
  for (let i = 0; i < x.length; i++) out[offset + i] = Math.min(1, Math.max(0, ((x[i] as number) + 1) / 2));
}

/** [0,1] box → waveform [-1,1]. */
export function unitToWave(x: Float32Array): Float32Array {
  const out = new Float32Array(x.length);
  for (let i = 0; i < x.length; i++) out[i] = 2 * (x[i] as number) - 1;
  return out;
}

/** An L∞ radius in the [0,1] box as dB relative to a clip peak-normalised to `peak` (see top). */
export function linfEpsToDb(eps: number, peak: number): number {
  return 20 * Math.log10((2 * eps) / peak);
}
