/**
 * The adaptive word-swap attack on a text classifier + detector (Tramèr et al. 2020, carried over to
 * real word substitutions): the attacker knows the detector, its settings and its threshold τ, and
 * swaps at most k words so that the new message is misclassified AND scores at or below τ.
 *
 * For each λ in `lambdas` a HotFlip-style greedy search maximises
 *
 *   J_λ(e) = min(margin(z(e), y), κ) − λ · relu((ŝ(e) − τ)/σ + γ)
 *
 * over the message's embeddings e, where margin is the CW margin (positive = misclassified), ŝ the
 * detector's differentiable surrogate (its own noise replaced by the attacker's fresh EOT draws; inner
 * choices fixed at the current message), σ the spread of the clean calibration scores and γ a safety
 * margin below τ. Each step scores every legal swap by its first-order gain (e_v − e_w)·∇_{e_i}J_λ,
 * re-checks the `probe` best on the real new messages with the real detector, and keeps the one with the
 * highest true J_λ; it stops as soon as one is misclassified and unflagged. λ = 0 (plain HotFlip) is not
 * repeated here: the evaluation counts the non-adaptive HotFlip's message first.
 *
 * Success is never taken from the surrogate: the returned message is judged by a fresh forward pass
 * and the real detector score, and the evaluation checks both again.
 */
import * as tf from '@tensorflow/tfjs';
import { maxSwaps, type SwapBudget } from '../attack/text/budget.js';
import type { CandidateSet } from '../attack/text/candidates.js';
import { applySwap, shortlist, type Swap } from '../attack/text/first-order.js';
import type { WordModel } from '../attack/text/word-model.js';
import type { LogitsFn } from '../model/classifier.js';
import type { EmbeddingSplit } from '../model/text.js';
import { UserError } from '../util/errors.js';
import { exampleSeed } from '../util/rng.js';
import type { Calibration } from './calibrate.js';
import type { Detector } from './detector.js';

export interface AdaptiveSwapOptions {
  budget: SwapBudget;
  candidates: CandidateSet;
  /** Weights of the detector term (each > 0); plain HotFlip (λ = 0) is the non-adaptive attack. */
  lambdas?: number[];
  /** Misclassification margin (logits) the classifier term aims for. */
  kappa?: number;
  /** Safety margin below the threshold, in clean-score standard deviations. */
  gamma?: number;
  /** Swaps per step re-checked on the real message and the real detector. */
  probe?: number;
  /** Noise draws of the surrogate (expectation over the detector's noise). */
  eotSamples?: number;
  seed?: number;
}

/** One message's outcome. */
export interface AdaptiveSwapResult {
  /** The message returned: the evading one when found, else the misclassified one with the lowest score, else the last. */
  ids: Int32Array;
  fooled: boolean;
  evaded: boolean;
  /** Real detector score of `ids` (NaN when never misclassified). */
  score: number;
  /** The strategy that evaded ('' if none). */
  strategy: string;
}

/** Token ids → the detector's input: embeddings [n, L, D, 1]. */
export function embedIds(split: EmbeddingSplit, ids: Int32Array, n: number): tf.Tensor4D {
  return tf.tidy(() => tf.reshape(split.embed(tf.tensor4d(Float32Array.from(ids), [n, split.sequenceLength, 1, 1])), [n, split.sequenceLength, split.dim, 1]) as tf.Tensor4D);
}

/** The logits of embedded messages [n, L, D, 1] through the model's head. */
export function headLogits(split: EmbeddingSplit): LogitsFn {
  return (x) => split.head.apply(tf.reshape(x, [x.shape[0] as number, split.sequenceLength, split.dim])) as tf.Tensor2D;
}

export class AdaptiveSwapAttack {
  readonly lambdas: number[];
  readonly kappa: number;
  readonly gamma: number;
  readonly probe: number;
  readonly eotSamples: number;
  readonly seed: number;
  private readonly f: LogitsFn;
  private readonly sigma: number;

  constructor(readonly split: EmbeddingSplit, readonly words: WordModel, readonly detector: Detector, readonly calibration: Calibration, readonly o: AdaptiveSwapOptions) {
    this.lambdas = o.lambdas ?? [1, 10, 100];
    this.kappa = o.kappa ?? 1;
    this.gamma = o.gamma ?? 0.5;
    this.probe = o.probe ?? 8;
    this.eotSamples = o.eotSamples ?? 16;
    this.seed = o.seed ?? 0;
    if (this.lambdas.length === 0 || this.lambdas.some((l) => !Number.isFinite(l) || l <= 0)) {
      throw new UserError(`adaptive lambdas: expected numbers > 0 for text (plain HotFlip is the λ = 0 case, run as the non-adaptive attack), got ${this.lambdas.join(',')}`);
    }
    if (!Number.isInteger(this.probe) || this.probe < 1) throw new UserError(`adaptive probe: expected an integer ≥ 1, got ${this.probe}`);
    if (!Number.isInteger(this.eotSamples) || this.eotSamples < 1) throw new UserError(`adaptive EOT samples: expected an integer ≥ 1, got ${this.eotSamples}`);
    if (detector.needsFit) throw new UserError(`adaptive attack: the ${detector.kind} detector is not fitted`);
    this.f = headLogits(split);
    const sd = calibration.scores?.std;
    this.sigma = sd !== undefined && Number.isFinite(sd) && sd > 0 ? sd : 1;
  }

  describe(): Record<string, unknown> {
    return {
      attack: 'adaptive-swaps', targets: 'classifier and detector at once (Tramèr et al. 2020), real word swaps', detector: this.detector.name,
      threshold: this.calibration.threshold, swaps: this.o.budget.k, fraction: this.o.budget.fraction ?? null, candidates: this.o.candidates.kind,
      strategies: ['hotflip (λ = 0, the non-adaptive message)', ...this.lambdas.map((l) => `weighted λ=${l}`)], lambdas: this.lambdas,
      kappa: this.kappa, gamma: this.gamma, probe: this.probe, eotSamples: this.detector.noise().length > 0 ? this.eotSamples : 0,
      success: 'misclassified AND real detector score ≤ threshold, on the real new message', seed: this.seed,
    };
  }

  /** Real logits and real detector scores of n messages. */
  private judge(ids: Int32Array, n: number): { logits: Float32Array; scores: Float32Array } {
    const x = embedIds(this.split, ids, n);
    try {
      const logits = tf.tidy(() => this.f(x).dataSync() as Float32Array);
      return { logits: Float32Array.from(logits), scores: this.detector.score(this.f, x) };
    } finally {
      x.dispose();
    }
  }

  private trueObjective(logits: Float32Array, row: number, label: number, score: number, lambda: number): number {
    const c = this.words.numClasses;
    let other = -Infinity;
    for (let j = 0; j < c; j++) if (j !== label) other = Math.max(other, logits[row * c + j] as number);
    const m = Math.min(other - (logits[row * c + label] as number), this.kappa);
    return m - lambda * Math.max(0, (score - this.calibration.threshold) / this.sigma + this.gamma);
  }

  /** ∂J_λ/∂e for one message [L·D], with the surrogate prepared at the message. */
  private gradient(ids: Int32Array, label: number, lambda: number, seed: number): Float32Array {
    const L = this.split.sequenceLength, D = this.split.dim;
    const surrogate = this.detector.surrogate(this.f, { samples: this.eotSamples, seed });
    const e = tf.tidy(() => tf.reshape(this.split.embed(tf.tensor4d(Float32Array.from(ids), [1, L, 1, 1])), [1, L, D, 1]));
    try {
      surrogate.prepare(e);
      return tf.tidy(() => {
        const y = tf.tensor1d([label], 'int32');
        const j = (x: tf.Tensor): tf.Scalar => {
          const z = this.f(x);
          const mask = tf.oneHot(y, z.shape[1]);
          const m = tf.sub(tf.max(tf.sub(z, tf.mul(mask, 1e9)), 1), tf.sum(tf.mul(z, mask), 1));
          const over = tf.relu(tf.add(tf.div(tf.sub(surrogate.value(x), this.calibration.threshold), this.sigma), this.gamma));
          return tf.sum(tf.sub(tf.minimum(m, this.kappa), tf.mul(over, lambda)));
        };
        return tf.grad(j)(e).dataSync() as Float32Array;
      });
    } finally {
      surrogate.dispose();
      e.dispose();
    }
  }

  /** The `probe` legal swaps of `cur` with the highest first-order gain under gradient `g` [L·D] (the shared shortlist). */
  private topSwaps(orig: Int32Array, cur: Int32Array, g: Float32Array): Swap[] {
    const view: WordModel = { ...this.words, gradient: () => ({ objective: new Float32Array(1), grad: g }) };
    return shortlist(view, orig, [cur], { label: 0 }, this.o.candidates, this.probe).swaps;
  }

  /** Attacks one message (`example`: its dataset index, which seeds the attacker's noise). */
  run(orig: Int32Array, label: number, example: number): AdaptiveSwapResult {
    const L = this.split.sequenceLength;
    const k = maxSwaps(this.o.budget, orig);
    const c = this.words.numClasses;
    let out: AdaptiveSwapResult = { ids: orig.slice(), fooled: false, evaded: false, score: NaN, strategy: '' };
    const misclassified = (logits: Float32Array, row: number): boolean => {
      let best = 0;
      for (let j = 1; j < c; j++) if ((logits[row * c + j] as number) > (logits[row * c + best] as number)) best = j;
      return best !== label;
    };
    for (const [li, lambda] of this.lambdas.entries()) {
      let cur: Int32Array = orig.slice();
      for (let step = 0; step < k; step++) {
        const g = this.gradient(cur, label, lambda, exampleSeed(this.seed, li * 64 + step, example));
        const swaps = this.topSwaps(orig, cur, g);
        if (swaps.length === 0) break;
        const next = swaps.map((s) => applySwap(cur, s));
        const flat = new Int32Array(next.length * L);
        next.forEach((m, j) => flat.set(m, j * L));
        const { logits, scores } = this.judge(flat, next.length);
        let pick = 0, bestJ = -Infinity;
        for (let j = 0; j < next.length; j++) {
          const s = scores[j] as number;
          if (misclassified(logits, j)) {
            if (s <= this.calibration.threshold) {
              return { ids: next[j] as Int32Array, fooled: true, evaded: true, score: s, strategy: `weighted λ=${lambda}` };
            }
            if (!out.fooled || s < out.score) out = { ids: next[j] as Int32Array, fooled: true, evaded: false, score: s, strategy: '' };
          }
          const v = this.trueObjective(logits, j, label, s, lambda);
          if (v > bestJ) {
            bestJ = v;
            pick = j;
          }
        }
        cur = next[pick] as Int32Array;
      }
    }
    return out;
  }
}
