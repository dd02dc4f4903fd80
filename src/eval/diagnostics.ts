/**
 * Gradient-masking diagnostics: each check turns one known symptom of a defence that fools attacks
 * (rather than resisting them) into a named finding with its evidence. The symptoms follow Athalye,
 * Carlini & Wagner 2018 and Carlini et al. 2019 ("On Evaluating Adversarial Robustness"): accuracy that
 * does not reach ~0 at large ε, accuracy that keeps falling with more steps or restarts, black-box or
 * transfer attacks beating white-box ones, single-step beating iterative, vanishing or non-finite
 * gradients, probabilities instead of logits, and randomness in the forward pass.
 */
import * as tf from '@tensorflow/tfjs';
import { Pgd } from '../attack/pgd.js';
import type { ThreatModel } from '../attack/threat-model.js';
import type { Dataset } from '../data/dataset.js';
import { crossEntropyPerExample } from '../loss/cross-entropy.js';
import type { LogitsFn } from '../model/classifier.js';
import type { LayerGradientSupport } from '../model/gradient-support.js';
import { evaluateRobustness } from './evaluate.js';

export type FindingStatus = 'pass' | 'warn' | 'fail';

export interface Finding {
  id: string;
  title: string;
  status: FindingStatus;
  detail: string;
  evidence: Record<string, unknown>;
}

function firstRows(ds: Dataset, n: number): { x: tf.Tensor4D; y: tf.Tensor1D } {
  const k = Math.min(n, ds.count);
  const size = ds.shape[0] * ds.shape[1] * ds.shape[2];
  return {
    x: tf.tensor4d(ds.images.slice(0, k * size), [k, ds.shape[0], ds.shape[1], ds.shape[2]]),
    y: tf.tensor1d(ds.labels.slice(0, k), 'int32'),
  };
}

/** What checkLogits measures: the smallest output and the largest deviation of a row sum from 1, on the first 64 examples. */
export interface LogitStats {
  min: number;
  maxSumDev: number;
}

export function logitStats(f: LogitsFn, ds: Dataset): LogitStats {
  const { x, y } = firstRows(ds, 64);
  const stats = tf.tidy(() => {
    const z = f(x);
    const sums = tf.sum(z, -1);
    return {
      min: tf.min(z).dataSync()[0] as number,
      maxSumDev: tf.max(tf.abs(tf.sub(sums, 1))).dataSync()[0] as number,
    };
  });
  tf.dispose([x, y]);
  return stats;
}

/** Outputs that are non-negative and sum to one are probabilities, not logits. */
export function checkLogits(f: LogitsFn, ds: Dataset, lastActivation: string | undefined): Finding {
  return logitsFinding(logitStats(f, ds), lastActivation);
}

export function logitsFinding(stats: LogitStats, lastActivation: string | undefined): Finding {
  const looksLikeProbs = stats.min >= 0 && stats.maxSumDev < 1e-3;
  const softmaxLayer = lastActivation === 'softmax' || lastActivation === 'sigmoid';
  const fail = looksLikeProbs || softmaxLayer;
  return {
    id: 'softmax-output',
    title: 'The model outputs logits, not probabilities',
    status: fail ? 'fail' : 'pass',
    detail: fail
      ? `The outputs look like probabilities (last activation: ${lastActivation ?? 'none'}; min ${stats.min.toFixed(4)}, rows sum to 1 within ${stats.maxSumDev.toExponential(1)}). Gradients through a saturated softmax vanish and make attacks fail; evaluate the pre-softmax model.`
      : 'Outputs are unnormalised scores, as attacks expect.',
    evidence: { lastActivation: lastActivation ?? null, minOutput: stats.min, maxRowSumDeviationFromOne: stats.maxSumDev },
  };
}

/** The largest difference between two forward passes on the first 64 examples. */
export function forwardDifference(f: LogitsFn, ds: Dataset): number {
  const { x, y } = firstRows(ds, 64);
  const diff = tf.tidy(() => tf.max(tf.abs(tf.sub(f(x), f(x)))).dataSync()[0] as number);
  tf.dispose([x, y]);
  return diff;
}

/** Two forward passes on the same input must agree; otherwise attacks need expectation over randomness. */
export function checkDeterminism(f: LogitsFn, ds: Dataset): Finding {
  return determinismFinding(forwardDifference(f, ds));
}

export function determinismFinding(diff: number): Finding {
  const random = diff > 1e-5;
  return {
    id: 'stochastic-forward',
    title: 'The forward pass is deterministic',
    status: random ? 'warn' : 'pass',
    detail: random
      ? `Two forward passes on the same 64 inputs differ by up to ${diff.toExponential(2)}. Randomised defences must be attacked with expectation over transformation (EOT); single-sample gradients overstate robustness.`
      : 'Repeated forward passes give identical logits.',
    evidence: { maxAbsDifference: diff },
  };
}

/** Per example of the first 128: the largest |∂CE/∂x| of its input gradient. */
export function gradientNorms(f: LogitsFn, ds: Dataset): number[] {
  const { x, y } = firstRows(ds, 128);
  const norms = tf.tidy(() => {
    const g = tf.grad((xx: tf.Tensor) => tf.sum(crossEntropyPerExample(f(xx), y)))(x);
    return tf.max(tf.abs(g.reshape([g.shape[0] as number, -1])), 1).dataSync() as Float32Array;
  });
  tf.dispose([x, y]);
  return Array.from(norms);
}

/** Input gradients of the CE loss: all-zero or non-finite gradients starve gradient attacks. */
export function checkGradients(f: LogitsFn, ds: Dataset): Finding {
  return gradientsFinding(gradientNorms(f, ds));
}

export function gradientsFinding(arr: number[]): Finding {
  const nonFinite = arr.filter((v) => !Number.isFinite(v)).length;
  const zero = arr.filter((v) => v < 1e-10).length;
  const finite = arr.filter((v) => Number.isFinite(v)).sort((a, b) => a - b);
  const median = finite.length > 0 ? (finite[Math.floor(finite.length / 2)] as number) : NaN;
  const max = finite.length > 0 ? (finite[finite.length - 1] as number) : NaN;
  const zeroFrac = zero / Math.max(arr.length, 1);
  const exploding = Number.isFinite(max) && max > 1e6;
  const status: FindingStatus = nonFinite > 0 || zeroFrac > 0.5 ? 'fail' : zeroFrac > 0.05 || exploding ? 'warn' : 'pass';
  return {
    id: 'gradient-norms',
    title: 'Input gradients are finite and non-zero',
    status,
    detail: status === 'pass'
      ? `CE input gradients are finite and non-zero on all ${arr.length} examples (median max-|∂L/∂x| ${median.toExponential(2)}).`
      : `${zero} of ${arr.length} examples have a zero input gradient, ${nonFinite} a non-finite one, largest ${max.toExponential(2)}: gradient attacks get no signal there, so their failure says nothing about robustness.`,
    evidence: { examples: arr.length, zeroGradient: zero, nonFinite, medianMaxAbsGradient: median, largest: max },
  };
}

/** At a radius that permits any digit to be turned into any other, robust accuracy must collapse. */
export function checkEpsGrowth(sweep: Array<{ eps: number; robustAccuracy: number }>, threat: ThreatModel): Finding {
  const big = sweep.filter((s) => s.eps >= threat.eps * 2.5 || (threat.norm === 'linf' && s.eps >= 0.5));
  const last = big[big.length - 1] ?? sweep[sweep.length - 1];
  const acc = last?.robustAccuracy ?? NaN;
  const status: FindingStatus = last === undefined ? 'warn' : acc > 0.2 ? 'fail' : acc > 0.05 ? 'warn' : 'pass';
  return {
    id: 'eps-to-zero',
    title: 'Accuracy falls to ~0 as ε grows',
    status,
    detail: last === undefined
      ? 'No large-ε point in the sweep; cannot check.'
      : status === 'pass'
        ? `At ε=${last.eps} robust accuracy is ${(acc * 100).toFixed(1)}%: unbounded attacks succeed, as they must.`
        : `At ε=${last.eps} robust accuracy is still ${(acc * 100).toFixed(1)}%. An attack that cannot fool the model even with a perturbation that large is failing to optimise (gradient masking), so the robust accuracy at the nominal ε is an overestimate.`,
    evidence: { sweep },
  };
}

/** Robust accuracy should have converged: many more steps and restarts should change it little. */
export async function checkMoreIterations(f: LogitsFn, ds: Dataset, threat: ThreatModel, o: { n: number; weak: [number, number]; strong: [number, number]; seed: number; signal?: AbortSignal }): Promise<Finding> {
  const sub: Dataset = { ...ds, count: Math.min(o.n, ds.count) };
  const run = async (steps: number, restarts: number): Promise<number> =>
    (await evaluateRobustness(f, sub, [new Pgd({ threat, steps, restarts, loss: 'ce', seed: o.seed })], o.signal !== undefined ? { signal: o.signal } : {})).worstCaseAccuracy;
  const weak = await run(o.weak[0], o.weak[1]);
  const strong = await run(o.strong[0], o.strong[1]);
  return moreIterationsFinding(weak, strong, sub.count, o);
}

/** The finding of checkMoreIterations from the weak and the strong PGD's robust accuracy on `examples` examples. */
export function moreIterationsFinding(weak: number, strong: number, examples: number, o: { weak: [number, number]; strong: [number, number] }): Finding {
  const drop = weak - strong;
  const status: FindingStatus = drop > 0.1 ? 'fail' : drop > 0.03 ? 'warn' : 'pass';
  return {
    id: 'more-steps-restarts',
    title: 'More PGD steps and restarts do not lower accuracy substantially',
    status,
    detail: `PGD-CE with ${o.weak[0]} steps × ${o.weak[1]} restart(s): ${(weak * 100).toFixed(1)}%; with ${o.strong[0]} × ${o.strong[1]}: ${(strong * 100).toFixed(1)}% (${(drop * 100).toFixed(1)} points lower, on ${examples} examples). ` +
      (status === 'pass' ? 'The attack has converged.' : 'The weaker attack overstates robustness; quote only the strongest evaluation, and suspect masking if the gap keeps growing.'),
    evidence: { examples, weak: { steps: o.weak[0], restarts: o.weak[1], robustAccuracy: weak }, strong: { steps: o.strong[0], restarts: o.strong[1], robustAccuracy: strong } },
  };
}

const GRADIENT_FREE = /^(square|transfer)/;

/** Gradient-free or transfer attacks should not succeed where every white-box gradient attack failed. */
export function checkBlackBoxVsWhiteBox(steps: Array<{ attack: string; fooledHere: number }>, examples: number): Finding {
  const whiteDone = steps.some((s) => !GRADIENT_FREE.test(s.attack));
  const extra = steps.filter((s) => GRADIENT_FREE.test(s.attack)).reduce((a, s) => a + s.fooledHere, 0);
  const frac = extra / Math.max(examples, 1);
  const status: FindingStatus = !whiteDone || !steps.some((s) => GRADIENT_FREE.test(s.attack)) ? 'warn' : frac > 0.02 ? 'fail' : frac > 0 ? 'warn' : 'pass';
  return {
    id: 'black-box-beats-white-box',
    title: 'Gradient-free and transfer attacks find nothing the white-box attacks missed',
    status,
    detail: status === 'warn' && extra === 0
      ? 'The suite lacked a white-box or a gradient-free attack; run a standard or thorough audit.'
      : extra === 0
        ? 'After the gradient attacks, the gradient-free/transfer attacks fooled no additional example.'
        : `After all gradient attacks failed, gradient-free/transfer attacks still fooled ${extra} examples (${(frac * 100).toFixed(1)}%). White-box attacks should be at least as strong; their failure points to masked gradients.`,
    evidence: { additionalFooled: extra, fraction: frac, cascade: steps },
  };
}

/** A single gradient step beating an iterative attack means the loss surface misleads the iterations. */
export function checkSingleStep(fgsmAcc: number | undefined, pgdAcc: number | undefined): Finding {
  if (fgsmAcc === undefined || pgdAcc === undefined) {
    return { id: 'fgsm-vs-pgd', title: 'Iterative attacks beat single-step ones', status: 'warn', detail: 'FGSM or PGD missing from the comparison.', evidence: {} };
  }
  const fail = fgsmAcc < pgdAcc - 0.01;
  return {
    id: 'fgsm-vs-pgd',
    title: 'Iterative attacks beat single-step ones',
    status: fail ? 'fail' : 'pass',
    detail: fail
      ? `FGSM leaves ${(fgsmAcc * 100).toFixed(1)}% robust but PGD ${(pgdAcc * 100).toFixed(1)}%: a single step should never beat many. PGD is being misled.`
      : `FGSM: ${(fgsmAcc * 100).toFixed(1)}%, PGD: ${(pgdAcc * 100).toFixed(1)}% robust.`,
    evidence: { fgsmRobustAccuracy: fgsmAcc, pgdRobustAccuracy: pgdAcc },
  };
}

/**
 * How much a plain PGD evaluation would have overstated robustness: the accuracy left by PGD-CE alone
 * minus the worst case over the whole cascade, on the same examples. This is exactly the failure that
 * made logit pairing look robust (Engstrom et al. 2018; Mosbach et al. 2018).
 */
export function checkWeakAttackGap(weak: { steps: number; restarts: number; robustAccuracy: number }, cascadeWorst: number, examples: number): Finding {
  const gap = weak.robustAccuracy - cascadeWorst;
  const status: FindingStatus = gap > 0.1 ? 'fail' : gap > 0.03 ? 'warn' : 'pass';
  return {
    id: 'weak-attack-gap',
    title: `Plain PGD-${weak.steps} does not overstate robustness`,
    status,
    detail: `On the same ${examples} examples, PGD-CE with ${weak.steps} steps × ${weak.restarts} restart(s) leaves ${(weak.robustAccuracy * 100).toFixed(1)}% robust; ` +
      `the full cascade leaves ${(cascadeWorst * 100).toFixed(1)}%. ` +
      (status === 'pass'
        ? 'A plain PGD evaluation would have been close to the worst case.'
        : `A plain PGD evaluation would overstate robustness by ${(gap * 100).toFixed(1)} points: the loss surface misleads PGD (gradient masking); trust only the cascade.`),
    evidence: { examples, plainPgd: weak, cascadeWorstCase: cascadeWorst, gap },
  };
}

/**
 * Layers whose input gradient alp has not verified (model/gradient-support.ts): a wrong or missing
 * gradient misleads every gradient attack exactly as a masking defence does, so it is reported as a
 * masking risk until the Square attack or a verified gradient rules it out.
 */
export function checkVerifiedGradients(layers: LayerGradientSupport[]): Finding {
  const bad = layers.filter((l) => l.status === 'unverified');
  const corrected = layers.filter((l) => l.status === 'corrected');
  return {
    id: 'unverified-gradient',
    title: "Every layer's input gradient is verified",
    status: bad.length > 0 ? 'warn' : 'pass',
    detail: bad.length > 0
      ? `${bad.length} of ${layers.length} layers have gradients alp has not checked against finite differences: ${bad.map((l) => `${l.path} (${l.className}${l.note !== undefined ? `: ${l.note}` : ''})`).join('; ')}. Gradient attacks may follow a wrong direction; trust the gradient-free Square attack's result where it is lower.`
      : `All ${layers.length} layers are covered by alp's gradient check${corrected.length > 0 ? ` (${corrected.length} through alp's corrections of TF.js)` : ''}.`,
    evidence: { unverified: bad, corrected: corrected.map((l) => l.path), layers: layers.length },
  };
}
