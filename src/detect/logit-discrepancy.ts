/**
 * The logit-pairing discrepancy detector: how far the logits move when the input is perturbed a
 * little, randomly and adversarially. This is the quantity ALP penalises during training,
 * (1/K)‖z(x) − z(x')‖², turned into a test statistic:
 *
 *   R(x) = (1/S) Σ_s (1/K) ‖z(clip(x + η_s)) − z(x)‖²          η_s seeded noise (default uniform ±0.1)
 *   A(x) = (1/K) ‖z(x + δ*) − z(x)‖²,  δ* ≈ argmax_{‖δ‖ ≤ r} (1/K) ‖z(x + δ) − z(x)‖²   (a few PGD steps)
 *   score(x) = w_R · R(x) + w_A · A(x)
 *
 * The idea it tests: an input pushed just across a decision boundary sits where the logits are
 * unusually sensitive, so both discrepancies are larger than on natural inputs. Whether that holds,
 * and whether it survives an attacker who knows it, is what `alp detect eval` measures.
 *
 * Random draws (noise and the inner attack's start) are seeded and shared by all inputs of a batch,
 * so an input's score does not depend on its batch.
 */
import * as tf from '@tensorflow/tfjs';
import { gradientAscent } from '../attack/gradient-attack.js';
import { boundsOf, NORMS, normOf, projectToThreat, type NormName } from '../attack/threat-model.js';
import type { LogitsFn } from '../model/classifier.js';
import { UserError } from '../util/errors.js';
import { chunkRows, inChunks, meanOverDraws, type Detector, type DetectorConfig, type Surrogate, type SurrogateOptions } from './detector.js';
import { checkNoise, drawNoise, mixSeed, noisyCopies, type NoiseSpec } from './noise.js';

export interface InnerAttackSpec {
  norm: NormName;
  /** Radius of the small adversarial perturbation. */
  eps: number;
  steps: number;
}

export interface LogitDiscrepancyOptions {
  noise?: NoiseSpec;
  /** Noise draws per input for R(x). */
  samples?: number;
  /** The inner attack for A(x); null leaves A out. */
  adversarial?: InnerAttackSpec | null;
  randomWeight?: number;
  adversarialWeight?: number;
  seed?: number;
  /**
   * Whether inputs live in the [0,1] box (noisy and perturbed copies are clipped to it). False for a
   * text model's embeddings, which have no box.
   */
  box?: boolean;
}

export interface LogitDiscrepancyConfig extends DetectorConfig {
  kind: 'logit-discrepancy';
  noise: NoiseSpec;
  samples: number;
  adversarial: InnerAttackSpec | null;
  randomWeight: number;
  adversarialWeight: number;
  seed: number;
  /** Present (false) only for inputs without a box (embeddings); absent means the [0,1] box. */
  box?: false;
}

/** Mean squared logit difference per example: (1/K) Σ_k (a_k − b_k)². */
function msd(a: tf.Tensor2D, b: tf.Tensor2D): tf.Tensor1D {
  return tf.mean(tf.square(tf.sub(a, b)), 1) as tf.Tensor1D;
}

export class LogitDiscrepancyDetector implements Detector {
  readonly kind = 'logit-discrepancy' as const;
  readonly name: string;
  readonly needsFit = false;
  readonly config: LogitDiscrepancyConfig;

  constructor(o: LogitDiscrepancyOptions = {}) {
    const adversarial = o.adversarial === undefined ? { norm: 'linf' as const, eps: 0.1, steps: 5 } : o.adversarial;
    this.config = {
      kind: 'logit-discrepancy',
      noise: o.noise ?? { dist: 'uniform', eps: 0.1 },
      samples: o.samples ?? 16,
      adversarial,
      randomWeight: o.randomWeight ?? 1,
      adversarialWeight: o.adversarialWeight ?? (adversarial === null ? 0 : 1),
      seed: o.seed ?? 0,
      ...(o.box === false ? { box: false as const } : {}),
    };
    const c = this.config;
    checkNoise(c.noise, 'logit-discrepancy noise');
    if (!Number.isInteger(c.samples) || c.samples < 1) throw new UserError(`logit-discrepancy samples: expected an integer ≥ 1, got ${c.samples}`);
    if (c.adversarial !== null) {
      const a = c.adversarial;
      if (!NORMS.includes(a.norm)) throw new UserError(`logit-discrepancy adversarial.norm: expected one of ${NORMS.join(', ')}, got ${JSON.stringify(a.norm)}`);
      if (!(a.eps > 0) || !Number.isFinite(a.eps)) throw new UserError(`logit-discrepancy adversarial.eps: expected a number > 0, got ${a.eps}`);
      if (!Number.isInteger(a.steps) || a.steps < 1) throw new UserError(`logit-discrepancy adversarial.steps: expected an integer ≥ 1, got ${a.steps}`);
    }
    for (const [k, v] of [['randomWeight', c.randomWeight], ['adversarialWeight', c.adversarialWeight]] as const) {
      if (!Number.isFinite(v) || v < 0) throw new UserError(`logit-discrepancy ${k}: expected a number ≥ 0, got ${v}`);
    }
    if (c.randomWeight === 0 && (c.adversarialWeight === 0 || c.adversarial === null)) {
      throw new UserError('logit-discrepancy: both parts have weight 0; nothing would be measured');
    }
    if (!Number.isInteger(c.seed) || c.seed < 0) throw new UserError(`logit-discrepancy seed: expected an integer ≥ 0, got ${c.seed}`);
    const adv = c.adversarial === null || c.adversarialWeight === 0 ? '' : `+adv(${c.adversarial.norm} ${c.adversarial.eps}, ${c.adversarial.steps} steps)`;
    const rnd = c.randomWeight === 0 ? '' : `rand(${c.noise.dist} ${c.noise.eps}, ${c.samples})`;
    this.name = `logit-discrepancy[${rnd}${adv}${this.boxed() ? '' : ', no box'}]`.replace('[+', '[');
  }

  fit(): void {
    /* nothing to fit */
  }

  private boxed(): boolean {
    return this.config.box !== false;
  }

  private useRandom(): boolean {
    return this.config.randomWeight > 0;
  }

  private useAdversarial(): boolean {
    return this.config.adversarial !== null && this.config.adversarialWeight > 0;
  }

  /**
   * The inner attack: a few steps that maximise (1/K)‖z(x+δ) − z(x)‖² from a random start (the
   * gradient vanishes at δ = 0). Returns x + δ*, computed without recording gradients for the caller.
   */
  private innerAdversarial(f: LogitsFn, x: tf.Tensor, seed: number): tf.Tensor {
    const a = this.config.adversarial as InnerAttackSpec;
    const norm = normOf(a.norm);
    return tf.tidy(() => {
      const zx = tf.keep(f(x));
      // One start shared by every input of the batch: scores stay independent of batch composition.
      const start = norm.randomStart([1, ...x.shape.slice(1)], a.eps, seed);
      const threat = { norm: a.norm, eps: a.eps, ...(this.boxed() ? {} : { bounds: null }) };
      const init = projectToThreat(norm, x, tf.add(x, start), a.eps, boundsOf(threat));
      const dummy = tf.zeros([x.shape[0] as number], 'int32') as tf.Tensor1D;
      const out = gradientAscent(f, x, dummy, {
        threat,
        steps: a.steps,
        stepSize: (2.5 * a.eps) / a.steps,
        randomStart: false,
        loss: (z) => msd(z, zx),
        targeted: false,
        seed,
      }, undefined, init);
      zx.dispose();
      return out;
    });
  }

  /** R(x) and A(x) for a batch, as plain arrays. */
  parts(f: LogitsFn, x: tf.Tensor): { random: Float32Array; adversarial: Float32Array } {
    const c = this.config;
    const rows = chunkRows(c.samples + (this.useAdversarial() ? 2 * (c.adversarial as InnerAttackSpec).steps : 0));
    const random = this.useRandom()
      ? inChunks(x, rows, (chunk) => {
        const noise = drawNoise(c.noise, c.samples, chunk.shape.slice(1), mixSeed(c.seed, 1));
        const zx = f(chunk);
        const zn = f(noisyCopies(chunk, noise, this.boxed()));
        const b = chunk.shape[0] as number;
        return meanOverDraws(msd(zn, tf.reshape(tf.tile(tf.expandDims(zx, 1), [1, c.samples, 1]), [b * c.samples, -1]) as tf.Tensor2D), b, c.samples);
      })
      : new Float32Array(x.shape[0] as number);
    const adversarial = this.useAdversarial()
      ? inChunks(x, rows, (chunk) => {
        const xa = this.innerAdversarial(f, chunk, mixSeed(c.seed, 2));
        return msd(f(xa), f(chunk));
      })
      : new Float32Array(x.shape[0] as number);
    return { random, adversarial };
  }

  score(f: LogitsFn, x: tf.Tensor): Float32Array {
    const { random, adversarial } = this.parts(f, x);
    const out = new Float32Array(random.length);
    for (let i = 0; i < out.length; i++) out[i] = this.config.randomWeight * (random[i] as number) + this.config.adversarialWeight * (adversarial[i] as number);
    return out;
  }

  surrogate(f: LogitsFn, o: SurrogateOptions): Surrogate {
    const c = this.config;
    let noise: tf.Tensor | undefined;
    let delta: tf.Tensor | undefined;
    let step = 0;
    const free = (): void => {
      noise?.dispose();
      delta?.dispose();
      noise = undefined;
      delta = undefined;
    };
    return {
      prepare: (x) => {
        free();
        step++;
        if (this.useRandom()) noise = drawNoise(c.noise, o.samples, x.shape.slice(1), mixSeed(o.seed, 2 * step));
        // δ* is the maximiser at the current iterate; by Danskin's theorem the gradient of the max is
        // the gradient at the maximiser, so δ* is held fixed inside the differentiated function.
        if (this.useAdversarial()) delta = tf.tidy(() => tf.sub(this.innerAdversarial(f, x, mixSeed(o.seed, 2 * step + 1)), x));
      },
      value: (x) => {
        const zx = f(x);
        const b = x.shape[0] as number;
        let total: tf.Tensor1D = tf.zeros([b]);
        if (noise !== undefined) {
          const s = noise.shape[0] as number;
          const zn = f(noisyCopies(x, noise, this.boxed()));
          const rep = tf.reshape(tf.tile(tf.expandDims(zx, 1), [1, s, 1]), [b * s, -1]) as tf.Tensor2D;
          total = tf.add(total, tf.mul(meanOverDraws(msd(zn, rep), b, s), c.randomWeight));
        }
        if (delta !== undefined) {
          const xd = tf.add(x, delta);
          const za = f(this.boxed() ? tf.clipByValue(xd, 0, 1) : xd);
          total = tf.add(total, tf.mul(msd(za, zx), c.adversarialWeight));
        }
        return total;
      },
      dispose: free,
    };
  }

  noise(): NoiseSpec[] {
    return this.useRandom() ? [this.config.noise] : [];
  }

  describe(): LogitDiscrepancyConfig {
    return JSON.parse(JSON.stringify(this.config)) as LogitDiscrepancyConfig;
  }
}

export function logitDiscrepancyFromConfig(c: DetectorConfig, where: string): LogitDiscrepancyDetector {
  const allowed = ['kind', 'noise', 'samples', 'adversarial', 'randomWeight', 'adversarialWeight', 'seed', 'box'];
  const extra = Object.keys(c).filter((k) => !allowed.includes(k));
  if (extra.length > 0) throw new UserError(`${where}: unknown field ${extra[0]} for detector kind 'logit-discrepancy'`);
  const num = (k: string): number | undefined => {
    const v = c[k];
    if (v === undefined) return undefined;
    if (typeof v !== 'number') throw new UserError(`${where}.${k}: expected a number, found ${JSON.stringify(v)}`);
    return v;
  };
  let adversarial: InnerAttackSpec | null | undefined;
  if (c['adversarial'] === null) adversarial = null;
  else if (c['adversarial'] !== undefined) {
    const a = c['adversarial'];
    if (typeof a !== 'object' || Array.isArray(a)) throw new UserError(`${where}.adversarial: expected {norm, eps, steps} or null, found ${JSON.stringify(a)}`);
    adversarial = a as InnerAttackSpec;
  }
  const o: LogitDiscrepancyOptions = {};
  if (c['noise'] !== undefined) o.noise = checkNoise(c['noise'], `${where}.noise`);
  const samples = num('samples'), rw = num('randomWeight'), aw = num('adversarialWeight'), seed = num('seed');
  if (samples !== undefined) o.samples = samples;
  if (adversarial !== undefined) o.adversarial = adversarial;
  if (rw !== undefined) o.randomWeight = rw;
  if (aw !== undefined) o.adversarialWeight = aw;
  if (seed !== undefined) o.seed = seed;
  if (c['box'] !== undefined) {
    if (c['box'] !== false) throw new UserError(`${where}.box: expected false (inputs without a box) or no field, found ${JSON.stringify(c['box'])}`);
    o.box = false;
  }
  try {
    return new LogitDiscrepancyDetector(o);
  } catch (e) {
    if (e instanceof UserError) throw new UserError(`${where}: ${e.message}`);
    throw e;
  }
}
