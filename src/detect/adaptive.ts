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
 * The attack is a search of the runner (`runAttack` → `searchWithRestarts`): each strategy is one run
 * on the examples no earlier run broke, on the shared gradient loop (`gradientAscent`) with its
 * objective as a loss hook of the logits and the iterate. Success is the attack's criterion
 * `allOf(misclassified, undetected(…))`, judged by the runner inside the search on the real detector
 * (its own fixed noise), never the surrogate: every `checkEvery`-th iterate and the last one are
 * recorded, the first that meets it is kept and the example is done. For an example never broken, the
 * misclassified iterate of lowest real score is returned (the runner keeps the lowest over the runs).
 */
import * as tf from '@tensorflow/tfjs';
import type { Attack, RunContext, SearchAttack, SingleRun } from '../attack/attack.js';
import { allOf, misclassified, undetected, type Criterion } from '../attack/criteria.js';
import { gradientAscent, type LossHook } from '../attack/gradient-attack.js';
import { margin } from '../attack/objectives.js';
import { rejectUnknownOptions } from '../attack/options.js';
import { searchWithRestarts, type SearchResult } from '../attack/runner.js';
import { normOf, randomStartRows, type ThreatModel } from '../attack/threat-model.js';
import type { LogitsFn } from '../model/classifier.js';
import { UserError } from '../util/errors.js';
import { exampleSeed, Rng } from '../util/rng.js';
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

/** The runner's search result: `foundIn` is the run, i.e. the strategy (`strategyNames()`), that broke each example. */
export type AdaptiveResult = SearchResult;

interface Strategy {
  name: string;
  kind: 'weighted' | 'logit-match';
  lambda: number;
}

export class AdaptiveDetectorAttack implements Attack<AdaptiveResult>, SearchAttack {
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
  /** Misclassified and at or below the threshold on the real detector: what the search stops at. */
  readonly criterion: Criterion;
  /** The real scores the criterion last computed (of the misclassified points it judged), so a run need not score them again. */
  private judged: Float32Array | null = null;

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
    this.criterion = allOf(misclassified, undetected((g, xs) => (this.judged = detector.score(g, xs)), calibration.threshold));
  }

  private strategies(): Strategy[] {
    const s: Strategy[] = this.lambdas.map((l) => ({ name: l === 0 ? 'pgd-cw' : `weighted λ=${l}`, kind: 'weighted' as const, lambda: l }));
    if (this.logitMatching && this.pool !== undefined && this.pool.count > 0) s.push({ name: 'logit-match+eot', kind: 'logit-match', lambda: 0 });
    return s;
  }

  /** The strategy of each run, in order. */
  strategyNames(): string[] {
    return this.strategies().map((s) => s.name);
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

  /** @internal Unverified: run it with `runAttack`. */
  run(f: LogitsFn, x: tf.Tensor, labels: tf.Tensor1D, _targets?: tf.Tensor1D, ids?: readonly number[]): AdaptiveResult {
    return searchWithRestarts(this, f, x, labels, { ids, criterion: this.criterion });
  }

  runs(): number {
    return this.strategies().length;
  }

  /** Index into the pool of each example's logit-matching target: nearest (L2) pool input of another class (−1: none). */
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

  /**
   * One strategy (run `ctx.run`) on the examples the runner hands it. Every `checkEvery`-th iterate and
   * the last are recorded with the runner, which judges them by the criterion; of the misclassified
   * iterates that did not meet it, the one of lowest real score is returned per example (score: minus
   * that score; −∞ where none was misclassified, so the runner keeps an earlier run's point).
   */
  single(f: LogitsFn, x: tf.Tensor, labels: tf.Tensor1D, _targets: tf.Tensor1D | undefined, ctx: RunContext): SingleRun {
    const st = this.strategies()[ctx.run] as Strategy;
    const n = x.shape[0] as number;
    const rowSize = x.size / Math.max(n, 1);
    const y = Int32Array.from(labels.dataSync());
    const pick = st.kind === 'logit-match' ? this.pickTargets(x.dataSync() as Float32Array, y, rowSize) : new Int32Array(n);
    // Logit matching runs only on examples with a target (a pool input of another class).
    const rows: number[] = [];
    for (let j = 0; j < n; j++) if ((pick[j] as number) >= 0) rows.push(j);
    const best = new Float32Array(x.dataSync() as Float32Array);
    const bestScore = new Float32Array(n).fill(Infinity);
    if (rows.length > 0) this.strategyRun(st, f, x, y, rows, pick, ctx, best, bestScore);
    return { adversarial: tf.tensor(best, x.shape), score: bestScore.map((v) => -v) };
  }

  private strategyRun(
    st: Strategy, f: LogitsFn, x: tf.Tensor, y: Int32Array, rows: number[], pick: Int32Array, ctx: RunContext, best: Float32Array, bestScore: Float32Array,
  ): void {
    const rowSize = x.size / Math.max(x.shape[0] as number, 1);
    const tau = this.calibration.threshold;
    const sd = this.calibration.scores?.std;
    const sigma = sd !== undefined && Number.isFinite(sd) && sd > 0 ? sd : 1;
    // Draws shared by the batch (surrogate and EOT noise) come from the strategy's own stream, and each
    // example's random start from its own seed, so results do not depend on the batch.
    const rng = new Rng(exampleSeed(this.seed, ctx.run, -1));
    const all = rows.length === (x.shape[0] as number);
    const idx = tf.tensor1d(rows, 'int32');
    const x0 = all ? tf.clone(x) : tf.gather(x, idx);
    const ys = tf.tensor1d(Int32Array.from(rows, (j) => y[j] as number), 'int32');
    let zt: tf.Tensor2D | undefined;
    if (st.kind === 'logit-match') {
      const pool = this.pool as TargetPool;
      const k = pool.logits.length / pool.count;
      const t = new Float32Array(rows.length * k);
      rows.forEach((j, q) => {
        const p = pick[j] as number;
        t.set(pool.logits.subarray(p * k, (p + 1) * k), q * k);
      });
      zt = tf.tensor2d(t, [rows.length, k]);
    }
    const surrogate: Surrogate | undefined = st.kind === 'weighted' && st.lambda > 0 ? this.detector.surrogate(f, { samples: this.eotSamples, seed: rng.seed() }) : undefined;
    const noiseSpecs = this.detector.noise();
    let noise: tf.Tensor[] = [];
    // The strategy's objective as the shared loop's loss hook, which sees the logits and the iterate.
    const loss: LossHook = (z, xa) => {
      if (st.kind === 'logit-match') {
        const target = zt as tf.Tensor2D;
        let sq = tf.sum(tf.square(tf.sub(z, target)), 1);
        let terms = 1;
        for (const nz of noise) {
          const s = nz.shape[0] as number;
          const b = xa.shape[0] as number;
          const zn = f(noisyCopies(xa, nz));
          const rep = tf.reshape(tf.tile(tf.expandDims(target, 1), [1, s, 1]), [b * s, -1]);
          sq = tf.add(sq, tf.sum(tf.reshape(tf.sum(tf.square(tf.sub(zn, rep)), 1), [b, s]), 1));
          terms += s;
        }
        return tf.neg(tf.div(sq, terms)) as tf.Tensor1D;
      }
      const cls = tf.minimum(margin(z, ys), this.kappa);
      if (surrogate === undefined) return cls as tf.Tensor1D;
      const over = tf.relu(tf.add(tf.div(tf.sub(surrogate.value(xa), tau), sigma), this.gamma));
      return tf.sub(cls, tf.mul(over, st.lambda)) as tf.Tensor1D;
    };
    const beforeStep = (xa: tf.Tensor): void => {
      surrogate?.prepare(xa);
      tf.dispose(noise);
      // EOT draws for logit matching: the detector's own noise distributions, fresh seeds each step.
      noise = st.kind === 'logit-match' && noiseSpecs.length > 0
        ? noiseSpecs.map((spec, i) => drawNoise(spec, Math.max(1, Math.round(this.eotSamples / noiseSpecs.length)), x0.shape.slice(1), rng.seed() + i))
        : [];
    };
    /** Records iterate `xa` (logits `z`) with the runner; keeps the lowest real score of the misclassified ones it did not take. Returns whether all rows are done. */
    let done: Uint8Array | null = null;
    const check = (xa: tf.Tensor, z: tf.Tensor2D): boolean => {
      const pred = tf.tidy(() => z.argMax(-1).dataSync() as Int32Array);
      let data: Float32Array | undefined;
      const points = (): Float32Array => (data ??= xa.dataSync() as Float32Array);
      // The criterion judges the rows not yet done that are misclassified, in order, and scores them.
      const judgedRows: number[] = [];
      rows.forEach((j, q) => {
        if (!done?.[j] && pred[q] !== y[j]) judgedRows.push(q);
      });
      this.judged = null;
      done = ctx.record(points, pred, rows);
      const now = done;
      const open = judgedRows.filter((q) => !now[rows[q] as number]);
      if (open.length > 0) {
        // Scores of the rows it did not take: the criterion's own when it is this attack's (else scored here).
        const mine = this.judged as Float32Array | null;
        let scores: Float32Array;
        if (mine !== null && mine.length === judgedRows.length) {
          const at = new Map(judgedRows.map((q, k) => [q, k]));
          scores = Float32Array.from(open, (q) => mine[at.get(q) as number] as number);
        } else {
          const sub = tf.tidy(() => tf.gather(xa, tf.tensor1d(open, 'int32')));
          scores = this.detector.score(f, sub);
          sub.dispose();
        }
        open.forEach((q, k) => {
          const j = rows[q] as number;
          if ((scores[k] as number) >= (bestScore[j] as number)) return;
          bestScore[j] = scores[k] as number;
          best.set(points().subarray(q * rowSize, (q + 1) * rowSize), j * rowSize);
        });
      }
      return rows.every((j) => now[j] === 1);
    };
    // Iterate k (after k updates) is checked at every multiple of checkEvery, and the last one below.
    const onStep = (xa: tf.Tensor, z: tf.Tensor2D, k: number): boolean => k > 0 && k % this.checkEvery === 0 && check(xa, z);
    const seeds = Int32Array.from(rows, (j) => ctx.seeds[j] as number);
    const init = tf.tidy(() => tf.add(x0, randomStartRows(normOf(this.threat.norm), x0.shape, this.threat.eps, seeds)));
    try {
      const last = gradientAscent(f, x0, ys, {
        threat: this.threat, steps: this.steps, stepSize: this.stepSize, randomStart: false, loss, targeted: false, seed: this.seed,
      }, onStep, init, beforeStep);
      const z = tf.tidy(() => f(last) as tf.Tensor2D);
      check(last, z);
      tf.dispose([last, z]);
    } finally {
      tf.dispose([...noise, init]);
      surrogate?.dispose();
      tf.dispose([idx, x0, ys, ...(zt !== undefined ? [zt] : [])]);
    }
  }
}

function threat(t: ThreatModel): string {
  return `${t.norm}-${t.eps}`;
}
