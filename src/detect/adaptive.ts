/**
 * An adaptive attack on classifier + detector (Tramèr, Carlini, Brendel & Madry 2020, "On Adaptive
 * Attacks to Adversarial Example Defenses"): the attacker knows the detector, its settings and its
 * threshold, and looks for x' in the ε-ball that is misclassified AND scores at or below the
 * threshold. Several strategies run one after another; an example counts as broken as soon as one of
 * them finds such an x' (worst case per example), and only the examples not yet broken go on.
 *
 * Strategies (all PGD in the threat model's geometry, step 2.5·ε/steps, seeded random start):
 *
 *  - weighted, for each λ in `lambdas` (a small Lagrangian sweep): maximise
 *        min(margin(z(x'), y), κ) − λ · relu((ŝ(x') − τ)/σ + γ)
 *    where margin = max_{j≠y} z_j − z_y (the CW margin), ŝ the detector's differentiable surrogate
 *    (expectation over the attacker's own seeded noise draws for the noisy detectors, inner choices
 *    fixed at the current iterate), τ the calibrated threshold, σ the spread of clean scores, γ a
 *    safety margin below τ. λ = 0 is plain PGD on the CW margin, so the adaptive attack is never
 *    weaker than that.
 *  - logit matching + EOT (Tramèr et al.'s attack on the odds test): pull the logits of x' and of its
 *    noisy copies towards the logits of a clean, unflagged example of another class (the nearest in
 *    input space from a pool), so that x' looks like a natural input of that class to any statistic
 *    of the logits under noise.
 *
 * Success is judged on the real detector, never the surrogate: at every `checkEvery`-th step and at
 * the end, misclassified iterates are scored with the detector itself (its own fixed noise), and an
 * example succeeds only if that true score is ≤ τ.
 */
import * as tf from '@tensorflow/tfjs';
import type { Attack } from '../attack/attack.js';
import type { AttackResult } from '../attack/gradient-attack.js';
import { margin } from '../attack/objectives.js';
import { normOf, projectToThreat, type ThreatModel } from '../attack/threat-model.js';
import type { LogitsFn } from '../model/classifier.js';
import { UserError } from '../util/errors.js';
import { Rng } from '../util/rng.js';
import { assertValidInputs } from '../util/validate.js';
import { rejectUnknownOptions } from '../attack/options.js';
import type { Calibration } from './calibrate.js';
import type { Detector, Surrogate } from './detector.js';
import { drawNoise, noisyCopies } from './noise.js';

export interface AdaptiveOptions {
  threat: ThreatModel;
  /** PGD steps per strategy. */
  steps?: number;
  stepSize?: number;
  /** Weights of the detector term; 0 = plain CW-margin PGD. */
  lambdas?: number[];
  /** Misclassification margin (logits) the classifier term aims for. */
  kappa?: number;
  /** Safety margin below the threshold, in units of the clean scores' standard deviation. */
  gamma?: number;
  /** Noise draws per step for the expectation over the detector's noise (EOT). */
  eotSamples?: number;
  /** Run the logit-matching strategy (needs a target pool). */
  logitMatching?: boolean;
  /** Check success on the true detector every N steps (and at the last step). */
  checkEvery?: number;
  seed?: number;
}

/** Clean, correctly classified, unflagged examples whose logits the logit-matching strategy aims for. */
export interface TargetPool {
  /** count × D inputs. */
  x: Float32Array;
  /** count × K logits. */
  logits: Float32Array;
  labels: Int32Array;
  count: number;
}

export interface AdaptiveResult extends AttackResult {
  /** 1 where the returned input is misclassified (whatever the detector says). */
  fooled: Uint8Array;
  /** 1 where it is misclassified AND its true detector score is ≤ the threshold. */
  evaded: Uint8Array;
  /** True detector score of the returned input (NaN where it was never misclassified). */
  scores: Float32Array;
  /** Per example, the strategy that broke it ('' if none). */
  brokenBy: string[];
  /** Examples broken by each strategy. */
  perStrategy: Record<string, number>;
}

interface Strategy {
  name: string;
  kind: 'weighted' | 'logit-match';
  lambda: number;
}

export class AdaptiveDetectorAttack implements Attack<AdaptiveResult> {
  readonly name: string;
  readonly threat: ThreatModel;
  readonly steps: number;
  readonly stepSize: number;
  readonly lambdas: number[];
  readonly kappa: number;
  readonly gamma: number;
  readonly eotSamples: number;
  readonly logitMatching: boolean;
  readonly checkEvery: number;
  readonly seed: number;

  constructor(readonly detector: Detector, readonly calibration: Calibration, o: AdaptiveOptions, readonly pool?: TargetPool) {
    rejectUnknownOptions('adaptive attack', o, ['threat', 'steps', 'stepSize', 'lambdas', 'kappa', 'gamma', 'eotSamples', 'logitMatching', 'checkEvery', 'seed']);
    this.threat = o.threat;
    this.steps = o.steps ?? 50;
    this.stepSize = o.stepSize ?? (2.5 * o.threat.eps) / Math.max(this.steps, 1);
    this.lambdas = o.lambdas ?? [0, 1, 10, 100];
    this.kappa = o.kappa ?? 1;
    this.gamma = o.gamma ?? 0.5;
    this.eotSamples = o.eotSamples ?? 16;
    this.logitMatching = o.logitMatching ?? true;
    this.checkEvery = o.checkEvery ?? 10;
    this.seed = o.seed ?? 0;
    if (!Number.isInteger(this.steps) || this.steps < 1) throw new UserError(`adaptive steps: expected an integer ≥ 1, got ${this.steps}`);
    if (!(this.stepSize > 0)) throw new UserError(`adaptive step size: expected a number > 0, got ${this.stepSize}`);
    if (this.lambdas.some((l) => !Number.isFinite(l) || l < 0)) throw new UserError(`adaptive lambdas: expected numbers ≥ 0, got ${this.lambdas.join(',')}`);
    if (!Number.isInteger(this.eotSamples) || this.eotSamples < 1) throw new UserError(`adaptive EOT samples: expected an integer ≥ 1, got ${this.eotSamples}`);
    if (!Number.isInteger(this.checkEvery) || this.checkEvery < 1) throw new UserError(`adaptive check interval: expected an integer ≥ 1, got ${this.checkEvery}`);
    if (detector.needsFit) throw new UserError(`adaptive attack: the ${detector.kind} detector is not fitted`);
    this.name = `adaptive-${threat(o.threat)}-${detector.kind}-${this.steps}`;
  }

  private strategies(): Strategy[] {
    const s: Strategy[] = this.lambdas.map((l) => ({ name: l === 0 ? 'pgd-cw' : `weighted λ=${l}`, kind: 'weighted' as const, lambda: l }));
    if (this.logitMatching && this.pool !== undefined && this.pool.count > 0) s.push({ name: 'logit-match+eot', kind: 'logit-match', lambda: 0 });
    return s;
  }

  describe(): Record<string, unknown> {
    return {
      attack: 'adaptive', targets: 'classifier and detector at once (Tramèr et al. 2020)', detector: this.detector.name,
      threshold: this.calibration.threshold, norm: this.threat.norm, eps: this.threat.eps, steps: this.steps, stepSize: this.stepSize,
      strategies: this.strategies().map((s) => s.name), lambdas: this.lambdas, kappa: this.kappa, gamma: this.gamma,
      eotSamples: this.detector.noise().length > 0 ? this.eotSamples : 0, checkEvery: this.checkEvery,
      success: 'misclassified AND true detector score ≤ threshold', seed: this.seed,
    };
  }

  run(f: LogitsFn, x: tf.Tensor, labels: tf.Tensor1D): AdaptiveResult {
    return this.runDetailed(f, x, labels);
  }

  /** Index into the pool of each example's logit-matching target: nearest (L2) pool input of another class. */
  private pickTargets(xs: Float32Array, ys: Int32Array, rowSize: number): Int32Array {
    const pool = this.pool as TargetPool;
    const out = new Int32Array(ys.length).fill(-1);
    for (let i = 0; i < ys.length; i++) {
      let best = Infinity;
      for (let p = 0; p < pool.count; p++) {
        if (pool.labels[p] === ys[i]) continue;
        let d = 0;
        for (let k = 0; k < rowSize; k++) {
          const t = (xs[i * rowSize + k] as number) - (pool.x[p * rowSize + k] as number);
          d += t * t;
          if (d >= best) break;
        }
        if (d < best) {
          best = d;
          out[i] = p;
        }
      }
    }
    return out;
  }

  runDetailed(f: LogitsFn, x: tf.Tensor, labels: tf.Tensor1D): AdaptiveResult {
    const n = x.shape[0] as number;
    const rowSize = x.size / Math.max(n, 1);
    const xData = new Float32Array(x.dataSync() as Float32Array);
    assertValidInputs(xData, 'adaptive attack input');
    const y = labels.dataSync() as Int32Array;
    const tau = this.calibration.threshold;
    const sd = this.calibration.scores?.std;
    const sigma = sd !== undefined && Number.isFinite(sd) && sd > 0 ? sd : 1;
    const norm = normOf(this.threat.norm);
    const eps = this.threat.eps;
    const rng = new Rng(this.seed);

    const best = new Float32Array(xData);
    const scores = new Float32Array(n).fill(NaN);
    const fooled = new Uint8Array(n);
    const evaded = new Uint8Array(n);
    const brokenBy: string[] = new Array<string>(n).fill('');
    const perStrategy: Record<string, number> = {};

    /** Checks iterates `xa` of examples `ids` on the classifier and the true detector; records the best. */
    const check = (xa: tf.Tensor, ids: number[], strategy: string): void => {
      const pred = tf.tidy(() => tf.argMax(f(xa), 1).dataSync() as Int32Array);
      const mis: number[] = [];
      for (let j = 0; j < ids.length; j++) if (pred[j] !== y[ids[j] as number] && !evaded[ids[j] as number]) mis.push(j);
      if (mis.length === 0) return;
      const sub = tf.tidy(() => tf.gather(xa, tf.tensor1d(mis, 'int32')));
      const s = this.detector.score(f, sub);
      const data = sub.dataSync() as Float32Array;
      sub.dispose();
      mis.forEach((j, m) => {
        const i = ids[j] as number;
        const v = s[m] as number;
        const row = data.subarray(m * rowSize, (m + 1) * rowSize);
        if (v <= tau) {
          evaded[i] = 1;
          fooled[i] = 1;
          scores[i] = v;
          best.set(row, i * rowSize);
          brokenBy[i] = strategy;
          perStrategy[strategy] = (perStrategy[strategy] ?? 0) + 1;
        } else if (!fooled[i] || v < (scores[i] as number)) {
          fooled[i] = 1;
          scores[i] = v;
          best.set(row, i * rowSize);
        }
      });
    };

    // The clean input may already do: misclassified and unflagged.
    check(x, Array.from({ length: n }, (_, i) => i), 'clean');

    const strategies = this.strategies();
    const targets = strategies.some((s) => s.kind === 'logit-match') ? this.pickTargets(xData, y, rowSize) : new Int32Array(0);
    const noiseSpecs = this.detector.noise();

    for (const st of strategies) {
      const ids: number[] = [];
      for (let i = 0; i < n; i++) if (!evaded[i] && (st.kind !== 'logit-match' || (targets[i] as number) >= 0)) ids.push(i);
      if (ids.length === 0) continue;
      const idx = tf.tensor1d(ids, 'int32');
      const x0 = tf.gather(x, idx);
      const ys = tf.gather(labels, idx) as tf.Tensor1D;
      let zt: tf.Tensor2D | undefined;
      if (st.kind === 'logit-match') {
        const pool = this.pool as TargetPool;
        const k = pool.logits.length / pool.count;
        const t = new Float32Array(ids.length * k);
        ids.forEach((i, j) => {
          const p = targets[i] as number;
          t.set(pool.logits.subarray(p * k, (p + 1) * k), j * k);
        });
        zt = tf.tensor2d(t, [ids.length, k]);
      }
      const surrogate: Surrogate | undefined = st.kind === 'weighted' && st.lambda > 0 ? this.detector.surrogate(f, { samples: this.eotSamples, seed: rng.seed() }) : undefined;
      const objective = (xa: tf.Tensor, noise: tf.Tensor[]): tf.Scalar => {
        if (st.kind === 'logit-match') {
          const target = zt as tf.Tensor2D;
          let loss = tf.sum(tf.square(tf.sub(f(xa), target)), 1);
          let terms = 1;
          for (const nz of noise) {
            const s = nz.shape[0] as number;
            const b = xa.shape[0] as number;
            const zn = f(noisyCopies(xa, nz));
            const rep = tf.reshape(tf.tile(tf.expandDims(target, 1), [1, s, 1]), [b * s, -1]);
            loss = tf.add(loss, tf.sum(tf.reshape(tf.sum(tf.square(tf.sub(zn, rep)), 1), [b, s]), 1));
            terms += s;
          }
          return tf.neg(tf.sum(tf.div(loss, terms))) as tf.Scalar;
        }
        const cls = tf.minimum(margin(f(xa), ys), this.kappa);
        if (surrogate === undefined) return tf.sum(cls) as tf.Scalar;
        const over = tf.relu(tf.add(tf.div(tf.sub(surrogate.value(xa), tau), sigma), this.gamma));
        return tf.sum(tf.sub(cls, tf.mul(over, st.lambda))) as tf.Scalar;
      };
      let xa = tf.tidy(() => projectToThreat(norm, x0, tf.add(x0, norm.randomStart(x0.shape, eps, rng.seed())), eps));
      try {
        for (let s = 0; s < this.steps; s++) {
          surrogate?.prepare(xa);
          // EOT draws for logit matching: the detector's own noise distributions, fresh seeds each step.
          const noise = st.kind === 'logit-match' && noiseSpecs.length > 0
            ? noiseSpecs.map((spec, i) => drawNoise(spec, Math.max(1, Math.round(this.eotSamples / noiseSpecs.length)), x0.shape.slice(1), rng.seed() + i))
            : [];
          const g = tf.grad((v: tf.Tensor) => objective(v, noise))(xa);
          tf.dispose(noise);
          const next = tf.tidy(() => projectToThreat(norm, x0, tf.add(xa, norm.step(g, this.stepSize)), eps));
          g.dispose();
          xa.dispose();
          xa = next;
          if ((s + 1) % this.checkEvery === 0 || s === this.steps - 1) check(xa, ids, st.name);
        }
      } finally {
        xa.dispose();
        surrogate?.dispose();
        tf.dispose([idx, x0, ys, ...(zt !== undefined ? [zt] : [])]);
      }
    }
    return { adversarial: tf.tensor(best, x.shape), success: evaded, fooled, evaded, scores, brokenBy, perStrategy };
  }
}

function threat(t: ThreatModel): string {
  return `${t.norm}-${t.eps}`;
}
