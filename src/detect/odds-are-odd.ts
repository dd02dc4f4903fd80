/**
 * The statistical test of Roth, Kilcher & Hofmann, "The Odds are Odd: A Statistical Test for
 * Detecting Adversarial Examples" (ICML 2019), detection part.
 *
 * For an input x predicted as class y = argmax z(x), and every other class j, the pairwise log-odds
 * are f_{j,y}(x) = z_j(x) − z_y(x). Their noise-induced change is
 *
 *   g_{y,j}(x, η) = f_{j,y}(x + η) − f_{j,y}(x)          (x + η clipped to the input box)
 *
 * and its expectation over the noise, ḡ_{y,j}(x) = E_η g_{y,j}(x, η), is estimated with S seeded draws
 * (paper and authors' code: 256). On clean data the detector fits, per predicted class y and other
 * class j, the mean μ_{y,j} and standard deviation σ_{y,j} of ḡ_{y,j} (over clean inputs predicted as y
 * and correctly classified), and standardises
 *
 *   z̄_{y,j}(x) = (ḡ_{y,j}(x) − μ_{y,j}) / σ_{y,j}.
 *
 * An adversarial input sits just across the boundary from its true class j, so noise tends to move
 * the odds back towards j: z̄_{y,j} is unusually large. The score is max_{j≠y} z̄_{y,j}(x); with several
 * noise settings the z-scores are averaged over settings before the max (as the authors' code does).
 * The paper flags x when the score exceeds a threshold chosen for a target false-positive rate; here
 * that threshold comes from calibrate.ts. (The paper's second step, correcting the prediction, is not
 * part of detection and is not implemented.)
 *
 * Since the log-odds are differences of logits, the bias of the last layer cancels: only logits are
 * needed. A class with fewer than 3 fitting examples falls back to the statistics pooled over all
 * (y, j) pairs.
 */
import * as tf from '@tensorflow/tfjs';
import type { LogitsFn } from '../model/classifier.js';
import { UserError } from '../util/errors.js';
import { chunkRows, inChunks, type Detector, type DetectorConfig, type Surrogate, type SurrogateOptions } from './detector.js';
import { checkNoise, drawNoise, mixSeed, noisyCopies, type NoiseSpec } from './noise.js';

/** Fitted per-(predicted class, other class) statistics for one noise setting. */
export interface OddsStats {
  /** K×K: mean[y][j] of ḡ_{y,j} over clean inputs predicted y (diagonal unused: 0). */
  mean: number[][];
  /** K×K standard deviations (population), floored at 1e-6 (diagonal unused: 1). */
  std: number[][];
}

export interface OddsFit {
  numClasses: number;
  /** One entry per noise setting, in config order. */
  settings: OddsStats[];
  /** Clean inputs per predicted class that the statistics were fitted on. */
  counts: number[];
  /** Classes (rows y) that had fewer than 3 examples and use pooled statistics. */
  pooledClasses: number[];
  examples: number;
}

export interface OddsOptions {
  /** Noise settings; default Gaussian with σ = 30/255, the authors' detection default (noise_eps_detect 'n30.0' on 0..255 pixels). */
  noise?: NoiseSpec[];
  /** Noise draws per input (paper: 256). */
  samples?: number;
  seed?: number;
  fit?: OddsFit | null;
  /** Whether inputs live in the [0,1] box (noisy copies are clipped to it); false for a text model's embeddings. */
  box?: boolean;
}

export interface OddsConfig extends DetectorConfig {
  kind: 'odds';
  noise: NoiseSpec[];
  samples: number;
  seed: number;
  fit: OddsFit | null;
  /** Present (false) only for inputs without a box (embeddings); absent means the [0,1] box. */
  box?: false;
}

const MIN_PER_CLASS = 3;
const STD_FLOOR = 1e-6;

export class OddsAreOddDetector implements Detector {
  readonly kind = 'odds' as const;
  readonly name: string;
  private cfg: OddsConfig;
  /** Per setting: [K,K] mean and std tensors, built once fitted. */
  private tensors: Array<{ mean: tf.Tensor2D; std: tf.Tensor2D }> = [];

  constructor(o: OddsOptions = {}) {
    this.cfg = {
      kind: 'odds',
      noise: o.noise ?? [{ dist: 'gaussian', eps: 30 / 255 }],
      samples: o.samples ?? 256,
      seed: o.seed ?? 0,
      fit: o.fit ?? null,
      ...(o.box === false ? { box: false as const } : {}),
    };
    if (!Array.isArray(this.cfg.noise) || this.cfg.noise.length === 0) throw new UserError('odds noise: expected at least one noise setting');
    this.cfg.noise.forEach((n, i) => checkNoise(n, `odds noise[${i}]`));
    if (!Number.isInteger(this.cfg.samples) || this.cfg.samples < 2) throw new UserError(`odds samples: expected an integer ≥ 2, got ${this.cfg.samples}`);
    if (!Number.isInteger(this.cfg.seed) || this.cfg.seed < 0) throw new UserError(`odds seed: expected an integer ≥ 0, got ${this.cfg.seed}`);
    if (this.cfg.fit !== null) this.setFit(this.cfg.fit);
    this.name = `odds[${this.cfg.noise.map((n) => `${n.dist} ${+n.eps.toFixed(4)}`).join(', ')}; ${this.cfg.samples} draws${this.cfg.box === false ? '; no box' : ''}]`;
  }

  get needsFit(): boolean {
    return this.cfg.fit === null;
  }

  get fitted(): OddsFit | null {
    return this.cfg.fit;
  }

  private setFit(fit: OddsFit): void {
    const k = fit.numClasses;
    if (fit.settings.length !== this.cfg.noise.length) {
      throw new UserError(`odds fit: ${fit.settings.length} fitted noise settings, but the config has ${this.cfg.noise.length}`);
    }
    for (const t of this.tensors) tf.dispose([t.mean, t.std]);
    this.tensors = fit.settings.map((s, i) => {
      for (const [name, m] of [['mean', s.mean], ['std', s.std]] as const) {
        if (!Array.isArray(m) || m.length !== k || m.some((r) => !Array.isArray(r) || r.length !== k || r.some((v) => typeof v !== 'number' || !Number.isFinite(v)))) {
          throw new UserError(`odds fit.settings[${i}].${name}: expected a ${k}×${k} matrix of finite numbers`);
        }
      }
      if (s.std.some((r) => r.some((v) => v <= 0))) throw new UserError(`odds fit.settings[${i}].std: standard deviations must be > 0`);
      return { mean: tf.keep(tf.tensor2d(s.mean)), std: tf.keep(tf.tensor2d(s.std)) };
    });
    this.cfg.fit = fit;
  }

  /**
   * ḡ_{y,j}(x) for every j, per noise setting: [B, K] each, where y is `pred` (default: argmax z(x)).
   * Differentiable with respect to x (y is fixed).
   */
  private expectedChange(f: LogitsFn, x: tf.Tensor, noises: tf.Tensor[], pred?: tf.Tensor1D): { gbar: tf.Tensor2D[]; pred: tf.Tensor1D } {
    const zx = f(x);
    const k = zx.shape[1];
    const b = x.shape[0] as number;
    const y = pred ?? (tf.argMax(zx, 1) as tf.Tensor1D);
    const onehot = tf.oneHot(tf.cast(y, 'int32') as tf.Tensor1D, k);
    // f_{j,y}(x) = z_j − z_y for every j: [B, K].
    const odds = (z: tf.Tensor2D, oh: tf.Tensor2D): tf.Tensor2D => tf.sub(z, tf.sum(tf.mul(z, oh), 1, true)) as tf.Tensor2D;
    const clean = odds(zx, onehot as tf.Tensor2D);
    const gbar = noises.map((noise) => {
      const s = noise.shape[0] as number;
      const zn = f(noisyCopies(x, noise, this.cfg.box !== false)); // [B·S, K]
      const ohRep = tf.reshape(tf.tile(tf.expandDims(onehot, 1), [1, s, 1]), [b * s, k]) as tf.Tensor2D;
      const noisy = tf.reshape(odds(zn, ohRep), [b, s, k]);
      return tf.sub(tf.mean(noisy, 1), clean) as tf.Tensor2D;
    });
    return { gbar, pred: y };
  }

  /** max_{j≠y} of the z-scores averaged over noise settings: [B]. */
  private statistic(gbar: tf.Tensor2D[], pred: tf.Tensor1D): tf.Tensor1D {
    if (this.tensors.length === 0) throw new UserError('odds detector: not fitted; run fit() on clean data (or calibrate) first');
    const k = gbar[0]?.shape[1] as number;
    const fitK = this.cfg.fit?.numClasses;
    if (fitK !== k) throw new UserError(`odds detector: fitted for ${String(fitK)} classes, the model outputs ${k}`);
    const y = tf.cast(pred, 'int32') as tf.Tensor1D;
    let acc: tf.Tensor2D | undefined;
    gbar.forEach((g, i) => {
      const t = this.tensors[i] as { mean: tf.Tensor2D; std: tf.Tensor2D };
      const z = tf.div(tf.sub(g, tf.gather(t.mean, y)), tf.gather(t.std, y)) as tf.Tensor2D;
      acc = acc === undefined ? z : (tf.add(acc, z) as tf.Tensor2D);
    });
    const meanZ = tf.div(acc as tf.Tensor2D, gbar.length);
    const mask = tf.oneHot(y, k);
    return tf.max(tf.sub(meanZ, tf.mul(mask, 1e9)), 1) as tf.Tensor1D;
  }

  private drawAll(inputShape: number[], samples: number, seed: number): tf.Tensor[] {
    return this.cfg.noise.map((n, i) => drawNoise(n, samples, inputShape, mixSeed(seed, i + 1)));
  }

  fit(f: LogitsFn, x: tf.Tensor, labels?: Int32Array): void {
    const n = x.shape[0] as number;
    if (labels !== undefined && labels.length !== n) throw new Error(`odds fit: ${n} inputs but ${labels.length} labels`);
    const settings = this.cfg.noise.length;
    const rows = chunkRows(this.cfg.samples * settings);
    const inputShape = x.shape.slice(1);
    let k = 0;
    // Per setting: ḡ [n, K] and the predictions.
    const g: Float32Array[] = Array.from({ length: settings }, () => new Float32Array(0));
    const preds = new Int32Array(n);
    for (let i = 0; i < n; i += rows) {
      const size = Math.min(rows, n - i);
      tf.tidy(() => {
        const chunk = tf.slice(x, i, size);
        const noises = this.drawAll(inputShape, this.cfg.samples, this.cfg.seed);
        const r = this.expectedChange(f, chunk, noises);
        k = r.gbar[0]?.shape[1] as number;
        preds.set(r.pred.dataSync() as Int32Array, i);
        r.gbar.forEach((t, s) => {
          if ((g[s] as Float32Array).length === 0) g[s] = new Float32Array(n * k);
          (g[s] as Float32Array).set(t.dataSync() as Float32Array, i * k);
        });
      });
    }
    const use: number[] = [];
    for (let i = 0; i < n; i++) if (labels === undefined || labels[i] === preds[i]) use.push(i);
    const counts = new Array<number>(k).fill(0);
    for (const i of use) counts[preds[i] as number] = (counts[preds[i] as number] as number) + 1;
    const pooledClasses = counts.map((c, y) => (c < MIN_PER_CLASS ? y : -1)).filter((y) => y >= 0);
    if (use.length < MIN_PER_CLASS) {
      throw new UserError(`odds fit: only ${use.length} usable clean inputs (correctly classified); need at least ${MIN_PER_CLASS}, better hundreds`);
    }
    const fitStats: OddsStats[] = g.map((gs) => {
      // Pooled statistics over all off-diagonal (y, j) values, the fallback for rare classes.
      let pm = 0, pq = 0, pn = 0;
      for (const i of use) {
        const y = preds[i] as number;
        for (let j = 0; j < k; j++) if (j !== y) {
          const v = gs[i * k + j] as number;
          pm += v; pq += v * v; pn++;
        }
      }
      const poolMean = pm / Math.max(pn, 1);
      const poolStd = Math.max(Math.sqrt(Math.max(pq / Math.max(pn, 1) - poolMean * poolMean, 0)), STD_FLOOR);
      const sum = Array.from({ length: k }, () => new Float64Array(k));
      const sq = Array.from({ length: k }, () => new Float64Array(k));
      for (const i of use) {
        const y = preds[i] as number;
        for (let j = 0; j < k; j++) {
          const v = gs[i * k + j] as number;
          (sum[y] as Float64Array)[j] = ((sum[y] as Float64Array)[j] as number) + v;
          (sq[y] as Float64Array)[j] = ((sq[y] as Float64Array)[j] as number) + v * v;
        }
      }
      const mean: number[][] = [], std: number[][] = [];
      for (let y = 0; y < k; y++) {
        const c = counts[y] as number;
        const mr: number[] = [], sr: number[] = [];
        for (let j = 0; j < k; j++) {
          if (j === y) {
            mr.push(0); sr.push(1);
          } else if (c < MIN_PER_CLASS) {
            mr.push(poolMean); sr.push(poolStd);
          } else {
            const m = ((sum[y] as Float64Array)[j] as number) / c;
            const v = ((sq[y] as Float64Array)[j] as number) / c - m * m;
            mr.push(m); sr.push(Math.max(Math.sqrt(Math.max(v, 0)), STD_FLOOR));
          }
        }
        mean.push(mr); std.push(sr);
      }
      return { mean, std };
    });
    this.setFit({ numClasses: k, settings: fitStats, counts, pooledClasses, examples: use.length });
  }

  score(f: LogitsFn, x: tf.Tensor): Float32Array {
    if (this.needsFit) throw new UserError('odds detector: not fitted; run fit() on clean data (or calibrate) first');
    const inputShape = x.shape.slice(1);
    return inChunks(x, chunkRows(this.cfg.samples * this.cfg.noise.length), (chunk) => {
      const noises = this.drawAll(inputShape, this.cfg.samples, this.cfg.seed);
      const r = this.expectedChange(f, chunk, noises);
      return this.statistic(r.gbar, r.pred);
    });
  }

  surrogate(f: LogitsFn, o: SurrogateOptions): Surrogate {
    if (this.needsFit) throw new UserError('odds detector: not fitted; an adaptive attack needs the fitted statistics');
    let noises: tf.Tensor[] = [];
    let pred: tf.Tensor1D | undefined;
    let step = 0;
    const free = (): void => {
      tf.dispose(noises);
      pred?.dispose();
      noises = [];
      pred = undefined;
    };
    return {
      prepare: (x) => {
        free();
        step++;
        noises = this.drawAll(x.shape.slice(1), o.samples, mixSeed(o.seed, step));
        // The predicted class (argmax) has no gradient; it is fixed at the current iterate.
        pred = tf.tidy(() => tf.argMax(f(x), 1) as tf.Tensor1D);
      },
      value: (x) => {
        const r = this.expectedChange(f, x, noises, pred);
        return this.statistic(r.gbar, r.pred);
      },
      dispose: free,
    };
  }

  noise(): NoiseSpec[] {
    return this.cfg.noise.map((n) => ({ ...n }));
  }

  describe(): OddsConfig {
    return JSON.parse(JSON.stringify(this.cfg)) as OddsConfig;
  }
}

export function oddsFromConfig(c: DetectorConfig, where: string): OddsAreOddDetector {
  const allowed = ['kind', 'noise', 'samples', 'seed', 'fit', 'box'];
  const extra = Object.keys(c).filter((k) => !allowed.includes(k));
  if (extra.length > 0) throw new UserError(`${where}: unknown field ${extra[0]} for detector kind 'odds'`);
  const o: OddsOptions = {};
  if (c['noise'] !== undefined) {
    if (!Array.isArray(c['noise'])) throw new UserError(`${where}.noise: expected an array of {dist, eps}, found ${JSON.stringify(c['noise'])}`);
    o.noise = (c['noise'] as unknown[]).map((n, i) => checkNoise(n, `${where}.noise[${i}]`));
  }
  for (const k of ['samples', 'seed'] as const) {
    const v = c[k];
    if (v === undefined) continue;
    if (typeof v !== 'number') throw new UserError(`${where}.${k}: expected a number, found ${JSON.stringify(v)}`);
    o[k] = v;
  }
  if (c['box'] !== undefined) {
    if (c['box'] !== false) throw new UserError(`${where}.box: expected false (inputs without a box) or no field, found ${JSON.stringify(c['box'])}`);
    o.box = false;
  }
  const fit = c['fit'];
  if (fit !== undefined && fit !== null) {
    if (typeof fit !== 'object' || Array.isArray(fit)) throw new UserError(`${where}.fit: expected the fitted statistics object or null`);
    const r = fit as Record<string, unknown>;
    if (typeof r['numClasses'] !== 'number' || !Number.isInteger(r['numClasses']) || (r['numClasses'] as number) < 2) {
      throw new UserError(`${where}.fit.numClasses: expected an integer ≥ 2, found ${JSON.stringify(r['numClasses'])}`);
    }
    if (!Array.isArray(r['settings'])) throw new UserError(`${where}.fit.settings: expected an array, found ${JSON.stringify(r['settings'])}`);
    if (!Array.isArray(r['counts'])) throw new UserError(`${where}.fit.counts: expected an array`);
    o.fit = { numClasses: r['numClasses'] as number, settings: r['settings'] as OddsStats[], counts: r['counts'] as number[], pooledClasses: (r['pooledClasses'] as number[] | undefined) ?? [], examples: (r['examples'] as number | undefined) ?? 0 };
  }
  try {
    return new OddsAreOddDetector(o);
  } catch (e) {
    if (e instanceof UserError) throw new UserError(`${where}: ${e.message}`);
    throw e;
  }
}
