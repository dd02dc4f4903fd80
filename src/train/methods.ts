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
import { UNIT_BOX, boundsOf, normOf, randomStartRows, type Bounds } from '../attack/threat-model.js';
import { withNativeNetwork, type LogitsFn } from '../model/classifier.js';
import type { NativeNetwork } from '../backend/native-network.js';
import { crossEntropyPerExample } from '../loss/cross-entropy.js';
import { klPerExample } from '../loss/trades.js';
import { Rng } from '../util/rng.js';
import { DEFAULT_TRAIN_SWAPS, type Method, type TrainConfig } from './config.js';

export interface StepInputs {
  x: tf.Tensor4D;
  y: tf.Tensor1D;
  /** ε in force at this step (after any ramp). */
  eps: number;
  seed: number;
  /**
   * One seed per row (from the example's index in the dataset, see trainer.ts): random starts and
   * noise are then drawn per example, so they do not depend on how a batch is split across workers.
   * Without it, one draw for the whole batch from `seed`.
   */
  rowSeeds?: ArrayLike<number>;
  /** The input box ([0,1] unless given; null for embeddings of text models). */
  bounds?: Bounds;
  /**
   * The batch these rows are a share of (data-parallel training): every loss term is divided by the
   * whole batch's counts instead of this share's, so the shares' losses and gradients sum to the
   * whole batch's. Without it the rows are the whole batch.
   */
  whole?: WholeBatch;
}

/** The counts of the whole batch that a share's loss terms are normalised by. */
export interface WholeBatch {
  /** Examples in the batch. */
  examples: number;
  /** Pairs that clean logit pairing forms in it: ⌊examples/2⌋. */
  pairs: number;
}

function wholeOf(s: StepInputs): WholeBatch {
  const n = s.x.shape[0];
  return s.whole ?? { examples: n, pairs: Math.floor(n / 2) };
}

/**
 * Per-example random values filled in JS from each row's own seed (one tensor op instead of one per
 * row, which cost ~8% of a share's step): uniform in [lo, hi), one of lo and hi (a vertex), or Gaussian (Box-Muller) with `std`.
 */
function rowValues(shape: number[], seeds: ArrayLike<number>, salt: number, kind: 'uniform' | 'vertex' | 'normal', a: number, b: number): tf.Tensor {
  const rows = shape[0] as number;
  const size = shape.slice(1).reduce((p, q) => p * q, 1);
  const out = new Float32Array(rows * size);
  for (let j = 0; j < rows; j++) {
    const rng = new Rng(((seeds[j] as number) ^ salt) >>> 0);
    const base = j * size;
    if (kind === 'uniform') for (let i = 0; i < size; i++) out[base + i] = a + (b - a) * rng.next();
    else if (kind === 'vertex') for (let i = 0; i < size; i++) out[base + i] = rng.next() < 0.5 ? a : b;
    else {
      for (let i = 0; i < size; i += 2) {
        const r = Math.sqrt(-2 * Math.log(1 - rng.next())) * b, t = 2 * Math.PI * rng.next();
        out[base + i] = a + r * Math.cos(t);
        if (i + 1 < size) out[base + i + 1] = a + r * Math.sin(t);
      }
    }
  }
  return tf.tensor(out, shape);
}

/** Gaussian noise N(0, std²) shaped like `shape`: per row from `rowSeeds`, else one draw from `seed`. */
function gaussian(shape: number[], std: number, s: Pick<StepInputs, 'seed' | 'rowSeeds'>, salt: number): tf.Tensor {
  if (s.rowSeeds === undefined) return tf.randomNormal(shape, 0, std, 'float32', s.seed ^ salt);
  return rowValues(shape, s.rowSeeds, salt, 'normal', 0, std);
}

/**
 * The training attack's start, as an offset from the clean batch: per example from its row seed, at a
 * vertex of the ε-ball with --attack-start vertex. Null where gradientAscent draws its own (no row
 * seeds, a uniform start).
 */
function startOffset(s: StepInputs, c: TrainConfig): tf.Tensor | null {
  const SALT = 0x2545f491;
  if (c.attackStart === 'vertex') {
    if (s.rowSeeds !== undefined) return rowValues(s.x.shape, s.rowSeeds, SALT, 'vertex', -s.eps, s.eps);
    // ±1 from a uniform draw (step(0) = 0 gives −1, so no coordinate is left at 0), times ε.
    return tf.tidy(() => tf.mul(tf.sub(tf.mul(tf.step(tf.randomUniform(s.x.shape, -1, 1, 'float32', s.seed)), 2), 1), s.eps));
  }
  if (s.rowSeeds === undefined) return null;
  return c.norm === 'linf' ? rowValues(s.x.shape, s.rowSeeds, SALT, 'uniform', -s.eps, s.eps) : randomStartRows(normOf(c.norm), s.x.shape, s.eps, s.rowSeeds);
}

/**
 * Builds the adversarial batch a method trains on, or null for methods that need none. `net`: the model
 * on the native path (backend/native-network.ts), when it runs there; PGD and FGSM-RS then take their
 * gradients from it (attack/native-gradient.ts) in the same loop, without TF.js' per-op overhead.
 * (`logitsOf(model)` already carries it; `net` is for an `infer` that does not.)
 */
export function makeAdversarial(method: Method, infer: LogitsFn, s: StepInputs, c: TrainConfig, net: NativeNetwork | null = null): tf.Tensor4D | null {
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
    case 'fgsm-rs': {
      const steps = method === 'fgsm-rs' ? 1 : c.attackSteps;
      const size = method === 'fgsm-rs' ? 1.25 * s.eps : stepSize;
      const cfg = { threat, steps, stepSize: size, randomStart: true, loss: c.attackLoss ?? 'ce', targeted: false, seed: s.seed };
      const start = startOffset(s, c);
      if (start === null) return gradientAscent(net !== null ? withNativeNetwork(infer, net) : infer, s.x, s.y, cfg) as tf.Tensor4D;
      const init = tf.tidy(() => tf.add(s.x, start));
      start.dispose();
      const out = gradientAscent(net !== null ? withNativeNetwork(infer, net) : infer, s.x, s.y, cfg, undefined, init) as tf.Tensor4D;
      init.dispose();
      return out;
    }
    case 'trades': {
      const clean = tf.tidy(() => infer(s.x));
      const init = tf.tidy(() => tf.add(s.x, gaussian(s.x.shape, 0.001, s, 0)));
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

export { DEFAULT_TRAIN_SWAPS };

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

/**
 * Clean inputs plus seeded Gaussian noise (clipped to the box, if any), for noise-augmented methods.
 * `seed` is one seed for the batch, or one per row.
 */
export function withNoise(x: tf.Tensor4D, std: number, seed: number | ArrayLike<number>, bounds: Bounds = UNIT_BOX): tf.Tensor4D {
  if (std <= 0) return x;
  const seeds = typeof seed === 'number' ? { seed } : { seed: 0, rowSeeds: seed };
  return tf.tidy(() => {
    const noisy = tf.add(x, gaussian(x.shape, std, seeds, 0x5bd1e995));
    return bounds === null ? noisy : tf.clipByValue(noisy, bounds[0], bounds[1]);
  }) as tf.Tensor4D;
}

export interface LossParts {
  total: tf.Scalar;
  /** Named components for logging (each already a scalar). */
  parts: Record<string, tf.Scalar>;
}

/** Σ of a per-example (or per-element) tensor divided by the whole batch's count. */
function sumOver(t: tf.Tensor, count: number): tf.Scalar {
  return tf.div(tf.sum(t), Math.max(count, 1)) as tf.Scalar;
}

/**
 * The training loss for one batch, or for one share of a batch (`s.whole`): each term is a sum over
 * the rows divided by the whole batch's count, so the shares' losses add up to the batch's (and so do
 * their gradients). Call inside optimizer.minimize / variableGrads (it records on the tape).
 */
export function methodLoss(method: Method, train: LogitsFn, s: StepInputs, xAdv: tf.Tensor4D | null, c: TrainConfig): LossParts {
  const w = wholeOf(s);
  const noisy = (): tf.Tensor4D => withNoise(s.x, c.noise, s.rowSeeds ?? s.seed, s.bounds);
  switch (method) {
    case 'standard': {
      const ce = sumOver(crossEntropyPerExample(train(noisy()), s.y), w.examples);
      return { total: ce, parts: { ce } };
    }
    case 'pgd-at':
    case 'fgsm-rs': {
      const ce = sumOver(crossEntropyPerExample(train(xAdv ?? s.x), s.y), w.examples);
      return { total: ce, parts: { ce_adv: ce } };
    }
    case 'alp': {
      // One CE over the concatenated [x; x'] (the official code), i.e. divided by 2B.
      const adv = xAdv ?? s.x;
      const n = s.x.shape[0];
      const z = train(tf.concat([s.x, adv], 0));
      const ce = sumOver(crossEntropyPerExample(z, tf.concat([s.y, s.y], 0)), 2 * w.examples);
      const zc = z.slice([0, 0], [n, -1]);
      const za = z.slice([n, 0], [n, -1]);
      const lp = sumOver(tf.squaredDifference(zc, za), w.examples * (z.shape[1] as number));
      return { total: tf.add(ce, tf.mul(lp, c.lambda)), parts: { ce, pairing: lp } };
    }
    case 'clp': {
      // Pairs the first half of the rows with the second half (loss/logit-pairing.ts); a share holds
      // whole pairs (train/shares.ts), so this is the same pairing as on the whole batch.
      const z = train(noisy());
      const ce = sumOver(crossEntropyPerExample(z, s.y), w.examples);
      const half = Math.floor((z.shape[0] as number) / 2);
      const k = z.shape[1] as number;
      const lp = half === 0 ? tf.scalar(0) : sumOver(tf.squaredDifference(z.slice([0, 0], [half, -1]), z.slice([half, 0], [half, -1])), w.pairs * k);
      return { total: tf.add(ce, tf.mul(lp, c.lambda)), parts: { ce, pairing: lp } };
    }
    case 'lsq': {
      const z = train(noisy());
      const ce = sumOver(crossEntropyPerExample(z, s.y), w.examples);
      const sq = sumOver(tf.square(z), w.examples * (z.shape[1] as number));
      return { total: tf.add(ce, tf.mul(sq, c.lambda)), parts: { ce, squeeze: sq } };
    }
    case 'trades': {
      const n = s.x.shape[0];
      const z = train(tf.concat([s.x, xAdv ?? s.x], 0));
      const zc = z.slice([0, 0], [n, -1]);
      const za = z.slice([n, 0], [n, -1]);
      const ce = sumOver(crossEntropyPerExample(zc, s.y), w.examples);
      const kl = sumOver(klPerExample(zc, za), w.examples);
      return { total: tf.add(ce, tf.mul(kl, c.beta)), parts: { ce, kl } };
    }
  }
}
