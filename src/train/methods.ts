/**
 * The training objectives alp offers side by side. Each method is two pure steps: make the
 * adversarial examples against the current weights (inference mode, no tape), then compute the loss
 * on the training-mode logits.
 *
 *   standard  CE(x)
 *   pgd-at    CE(x')                                            Madry et al. 2018
 *   alp       CE over [x; x'] + λ·(1/(B·K))Σ‖z(x)−z(x')‖²       Kannan et al. 2018, official normalisation
 *   clp       CE(x) + λ·(1/(B/2·K))Σ‖z(x_i)−z(x_j)‖², random pairs
 *   lsq       CE(x) + λ·(1/(B·K))Σ‖z(x)‖²
 *   trades    CE(x) + β·mean KL(p(x) ‖ p(x'))                   Zhang et al. 2019
 *   fgsm-rs   CE(x'), x' = one step of 1.25ε from a uniform start  Wong et al. 2020
 *
 * Note on ALP's CE: the official code averages one softmax CE over the concatenated 2B batch, i.e.
 * ½(CE(x) + CE(x')); the DEVELOPERS formula CE(x) + CE(x') is the same objective with the CE terms
 * weighted ×2 relative to λ. alp follows the official code; λ therefore means what it means there.
 */
import * as tf from '@tensorflow/tfjs';
import { gradientAscent } from '../attack/gradient-attack.js';
import { batchHotflip } from '../attack/text/batch-hotflip.js';
import type { EmbeddingSplit } from '../model/text.js';
import { UNIT_BOX, type Bounds } from '../attack/threat-model.js';
import type { LogitsFn } from '../model/classifier.js';
import { crossEntropy } from '../loss/cross-entropy.js';
import { cleanLogitPairing, logitPairing } from '../loss/logit-pairing.js';
import { logitSqueezing } from '../loss/logit-squeezing.js';
import { klPerExample, tradesKl } from '../loss/trades.js';
import type { Method, TrainConfig } from './config.js';

export interface StepInputs {
  x: tf.Tensor4D;
  y: tf.Tensor1D;
  /** ε in force at this step (after any ramp). */
  eps: number;
  seed: number;
  /** The input box ([0,1] unless given; null for embeddings of text models). */
  bounds?: Bounds;
}

/** Builds the adversarial batch a method trains on, or null for methods that need none. */
export function makeAdversarial(method: Method, infer: LogitsFn, s: StepInputs, c: TrainConfig): tf.Tensor4D | null {
  if (s.eps === 0) return method === 'standard' || method === 'clp' || method === 'lsq' ? null : tf.clone(s.x);
  const threat = { norm: c.norm, eps: s.eps, ...(s.bounds !== undefined ? { bounds: s.bounds } : {}) };
  // Keep the step size proportional to ε during a ramp, so early steps are not oversized.
  const stepSize = c.attackStepSize * (s.eps / c.eps);
  switch (method) {
    case 'standard':
    case 'clp':
    case 'lsq':
      return null;
    case 'pgd-at':
    case 'alp':
      return gradientAscent(infer, s.x, s.y, { threat, steps: c.attackSteps, stepSize, randomStart: true, loss: 'ce', targeted: false, seed: s.seed }) as tf.Tensor4D;
    case 'fgsm-rs':
      return gradientAscent(infer, s.x, s.y, { threat, steps: 1, stepSize: 1.25 * s.eps, randomStart: true, loss: 'ce', targeted: false, seed: s.seed }) as tf.Tensor4D;
    case 'trades': {
      const clean = tf.tidy(() => infer(s.x));
      const init = tf.tidy(() => tf.add(s.x, tf.mul(tf.randomNormal(s.x.shape, 0, 1, 'float32', s.seed), 0.001)));
      const out = gradientAscent(
        infer, s.x, s.y,
        { threat, steps: c.attackSteps, stepSize, randomStart: false, loss: (z) => klPerExample(clean, z), targeted: false, seed: s.seed },
        undefined, init,
      ) as tf.Tensor4D;
      tf.dispose([clean, init]);
      return out;
    }
  }
}

/** Words a word-swap twin may change when --train-swaps is not given. */
export const DEFAULT_TRAIN_SWAPS = 2;

/**
 * Word-swap training's twin of each message (--text-adversary swap): its token ids with at most
 * `trainSwaps` words swapped by batched HotFlip against the current weights. The number of swaps follows
 * an ε ramp (none at ε = 0), so a ramped run starts from clean twins as embedding training does.
 */
export function swapTwins(text: EmbeddingSplit, ids: tf.Tensor4D, y: tf.Tensor1D, c: TrainConfig, eps: number): tf.Tensor4D {
  const k = c.trainSwaps ?? DEFAULT_TRAIN_SWAPS;
  const swaps = c.eps > 0 ? Math.round(k * Math.min(eps / c.eps, 1)) : k;
  return swaps === 0 ? tf.clone(ids) : batchHotflip(text, ids, y, { swaps });
}

/** Clean inputs plus seeded Gaussian noise (clipped to the box, if any), for noise-augmented methods. */
export function withNoise(x: tf.Tensor4D, std: number, seed: number, bounds: Bounds = UNIT_BOX): tf.Tensor4D {
  if (std <= 0) return x;
  return tf.tidy(() => {
    const noisy = tf.add(x, tf.randomNormal(x.shape, 0, std, 'float32', seed ^ 0x5bd1e995));
    return bounds === null ? noisy : tf.clipByValue(noisy, bounds[0], bounds[1]);
  }) as tf.Tensor4D;
}

export interface LossParts {
  total: tf.Scalar;
  /** Named components for logging (each already a scalar). */
  parts: Record<string, tf.Scalar>;
}

/** The training loss for one batch; call inside optimizer.minimize (it records on the tape). */
export function methodLoss(method: Method, train: LogitsFn, s: StepInputs, xAdv: tf.Tensor4D | null, c: TrainConfig): LossParts {
  switch (method) {
    case 'standard': {
      const ce = crossEntropy(train(withNoise(s.x, c.noise, s.seed, s.bounds)), s.y);
      return { total: ce, parts: { ce } };
    }
    case 'pgd-at':
    case 'fgsm-rs': {
      const ce = crossEntropy(train(xAdv ?? s.x), s.y);
      return { total: ce, parts: { ce_adv: ce } };
    }
    case 'alp': {
      const adv = xAdv ?? s.x;
      const n = s.x.shape[0];
      const z = train(tf.concat([s.x, adv], 0));
      const ce = crossEntropy(z, tf.concat([s.y, s.y], 0));
      const zc = z.slice([0, 0], [n, -1]);
      const za = z.slice([n, 0], [n, -1]);
      const lp = logitPairing(zc, za);
      return { total: tf.add(ce, tf.mul(lp, c.lambda)), parts: { ce, pairing: lp } };
    }
    case 'clp': {
      const z = train(withNoise(s.x, c.noise, s.seed, s.bounds));
      const ce = crossEntropy(z, s.y);
      const lp = cleanLogitPairing(z);
      return { total: tf.add(ce, tf.mul(lp, c.lambda)), parts: { ce, pairing: lp } };
    }
    case 'lsq': {
      const z = train(withNoise(s.x, c.noise, s.seed, s.bounds));
      const ce = crossEntropy(z, s.y);
      const sq = logitSqueezing(z);
      return { total: tf.add(ce, tf.mul(sq, c.lambda)), parts: { ce, squeeze: sq } };
    }
    case 'trades': {
      const n = s.x.shape[0];
      const z = train(tf.concat([s.x, xAdv ?? s.x], 0));
      const zc = z.slice([0, 0], [n, -1]);
      const za = z.slice([n, 0], [n, -1]);
      const ce = crossEntropy(zc, s.y);
      const kl = tradesKl(zc, za);
      return { total: tf.add(ce, tf.mul(kl, c.beta)), parts: { ce, kl } };
    }
  }
}
