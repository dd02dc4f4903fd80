/** `alp train`'s options: no tfjs here (see cli/options.ts), so they are checked before the command loads it. */
import { parseAugment } from '../../data/augment.js';
import { METHODS, PRESETS, TEXT_ADVERSARIES, DEFAULT_TRAIN_SWAPS, TRAIN_ATTACK_LOSSES, TRAIN_ATTACK_STARTS } from '../../train/config.js';
import { ARCH_NAMES, HIDDEN_ACTIVATIONS } from '../../model/arch-names.js';
import { UserError } from '../../util/errors.js';
import { get, type CommandSpec, type OptSpec, type Parsed } from '../args.js';
import { COMMON_OPTIONS, DATA_OPTIONS } from '../options.js';

export const TRAIN_SPEC: CommandSpec = {
  name: 'train',
  summary: 'train a classifier with ALP or a related method',
  usage: 'alp train --method METHOD [--preset NAME] [options] --out DIR',
  options: [
    { name: 'method', type: 'string', choices: METHODS, help: 'training method (required)' },
    { name: 'preset', type: 'string', choices: Object.keys(PRESETS), help: 'a named set of defaults (explicit options win)' },
    { name: 'out', type: 'string', metavar: 'DIR', default: 'runs/train', help: 'output folder: model.json, weights.bin, train.json, checkpoint.alp' },
    { name: 'resume', type: 'boolean', help: 'continue the run in --out from its last checkpoint' },
    { name: 'force', type: 'boolean', help: 'replace a model already in --out (its checkpoint and its eval/audit/detect results are deleted)' },
    { name: 'checkpoint-every', type: 'int', default: 200, help: 'also checkpoint every N steps (0: epoch ends only)' },
    { name: 'workers', type: 'int', metavar: 'N', help: 'data-parallel worker threads, each with a model replica and a share of every batch (default: the number of cores; 1: no workers)' },
    { name: 'max-minutes', type: 'number', help: 'stop cleanly after this long (model and checkpoint saved; --resume continues)' },
    { name: 'arch', type: 'string', choices: ARCH_NAMES, help: 'architecture to build (default fast-cnn)' },
    { name: 'activation', type: 'string', choices: HIDDEN_ACTIVATIONS, help: 'hidden activation of the built --arch: relu (default), or swish, gelu, elu (smooth: attacks get gradients where a ReLU gives none)' },
    { name: 'model', type: 'string', metavar: 'model.json', help: 'fine-tune this TF.js layers model (must output logits) instead of building --arch; flat or channel-less inputs are reshaped' },
    { name: 'input-range', type: 'string', metavar: 'LO,HI', help: 'with --model: the value range it was trained on (e.g. -1,1); the saved model then takes [0,1] inputs' },
    // No default here: a preset (spoken-digits) may name its dataset.
    ...DATA_OPTIONS.map((o): OptSpec => (o.name === 'data' ? { ...o, help: o.help.replace("the one the model was trained on, from its train.json; else mnist", "the preset's, else mnist") } : o)),
    { name: 'epochs', type: 'int', help: 'passes over the training data' },
    { name: 'batch-size', type: 'int', help: 'clean examples per step (ALP/TRADES add as many adversarial ones)' },
    { name: 'train-size', type: 'int', help: 'train on the first N examples not held out for validation (0 = all)' },
    { name: 'val-size', type: 'int', help: 'examples held out of the training split for validation: each class in proportion, drawn with --seed' },
    { name: 'augment', type: 'strings', metavar: 'crop:P,flip|none', help: 'images: pad by P pixels and crop back at a random offset, mirror left–right with p = 1/2; applied to the clean image before the attack, drawn from (seed, epoch, example)' },
    { name: 'optimizer', type: 'string', choices: ['adam', 'sgd'], help: 'adam, or sgd with momentum' },
    { name: 'lr', type: 'number', help: 'learning rate' },
    { name: 'momentum', type: 'number', help: 'momentum for sgd' },
    { name: 'schedule', type: 'string', choices: ['constant', 'step', 'cosine'], help: 'learning-rate schedule' },
    { name: 'lr-decay-at', type: 'strings', metavar: 'F,F|none', help: 'for --schedule step: fractions of training where lr ×0.1 (none: never)' },
    { name: 'norm', type: 'string', choices: ['linf', 'l2'], help: 'threat model norm for training attacks' },
    { name: 'eps', type: 'number', help: 'perturbation radius for training attacks' },
    { name: 'attack-steps', type: 'int', help: 'PGD steps for training examples' },
    { name: 'attack-step-size', type: 'number', help: "PGD step size for training examples (default: the preset's, else the data kind's, kept in the same ratio to the ε in use)" },
    { name: 'attack-start', type: 'string', choices: TRAIN_ATTACK_STARTS, help: 'where the L∞ training attack starts (alp, pgd-at, fgsm-rs): uniform in the ε-ball (default), or a random vertex (every pixel ±ε)' },
    { name: 'attack-loss', type: 'string', choices: TRAIN_ATTACK_LOSSES, help: 'what the training attack ascends (alp, pgd-at, fgsm-rs): ce (default) or cw, the margin, whose gradient does not vanish on confident examples' },
    { name: 'eps-ramp-epochs', type: 'number', help: 'grow ε linearly from 0 over this many epochs' },
    { name: 'lambda', type: 'number', help: 'weight of the logit pairing / squeezing term (alp, clp, lsq)' },
    { name: 'beta', type: 'number', help: "TRADES' β" },
    { name: 'noise', type: 'number', help: 'std of Gaussian noise on clean inputs (standard, clp, lsq)' },
    { name: 'text-adversary', type: 'string', choices: TEXT_ADVERSARIES, help: 'text models, alp/pgd-at: train against perturbed embeddings (default) or real word swaps (batched HotFlip)' },
    { name: 'train-swaps', type: 'int', help: `with --text-adversary swap: words swapped per training message (default ${DEFAULT_TRAIN_SWAPS})` },
    { name: 'ema-decay', type: 'number', metavar: 'D', help: 'keep an exponential moving average of the weights with this decay (e.g. 0.999): validation and the saved model use it (0: off)' },
    { name: 'seed', type: 'int', help: 'seed for initialisation, data order and attacks' },
    { name: 'eval-every', type: 'int', help: 'validate every N steps (0: epoch ends only)' },
    { name: 'eval-attack-steps', type: 'int', help: 'PGD steps for validation robust accuracy' },
    ...COMMON_OPTIONS,
  ],
  examples: [
    'alp train --method alp --preset quick --out runs/alp',
    'alp train --method pgd-at --preset madry-mnist --out runs/madry',
    'alp train --method trades --beta 6 --epochs 3 --data fashion-mnist --out runs/trades-fmnist',
    'alp train --method alp --resume --out runs/alp',
    'alp train --method alp --preset spoken-digits --out runs/audio-alp',
    'alp train --method standard --data ./digits --out runs/digits   # your own data: docs/your-own-data.md',
  ],
  check: (p) => {
    if (get.str(p, 'method') === undefined) {
      throw new UserError(`alp train: --method is required (one of ${METHODS.join(', ')}; e.g. alp train --method alp --preset quick --out runs/alp)`);
    }
    if (get.str(p, 'activation') !== undefined && get.str(p, 'model') !== undefined) throw new UserError('--activation: only with a built architecture (--arch), not --model (its layers keep their own activations)');
    if (get.str(p, 'input-range') !== undefined && get.str(p, 'model') === undefined) throw new UserError('--input-range: only with --model (models alp builds take [0,1] inputs)');
    lrDecayAtOf(p);
    const augment = get.strs(p, 'augment');
    if (augment !== undefined) parseAugment(augment);
    if (get.bool(p, 'force') && get.bool(p, 'resume')) throw new UserError('alp train: --force and --resume contradict each other (replace the run, or continue it)');
  },
};

/** --lr-decay-at: fractions of training, or `none` (an empty list: a step schedule that never decays). */
export function lrDecayAtOf(p: Parsed): number[] | undefined {
  const parts = get.strs(p, 'lr-decay-at');
  if (parts === undefined) return undefined;
  if (parts.length === 1 && parts[0] === 'none') return [];
  const fractions = parts.map(Number);
  if (fractions.some((f) => !Number.isFinite(f))) throw new UserError(`--lr-decay-at: expected comma-separated numbers (fractions of training) or none, got '${parts.join(',')}'`);
  return fractions;
}
