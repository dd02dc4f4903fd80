import { lrDecayAtOf, TRAIN_SPEC } from '../specs/train.js';
import { PRESETS, resolveConfig, type ConfigOverrides, type PresetName, type TrainConfig } from '../../train/config.js';
import { appliedDefaults, dataDefaults } from '../../train/data-defaults.js';
import { parseDataSource } from '../../data/source.js';
import { dataKindOf } from '../../data/resolve.js';
import { prepareOutput, runTraining, trainedModel } from '../../jobs/train.js';
import { trainedModelLabel } from '../../artifacts/train.js';
import { parseInputRange } from '../../model/adapt.js';
import { archLabel } from '../../model/arch-names.js';
import { parseCommand, get, type Parsed } from '../args.js';
import { dataProgress, emit, initBackend, isQuiet, loaderOptionsOf, loadSourceFor, pct, versions } from '../common.js';
import { networkPathLine } from '../../backend/native-network.js';
import { Progress, say } from '../progress.js';
import { UserError } from '../../util/errors.js';
import { parseAugment } from '../../data/augment.js';
import { onInterrupt } from '../../util/interrupt.js';
import { checkWorkers, defaultWorkers } from '../../parallel/pool.js';

export { TRAIN_SPEC };

/** Maps CLI options onto config fields (undefined = not given). */
export function configOverrides(p: Parsed): ConfigOverrides {
  return {
    method: get.str(p, 'method') as TrainConfig['method'] | undefined,
    arch: get.str(p, 'arch') as TrainConfig['arch'] | undefined,
    activation: get.str(p, 'activation') as TrainConfig['activation'],
    dataset: get.str(p, 'data'),
    epochs: get.num(p, 'epochs'),
    batchSize: get.num(p, 'batch-size'),
    trainSize: get.num(p, 'train-size'),
    valSize: get.num(p, 'val-size'),
    optimizer: get.str(p, 'optimizer') as TrainConfig['optimizer'] | undefined,
    lr: get.num(p, 'lr'),
    momentum: get.num(p, 'momentum'),
    schedule: get.str(p, 'schedule') as TrainConfig['schedule'] | undefined,
    lrDecayAt: lrDecayAtOf(p),
    norm: get.str(p, 'norm') as TrainConfig['norm'] | undefined,
    eps: get.num(p, 'eps'),
    attackSteps: get.num(p, 'attack-steps'),
    attackStepSize: get.num(p, 'attack-step-size'),
    attackLoss: get.str(p, 'attack-loss') as TrainConfig['attackLoss'],
    attackStart: get.str(p, 'attack-start') as TrainConfig['attackStart'],
    epsRampEpochs: get.num(p, 'eps-ramp-epochs'),
    lambda: get.num(p, 'lambda'),
    beta: get.num(p, 'beta'),
    noise: get.num(p, 'noise'),
    textAdversary: get.str(p, 'text-adversary') as TrainConfig['textAdversary'],
    trainSwaps: get.num(p, 'train-swaps'),
    seed: get.num(p, 'seed'),
    evalEvery: get.num(p, 'eval-every'),
    evalAttackSteps: get.num(p, 'eval-attack-steps'),
    emaDecay: get.num(p, 'ema-decay'),
    augment: get.strs(p, 'augment') !== undefined ? parseAugment(get.strs(p, 'augment') as string[]) : undefined,
  };
}

/** `alp train ARGS` (cli/main.ts parses them itself before loading this module, then calls runTrainCommand). */
export async function trainCommand(argv: string[]): Promise<number> {
  const p = parseCommand(argv, TRAIN_SPEC);
  return p === undefined ? 0 : runTrainCommand(p, argv);
}

/** `alp train` on arguments parsed and checked against TRAIN_SPEC. */
export async function runTrainCommand(p: Parsed, argv: string[]): Promise<number> {
  const preset = get.str(p, 'preset');
  const overrides = configOverrides(p);
  let config = resolveConfig(preset, overrides); // option mistakes are answered before any data is read
  // The data first: its kind (image, audio, text) and shape pick the defaults a preset or option may replace.
  const given = get.str(p, 'data') ?? (preset !== undefined ? PRESETS[preset as PresetName]?.config.dataset : undefined) ?? 'mnist';
  const source = parseDataSource(given, loaderOptionsOf(p));
  if (source.kind === 'path') overrides.dataset = source.path;
  const modelPath = get.str(p, 'model');
  const rangeText = get.str(p, 'input-range');
  const inputRange = rangeText !== undefined ? parseInputRange(rangeText) : undefined;
  const workers = checkWorkers(get.num(p, 'workers') ?? defaultWorkers(), '--workers');
  const quiet = isQuiet(p);
  // Before the backend starts: a graph model is refused in one line.
  trainedModel(config, modelPath);
  const backend = await initBackend(p);
  const out = get.str(p, 'out') as string;
  // Before any work: a folder that holds another run is not overwritten by accident.
  prepareOutput(out, { resume: get.bool(p, 'resume'), force: get.bool(p, 'force') });
  // Installed before the first line, so a signal seen after it always finds the handler.
  const interrupt = onInterrupt('train', 'this step; the model and checkpoint are saved');
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
    const data = await loadSourceFor(p, { source }, 'train');
    const kindDefaults = dataDefaults(dataKindOf(data.ds), data.ds.shape);
    config = resolveConfig(preset, overrides, kindDefaults.fields);
    const applied = appliedDefaults(kindDefaults, config, preset, overrides);
    say(quiet, `alp train: ${config.method} on ${data.ds.name}${source.kind === 'path' ? ` (${data.record?.format ?? 'your data'}, ${data.ds.count} examples, ${data.ds.numClasses} classes, [${data.ds.shape.join(',')}])` : ''}, ${archLabel(trainedModelLabel(trainedModel(config, modelPath)), config.activation)}, ${config.epochs} epoch(s)${(config.emaDecay ?? 0) > 0 ? `, weights averaged (decay ${config.emaDecay})` : ''}, backend ${backend}, ${workers} worker${workers === 1 ? '' : 's'} → ${out}`);
    // Not progress: a default the user did not choose is said even under --quiet.
    if (Object.keys(applied.fields).length > 0) say(false, `notice: defaults for ${applied.from}: ${Object.entries(applied.fields).map(([k, v]) => `${k} ${typeof v === 'number' ? Number(v.toPrecision(4)) : String(v)}`).join(', ')} (give --${Object.keys(applied.fields).includes('eps') ? 'eps' : 'arch'} etc. to choose)`);
    r = await runTraining(config, {
      out,
      resume: get.bool(p, 'resume'),
      checkpointEvery: get.num(p, 'checkpoint-every') ?? 200,
      ...(dataDir !== undefined ? { dataDir } : {}),
      ...(modelPath !== undefined ? { modelPath } : {}),
      ...(inputRange !== undefined ? { inputRange } : {}),
      data,
      ...(Object.keys(applied.fields).length > 0 ? { dataDefaults: applied } : {}),
      meta: { versions: versions(backend), argv },
      onDataProgress: dataProgress(quiet),
      // Not progress: printed under --quiet too, and kept in the JSON.
      onNotice: (m) => say(false, `notice: ${m}`),
      onNetworkPath: (n) => say(quiet, networkPathLine(n)),
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
