/**
 * Training configuration: every knob, its default, the presets, and validation that names the option,
 * what was given and what is allowed.
 */
import { OptionError, UserError } from '../util/errors.js';
// Names only (no tfjs): the CLI checks its options against this module before loading tfjs.
import { ARCH_NAMES, HIDDEN_ACTIVATIONS, type ArchName, type HiddenActivation } from '../model/arch-names.js';
import { NORMS, type NormName } from '../attack/norms.js';
import { checkAugment, type Augment } from '../data/augment.js';

export type Method = 'standard' | 'pgd-at' | 'alp' | 'clp' | 'lsq' | 'trades' | 'fgsm-rs';
export const METHODS: readonly Method[] = ['standard', 'pgd-at', 'alp', 'clp', 'lsq', 'trades', 'fgsm-rs'];
export type OptimizerName = 'adam' | 'sgd';
/** What a text model's adversarial twin is: a perturbed embedding, or the message with real words swapped. */
export type TextAdversary = 'embedding' | 'swap';
export const TEXT_ADVERSARIES: readonly TextAdversary[] = ['embedding', 'swap'];
export type Schedule = 'constant' | 'step' | 'cosine';
/** What the training attack (PGD-AT, ALP, FGSM-RS) maximises: cross-entropy, or the CW margin. */
export type TrainAttackLoss = 'ce' | 'cw';
export const TRAIN_ATTACK_LOSSES: readonly TrainAttackLoss[] = ['ce', 'cw'];
/**
 * Where the L∞ training attack starts: uniform in the ε-ball (Madry et al.), or a random vertex of it
 * (every coordinate ±ε). A ReLU network's zero gradients leave a sign-gradient step nowhere to move
 * those coordinates, so they stay where they started: from a vertex, at the ball's edge.
 */
export type TrainAttackStart = 'uniform' | 'vertex';
export const TRAIN_ATTACK_STARTS: readonly TrainAttackStart[] = ['uniform', 'vertex'];

/** Words a word-swap twin may change when --train-swaps is not given. */
export const DEFAULT_TRAIN_SWAPS = 2;

export interface TrainConfig {
  method: Method;
  arch: ArchName;
  /** The built architecture's hidden activation (model/arch-names.ts). Absent: relu. */
  activation?: HiddenActivation;
  dataset: string;
  epochs: number;
  batchSize: number;
  /** Training examples used (the first N after the validation slice is held out); 0 = all. */
  trainSize: number;
  /** Examples held out of the training split for evaluation during training (stratified by class, seeded: jobs/train.ts). */
  valSize: number;
  optimizer: OptimizerName;
  lr: number;
  momentum: number;
  schedule: Schedule;
  /** For `step`: fractions of training at which the learning rate is multiplied by 0.1. */
  lrDecayAt: number[];
  /** Norm, radius, steps and step size of the attack that makes training examples. */
  norm: NormName;
  eps: number;
  attackSteps: number;
  attackStepSize: number;
  /**
   * The loss the training attack ascends (pgd-at, alp, fgsm-rs): cross-entropy (absent: the papers'
   * choice), or the CW margin max_{j≠y} z_j − z_y, whose gradient does not vanish on confident examples
   * the way CE's does. TRADES' twins always ascend its KL term.
   */
  attackLoss?: TrainAttackLoss;
  /** Where the L∞ training attack starts (pgd-at, alp, fgsm-rs). Absent: uniform. */
  attackStart?: TrainAttackStart;
  /** Epochs over which ε grows linearly from 0 (helps MNIST ε=0.3 leave the chance plateau). */
  epsRampEpochs: number;
  /** Weight of the pairing / squeezing penalty (alp, clp, lsq). */
  lambda: number;
  /** TRADES' β. */
  beta: number;
  /**
   * Std of Gaussian noise added to the clean inputs of standard/clp/lsq training (clipped to [0,1]).
   * Kannan et al. trained CLP and logit squeezing with such noise; it is what Mosbach et al. 2018 found to
   * fool PGD, so the audit can be demonstrated on it.
   */
  noise: number;
  seed: number;
  /** Evaluate on the validation slice every N steps (0 = only at epoch ends). */
  evalEvery: number;
  /** Steps of the PGD used for validation robust accuracy. */
  evalAttackSteps: number;
  /**
   * Text models, alp and pgd-at: train against embedding perturbations (the default) or against real
   * word swaps (batched HotFlip, at most `trainSwaps` words per message). Absent in older configs.
   */
  textAdversary?: TextAdversary;
  trainSwaps?: number;
  /** Random crop and flip of the clean images before the attack (data/augment.ts). Absent: none. */
  augment?: Augment;
  /**
   * Decay of the exponential moving average of the weights that validation and the saved model use
   * (train/weight-average.ts), e.g. 0.999. Absent or 0: no averaging, the last weights are the model.
   */
  emaDecay?: number;
}

/** Defaults: the paper-faithful Madry-style setting, adjusted by presets for speed. */
export const DEFAULTS: TrainConfig = {
  method: 'alp',
  arch: 'fast-cnn',
  dataset: 'mnist',
  epochs: 1,
  batchSize: 64,
  trainSize: 0,
  valSize: 1000,
  optimizer: 'adam',
  lr: 1e-3,
  momentum: 0.9,
  schedule: 'cosine',
  lrDecayAt: [0.5, 0.75],
  norm: 'linf',
  eps: 0.3,
  attackSteps: 10,
  attackStepSize: 0.075,
  epsRampEpochs: 0,
  // Official ALP code, ImageNet/Tiny ImageNet examples: train_lp_weight=0.5.
  lambda: 0.5,
  // TRADES paper's default for MNIST and CIFAR-10 robustness trade-off.
  beta: 6,
  noise: 0,
  seed: 1,
  evalEvery: 0,
  evalAttackSteps: 10,
};

export type PresetName = 'quick' | 'madry-mnist' | 'mnist-robust' | 'spam' | 'spoken-digits';
export const PRESET_NAMES: readonly PresetName[] = ['quick', 'madry-mnist', 'mnist-robust', 'spam', 'spoken-digits'];

/**
 * A bad configuration value. The message names the config field (`batchSize: …`), not a CLI flag:
 * the CLI maps `field` to its option (--batch-size) — see optionMessage() in cli/args.ts.
 */
export class ConfigError extends OptionError {
  constructor(readonly field: keyof TrainConfig | 'preset', readonly problem: string) {
    super(`{${field}}: ${problem}`);
    this.name = 'ConfigError';
  }
}

export interface Preset {
  description: string;
  config: Partial<TrainConfig>;
}

export const PRESETS: Record<PresetName, Preset> = {
  quick: {
    description: 'Fast CNN, MNIST, ε=0.3 with PGD-10 examples: minutes on a laptop CPU.',
    config: { arch: 'fast-cnn', epochs: 4, batchSize: 64, lr: 1e-3, schedule: 'cosine', attackSteps: 10, attackStepSize: 0.075, epsRampEpochs: 0.5, trainSize: 0, valSize: 500, evalEvery: 400 },
  },
  'madry-mnist': {
    description:
      'Madry et al. 2018 MNIST setup as used by the ALP paper: madry-cnn, L∞ ε=0.3, PGD-40 with step 0.01, ' +
      'Adam lr 1e-4, batch 50 (100k steps in the original, ~83 epochs).',
    config: { arch: 'madry-cnn', epochs: 83, batchSize: 50, lr: 1e-4, schedule: 'constant', attackSteps: 40, attackStepSize: 0.01, epsRampEpochs: 0, evalEvery: 1000 },
  },
  'mnist-robust': {
    description:
      'ALP on MNIST for the L∞ ε=0.3 threat model, sized for one hour of a 2-core CPU: wide-cnn (fast-cnn at twice the width), 28 epochs, ' +
      'batch 64 clean + 64 PGD-10 at a training radius of 0.35 (step 0.0875), ramped from 0 over 3 epochs, Adam 1e-3 with cosine decay, λ=0.5. ' +
      'Measured 2026-12-07: 46.6 min on 2 idle cores, 99.2% clean, 92.8% under alp audit --budget standard --eps 0.3 (zoo:mnist-robust-alp; docs/experiments.md).',
    config: {
      dataset: 'mnist', arch: 'wide-cnn', epochs: 28, batchSize: 64, lr: 1e-3, schedule: 'cosine', eps: 0.35, attackSteps: 10, attackStepSize: 0.0875,
      epsRampEpochs: 3, lambda: 0.5, trainSize: 0, valSize: 500, evalEvery: 2000,
    },
  },
  spam: {
    description:
      'Text: text-cnn on the SpamAssassin corpus (ham vs spam), adversarial embeddings under L2 ε=0.5 over the ' +
      'whole message (unit-norm word vectors: two words are ≤ 2 apart, so about a third of one word); PGD-10.',
    config: {
      dataset: 'spam-assassin', arch: 'text-cnn', epochs: 4, batchSize: 50, lr: 2e-3, schedule: 'cosine', norm: 'l2', eps: 0.5,
      attackSteps: 10, attackStepSize: 0.125, epsRampEpochs: 0, trainSize: 0, valSize: 400, evalEvery: 0,
    },
  },
  'spoken-digits': {
    description:
      'Audio: audio-cnn on espeak-ng spoken digits (8 kHz, 1 s), L∞ ε=0.005 in the [0,1] box = 0.01 in the waveform, ' +
      '−34 dB relative to the clips\' 0.5 peak; PGD-10. ~5 min of ALP on a laptop CPU.',
    config: {
      dataset: 'spoken-digits', arch: 'audio-cnn', epochs: 6, batchSize: 50, lr: 2e-3, schedule: 'cosine', eps: 0.005,
      attackSteps: 10, attackStepSize: 0.00125, epsRampEpochs: 0, trainSize: 0, valSize: 300, evalEvery: 0,
    },
  },
};

function check(cond: boolean, field: keyof TrainConfig, expected: string, got: unknown): void {
  if (!cond) throw new ConfigError(field, `expected ${expected}, got ${JSON.stringify(got)}`);
}

const isInt = (v: number, min: number): boolean => Number.isInteger(v) && v >= min;


/** Validates a full config; throws a ConfigError naming the first bad field. */
export function validateConfig(c: TrainConfig): TrainConfig {
  check(METHODS.includes(c.method), 'method', `one of ${METHODS.join(', ')}`, c.method);
  check(ARCH_NAMES.includes(c.arch), 'arch', `one of ${ARCH_NAMES.join(', ')}`, c.arch);
  check(isInt(c.epochs, 1), 'epochs', 'an integer ≥ 1', c.epochs);
  check(isInt(c.batchSize, 2), 'batchSize', 'an integer ≥ 2', c.batchSize);
  check(isInt(c.trainSize, 0), 'trainSize', 'an integer ≥ 0 (0 = all)', c.trainSize);
  check(isInt(c.valSize, 0), 'valSize', 'an integer ≥ 0', c.valSize);
  check(c.optimizer === 'adam' || c.optimizer === 'sgd', 'optimizer', 'adam or sgd', c.optimizer);
  check(Number.isFinite(c.lr) && c.lr > 0, 'lr', 'a number > 0', c.lr);
  check(Number.isFinite(c.momentum) && c.momentum >= 0 && c.momentum < 1, 'momentum', 'a number in [0, 1)', c.momentum);
  check(['constant', 'step', 'cosine'].includes(c.schedule), 'schedule', 'constant, step or cosine', c.schedule);
  check(c.lrDecayAt.every((f) => f > 0 && f < 1), 'lrDecayAt', 'fractions in (0, 1)', c.lrDecayAt);
  check(NORMS.includes(c.norm), 'norm', NORMS.join(' or '), c.norm);
  check(Number.isFinite(c.eps) && c.eps >= 0 && (c.norm !== 'linf' || c.eps < 1), 'eps', 'a number ≥ 0 inside the [0,1] box (< 1 for linf)', c.eps);
  check(isInt(c.attackSteps, 1), 'attackSteps', 'an integer ≥ 1', c.attackSteps);
  check(Number.isFinite(c.attackStepSize) && c.attackStepSize > 0, 'attackStepSize', 'a number > 0', c.attackStepSize);
  check(Number.isFinite(c.epsRampEpochs) && c.epsRampEpochs >= 0, 'epsRampEpochs', 'a number ≥ 0', c.epsRampEpochs);
  check(Number.isFinite(c.lambda) && c.lambda >= 0, 'lambda', 'a number ≥ 0', c.lambda);
  check(Number.isFinite(c.beta) && c.beta >= 0, 'beta', 'a number ≥ 0', c.beta);
  check(Number.isFinite(c.noise) && c.noise >= 0, 'noise', 'a number ≥ 0', c.noise);
  check(isInt(c.seed, 0), 'seed', 'an integer ≥ 0', c.seed);
  check(isInt(c.evalEvery, 0), 'evalEvery', 'an integer ≥ 0', c.evalEvery);
  check(isInt(c.evalAttackSteps, 1), 'evalAttackSteps', 'an integer ≥ 1', c.evalAttackSteps);
  if (c.textAdversary !== undefined) {
    check(TEXT_ADVERSARIES.includes(c.textAdversary), 'textAdversary', TEXT_ADVERSARIES.join(' or '), c.textAdversary);
    check(c.textAdversary === 'embedding' || c.method === 'alp' || c.method === 'pgd-at', 'textAdversary', `alp or pgd-at for swap (method ${c.method} has no word-swap twin)`, c.textAdversary);
  }
  if (c.augment !== undefined) checkAugment(c.augment);
  if (c.attackStart !== undefined) {
    check(TRAIN_ATTACK_STARTS.includes(c.attackStart), 'attackStart', TRAIN_ATTACK_STARTS.join(' or '), c.attackStart);
    check(c.attackStart === 'uniform' || ((c.method === 'alp' || c.method === 'pgd-at' || c.method === 'fgsm-rs') && c.norm === 'linf' && c.textAdversary !== 'swap'), 'attackStart', `uniform for method ${c.method} under ${c.norm} (a vertex start is for alp, pgd-at and fgsm-rs under linf)`, c.attackStart);
  }
  if (c.attackLoss !== undefined) {
    check(TRAIN_ATTACK_LOSSES.includes(c.attackLoss), 'attackLoss', TRAIN_ATTACK_LOSSES.join(' or '), c.attackLoss);
    check(c.attackLoss === 'ce' || c.method === 'alp' || c.method === 'pgd-at' || c.method === 'fgsm-rs', 'attackLoss', `ce for method ${c.method} (only alp, pgd-at and fgsm-rs make their twins with a choice of loss)`, c.attackLoss);
    check(c.attackLoss === 'ce' || c.textAdversary !== 'swap', 'attackLoss', 'ce with --text-adversary swap (HotFlip scores swaps by cross-entropy)', c.attackLoss);
  }
  if (c.activation !== undefined) check(HIDDEN_ACTIVATIONS.includes(c.activation), 'activation', `one of ${HIDDEN_ACTIVATIONS.join(', ')}`, c.activation);
  if (c.emaDecay !== undefined) check(Number.isFinite(c.emaDecay) && c.emaDecay >= 0 && c.emaDecay < 1, 'emaDecay', 'a number in [0, 1) (0: no averaging)', c.emaDecay);
  if (c.trainSwaps !== undefined) {
    check(isInt(c.trainSwaps, 1), 'trainSwaps', 'an integer ≥ 1', c.trainSwaps);
    check(c.textAdversary === 'swap', 'trainSwaps', 'to go with --text-adversary swap', c.trainSwaps);
  }
  return c;
}

/**
 * A preset on its own (over the defaults) must be a valid config and a coherent one: its PGD must be able to
 * reach the edge of its ε-ball (steps × step size ≥ ε) and its ε ramp must end before training does.
 * Options given with it may change anything; the preset itself must not be broken. Throws a ConfigError
 * naming the preset and the field.
 */
export function checkPreset(name: PresetName, p: Preset = PRESETS[name]): TrainConfig {
  let c: TrainConfig;
  try {
    c = validateConfig({ ...DEFAULTS, ...p.config } as TrainConfig);
  } catch (e) {
    if (e instanceof ConfigError) throw new ConfigError(e.field, `preset ${name}: ${e.problem}`);
    throw e;
  }
  const reach = c.attackSteps * c.attackStepSize;
  if (reach < c.eps) throw new ConfigError('attackStepSize', `preset ${name}: expected attackSteps × attackStepSize ≥ eps so PGD can reach the edge of the ε-ball, got ${c.attackSteps} × ${c.attackStepSize} = ${reach} < ${c.eps}`);
  if (c.epsRampEpochs >= c.epochs) throw new ConfigError('epsRampEpochs', `preset ${name}: expected the ε ramp to end before training does (< ${c.epochs} epochs), got ${c.epsRampEpochs}`);
  return c;
}

/** Options as a command collects them: an undefined value means 'not given' and leaves the default. */
export type ConfigOverrides = { [K in keyof TrainConfig]?: TrainConfig[K] | undefined };

/**
 * Defaults ← data-kind defaults (train/data-defaults.ts; none for MNIST-like data) ← preset ← explicit
 * options, validated.
 */
export function resolveConfig(preset: PresetName | string | undefined, overrides: ConfigOverrides, dataDefaults: Partial<TrainConfig> = {}): TrainConfig {
  let base: Partial<TrainConfig> = {};
  if (preset !== undefined) {
    const p = (PRESET_NAMES as readonly string[]).includes(preset) ? PRESETS[preset as PresetName] : undefined;
    if (p === undefined) throw new ConfigError('preset', `expected one of ${PRESET_NAMES.join(', ')}, got '${preset}'`);
    checkPreset(preset as PresetName, p);
    base = p.config;
  }
  const defined: Partial<TrainConfig> = Object.fromEntries(Object.entries(overrides).filter(([, v]) => v !== undefined));
  const merged = { ...DEFAULTS, ...dataDefaults, ...base, ...defined } as TrainConfig;
  // A step size not given keeps its ratio to the radius it was chosen for: PGD-10 at step 0.075 suits
  // ε = 0.3 (2.5·ε/10) but at ε = 0.1 it would jump three quarters of the ball per step, and at RGB
  // data's 8/255 it would cross the whole ball. The step comes from the preset, else the data kind, else
  // the defaults, and was chosen for that layer's ε (the defaults' 0.3 for a preset that sets no ε).
  if (defined.attackStepSize === undefined) {
    const from = base.attackStepSize !== undefined ? base : dataDefaults.attackStepSize !== undefined ? dataDefaults : DEFAULTS;
    const chosenFor = from.eps ?? DEFAULTS.eps;
    if (Number.isFinite(merged.eps) && merged.eps > 0 && merged.eps !== chosenFor) merged.attackStepSize = (from.attackStepSize as number) * (merged.eps / chosenFor);
  }
  // The papers' cross-entropy twins are the default; written out they are the same run (a resume with
  // --attack-loss ce continues one that never named it).
  if (merged.attackLoss === 'ce') delete merged.attackLoss;
  if (merged.attackStart === 'uniform') delete merged.attackStart;
  // Likewise ReLU, the built architectures' own activation.
  if (merged.activation === 'relu') delete merged.activation;
  return validateConfig(merged);
}
