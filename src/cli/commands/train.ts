import { resolveConfig, METHODS, PRESETS, TEXT_ADVERSARIES, type TrainConfig } from '../../train/config.js';
import { DEFAULT_TRAIN_SWAPS } from '../../train/methods.js';
import { prepareOutput, runTraining } from '../../train/run.js';
import { parseInputRange } from '../../model/adapt.js';
import { ARCH_NAMES } from '../../model/architectures.js';
import { helpText, parseArgs, get, type CommandSpec, type OptSpec, type Parsed } from '../args.js';
import { COMMON_OPTIONS, DATA_OPTIONS, DATASETS, dataProgress, emit, initBackend, isQuiet, pct, versions } from '../common.js';
import { Progress, say } from '../progress.js';
import { UserError } from '../../util/errors.js';
import { onInterrupt } from '../../util/interrupt.js';
import { checkWorkers, defaultWorkers } from '../../parallel/pool.js';

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
    { name: 'model', type: 'string', metavar: 'model.json', help: 'fine-tune this TF.js layers model (must output logits) instead of building --arch; flat or channel-less inputs are reshaped' },
    { name: 'input-range', type: 'string', metavar: 'LO,HI', help: 'with --model: the value range it was trained on (e.g. -1,1); the saved model then takes [0,1] inputs' },
    // No default here: a preset (spoken-digits) may name its dataset.
    ...DATA_OPTIONS.map((o): OptSpec => (o.name === 'data' ? { name: 'data', type: 'string', choices: DATASETS, help: "dataset (default: the preset's, else mnist)" } : o)),
    { name: 'epochs', type: 'int', help: 'passes over the training data' },
    { name: 'batch-size', type: 'int', help: 'clean examples per step (ALP/TRADES add as many adversarial ones)' },
    { name: 'train-size', type: 'int', help: 'train on the first N examples (0 = all)' },
    { name: 'val-size', type: 'int', help: 'examples held out from the end of the training split for validation' },
    { name: 'optimizer', type: 'string', choices: ['adam', 'sgd'], help: 'adam, or sgd with momentum' },
    { name: 'lr', type: 'number', help: 'learning rate' },
    { name: 'momentum', type: 'number', help: 'momentum for sgd' },
    { name: 'schedule', type: 'string', choices: ['constant', 'step', 'cosine'], help: 'learning-rate schedule' },
    { name: 'lr-decay-at', type: 'numbers', metavar: 'F,F', help: 'for --schedule step: fractions of training where lr ×0.1' },
    { name: 'norm', type: 'string', choices: ['linf', 'l2'], help: 'threat model norm for training attacks' },
    { name: 'eps', type: 'number', help: 'perturbation radius for training attacks' },
    { name: 'attack-steps', type: 'int', help: 'PGD steps for training examples' },
    { name: 'attack-step-size', type: 'number', help: "PGD step size for training examples (default: the preset's, scaled by --eps / the preset's ε)" },
    { name: 'eps-ramp-epochs', type: 'number', help: 'grow ε linearly from 0 over this many epochs' },
    { name: 'lambda', type: 'number', help: 'weight of the logit pairing / squeezing term (alp, clp, lsq)' },
    { name: 'beta', type: 'number', help: "TRADES' β" },
    { name: 'noise', type: 'number', help: 'std of Gaussian noise on clean inputs (standard, clp, lsq)' },
    { name: 'text-adversary', type: 'string', choices: TEXT_ADVERSARIES, help: 'text models, alp/pgd-at: train against perturbed embeddings (default) or real word swaps (batched HotFlip)' },
    { name: 'train-swaps', type: 'int', help: `with --text-adversary swap: words swapped per training message (default ${DEFAULT_TRAIN_SWAPS})` },
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
  ],
};

/** Maps CLI options onto config fields (undefined = not given). */
export function configOverrides(p: Parsed): Partial<TrainConfig> {
  return {
    method: get.str(p, 'method') as TrainConfig['method'] | undefined,
    arch: get.str(p, 'arch') as TrainConfig['arch'] | undefined,
    dataset: get.str(p, 'data'),
    epochs: get.num(p, 'epochs'),
    batchSize: get.num(p, 'batch-size'),
    trainSize: get.num(p, 'train-size'),
    valSize: get.num(p, 'val-size'),
    optimizer: get.str(p, 'optimizer') as TrainConfig['optimizer'] | undefined,
    lr: get.num(p, 'lr'),
    momentum: get.num(p, 'momentum'),
    schedule: get.str(p, 'schedule') as TrainConfig['schedule'] | undefined,
    lrDecayAt: get.nums(p, 'lr-decay-at'),
    norm: get.str(p, 'norm') as TrainConfig['norm'] | undefined,
    eps: get.num(p, 'eps'),
    attackSteps: get.num(p, 'attack-steps'),
    attackStepSize: get.num(p, 'attack-step-size'),
    epsRampEpochs: get.num(p, 'eps-ramp-epochs'),
    lambda: get.num(p, 'lambda'),
    beta: get.num(p, 'beta'),
    noise: get.num(p, 'noise'),
    textAdversary: get.str(p, 'text-adversary') as TrainConfig['textAdversary'],
    trainSwaps: get.num(p, 'train-swaps'),
    seed: get.num(p, 'seed'),
    evalEvery: get.num(p, 'eval-every'),
    evalAttackSteps: get.num(p, 'eval-attack-steps'),
  };
}

export async function trainCommand(argv: string[]): Promise<number> {
  const p = parseArgs(argv, TRAIN_SPEC);
  if (get.bool(p, 'help')) {
    process.stdout.write(helpText(TRAIN_SPEC) + '\n');
    return 0;
  }
  if (get.str(p, 'method') === undefined) {
    throw new UserError(`alp train: --method is required (one of ${METHODS.join(', ')}; e.g. alp train --method alp --preset quick --out runs/alp)`);
  }
  if (get.bool(p, 'force') && get.bool(p, 'resume')) throw new UserError('alp train: --force and --resume contradict each other (replace the run, or continue it)');
  const config = resolveConfig(get.str(p, 'preset'), configOverrides(p));
  const modelPath = get.str(p, 'model');
  const rangeText = get.str(p, 'input-range');
  if (rangeText !== undefined && modelPath === undefined) throw new UserError('--input-range: only with --model (models alp builds take [0,1] inputs)');
  const inputRange = rangeText !== undefined ? parseInputRange(rangeText) : undefined;
  const workers = checkWorkers(get.num(p, 'workers') ?? defaultWorkers(), '--workers');
  const quiet = isQuiet(p);
  const backend = await initBackend(p);
  const out = get.str(p, 'out') as string;
  // Before any work: a folder that holds another run is not overwritten by accident.
  prepareOutput(out, { resume: get.bool(p, 'resume'), force: get.bool(p, 'force') });
  // Installed before the first line, so a signal seen after it always finds the handler.
  const interrupt = onInterrupt('train', 'this step; the model and checkpoint are saved');
  say(quiet, `alp train: ${config.method} on ${config.dataset}, ${config.arch}, ${config.epochs} epoch(s), backend ${backend}, ${workers} worker${workers === 1 ? '' : 's'} → ${out}`);
  let bar: Progress | undefined;
  // Ctrl-C or the time budget ends the run at the next step boundary, with everything saved.
  const maxMinutes = get.num(p, 'max-minutes');
  if (maxMinutes !== undefined && !(maxMinutes > 0)) {
    interrupt.dispose();
    throw new UserError(`--max-minutes: expected a number > 0, got ${maxMinutes}`);
  }
  const deadline = maxMinutes !== undefined ? Date.now() + maxMinutes * 60_000 : Infinity;
  const dataDir = get.str(p, 'data-dir');
  let r: Awaited<ReturnType<typeof runTraining>>;
  try {
    r = await runTraining(config, {
      out,
      resume: get.bool(p, 'resume'),
      checkpointEvery: get.num(p, 'checkpoint-every') ?? 200,
      ...(dataDir !== undefined ? { dataDir } : {}),
      ...(modelPath !== undefined ? { modelPath } : {}),
      ...(inputRange !== undefined ? { inputRange } : {}),
      meta: { versions: versions(backend), argv },
      onDataProgress: dataProgress(quiet),
      // Not progress: printed under --quiet too, and kept in the JSON.
      onNotice: (m) => say(false, `notice: ${m}`),
      shouldStop: () => Date.now() >= deadline,
      signal: interrupt.signal,
      workers,
      onProgress: (e) => {
        bar ??= new Progress('train', e.totalSteps, { quiet });
        const ev = e.lastEval ? ` val clean ${pct(e.lastEval.cleanAcc)} robust ${pct(e.lastEval.robustAcc)}` : '';
        bar.update(e.step, `loss ${e.loss.toFixed(3)} ε ${e.eps.toFixed(3)} ${e.examplesPerSec.toFixed(0)} ex/s${e.workers > 1 ? ` on ${e.workers} workers` : ''}${ev}`);
      },
    });
  } finally {
    interrupt.dispose();
  }
  bar?.done();
  if (!r.state.done) say(quiet, `stopped early at step ${r.state.step}; continue with: alp train ${argv.filter((a) => a !== '--resume').join(' ')} --resume`);
  const last = r.state.evals[r.state.evals.length - 1];
  const summary = {
    out,
    method: config.method,
    steps: r.state.step,
    workers,
    seconds: r.state.elapsedMs / 1000,
    validation: last ?? null,
    config,
    complete: r.state.done,
    warnings: r.warnings,
  };
  emit(p, summary, `saved ${out}/model.json after ${r.state.step} steps (${(r.state.elapsedMs / 1000).toFixed(0)} s)` +
    (last ? `; validation (${last.examples} held-out): clean ${pct(last.cleanAcc)}, PGD-${config.evalAttackSteps} robust ${pct(last.robustAcc)}` : ''));
  // Stopped by a signal: everything is saved, but the run is not finished, and scripts must see that.
  return interrupt.exitCode();
}
