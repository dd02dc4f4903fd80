/**
 * A whole training run as the CLI and the demo use it: data split into train and a held-out
 * validation slice, model built or loaded, trained (resumably), saved in the TF.js layers format with
 * a train.json beside it.
 */
import { refuseZooOutput } from '../model/zoo-paths.js';
import { existsSync, rmSync, statSync } from 'node:fs';
import type { NetworkPath } from '../backend/native-network.js';
import { trainingPathOf } from '../train/native-step.js';
import { readTrainFile, trainArtifact, TRAIN_FILE, writeTrainArtifact, type TrainedModel } from '../artifacts/train.js';
import { join } from 'node:path';
import type * as tf from '@tensorflow/tfjs';
import { subset, type Dataset } from '../data/index.js';
import { loadSource, type LoadedSource } from '../data/resolve.js';
import { parseDataSource, type LoaderOptions } from '../data/source.js';
import { splitTrainVal, type TrainValSplit } from '../train/val-split.js';
import type { DataDefaults } from '../train/data-defaults.js';
import { withInputNormalization } from '../model/input-normalization.js';
import { buildArch } from '../model/architectures.js';
import { adaptModel } from '../model/adapt.js';
import { describeModelFile, graphTrainingRefusal, lastLayerActivation, loadModel, saveModel, stripSoftmax } from '../model/io.js';
import { writeJsonAtomic } from '../util/atomic.js';
import { VOCAB_FILE } from '../data/text.js';
import { OutputExistsError, UserError } from '../util/errors.js';
import type { TrainConfig } from '../train/config.js';
import { CHECKPOINT_FILE, trainModel, type TrainProgress, type TrainState } from '../train/trainer.js';

export { splitTrainVal, type TrainValSplit, type ValidationSplit } from '../train/val-split.js';

export interface RunOptions {
  out: string;
  resume?: boolean;
  /** Fine-tune this model.json instead of building `config.arch`. */
  modelPath?: string;
  /** The value range `modelPath` was trained on (see model/adapt.ts); the saved model takes [0,1]. */
  inputRange?: [number, number];
  dataDir?: string;
  checkpointEvery?: number;
  onProgress?: (p: TrainProgress) => void;
  /** Extra fields for train.json (versions, command line). */
  meta?: Record<string, unknown>;
  /** Called once the model is built, with the paths its attack gradients and its weight step take (backend/native-network.ts, train/native-step.ts). */
  onNetworkPath?: (p: NetworkPath) => void;
  /** Things the user should know that do not stop the run (a stripped softmax); also in train.json. */
  onNotice?: (message: string) => void;
  /** Progress of datasets generated on first use (spoken-digits synthesis). */
  onDataProgress?: (done: number, total: number) => void;
  /** Stop cleanly when this returns true (time budget, Ctrl-C); the model so far is saved. */
  shouldStop?: () => boolean;
  /** Aborting it stops the run after the current step, everything saved (see util/interrupt.ts). */
  signal?: AbortSignal;
  /** Data-parallel worker threads (trainer.ts, TrainOptions.workers); default 1. Recorded in train.json. */
  workers?: number;
  /**
   * The training split already loaded (the CLI loads it first to pick data-kind defaults); otherwise
   * `config.dataset` is read: a built-in name, or a path read with `loaderOptions`.
   */
  data?: LoadedSource;
  loaderOptions?: LoaderOptions;
  /** The config fields whose default came from the data's kind, for train.json. */
  dataDefaults?: DataDefaults;
}

export interface RunResult {
  model: tf.LayersModel;
  state: TrainState;
  train: Dataset;
  val: Dataset | null;
  seconds: number;
  /** The notices given through onNotice, for JSON outputs. */
  warnings: string[];
}

/** The files a training run writes into its folder. */
export const RUN_FILES = ['model.json', 'weights.bin', TRAIN_FILE, CHECKPOINT_FILE, VOCAB_FILE] as const;
/**
 * Results computed from a run's weights, written beside them by eval, audit and detect: when the model
 * is replaced they describe weights that no longer exist, so they go with it.
 */
export const RESULT_FILES = ['eval.json', 'audit.json', 'audit.state.json', 'examples.f32', 'detector.json', 'detect-eval.json'] as const;

/**
 * Output protection for a training run's folder. A folder that already holds a model or a checkpoint
 * is only continued (`resume`) or replaced (`force`: the old run's files and the results computed from
 * its weights are deleted first, nothing else); otherwise an OutputExistsError says what is there and
 * both ways out. A file where the folder should be is left to the write to report (exit 5).
 */
export function prepareOutput(out: string, o: { resume?: boolean; force?: boolean } = {}): void {
  refuseZooOutput(out, 'a trained model');
  if (!existsSync(out) || !statSync(out).isDirectory()) return;
  const present = RUN_FILES.filter((f) => existsSync(join(out, f)));
  if (!present.some((f) => f === 'model.json' || f === CHECKPOINT_FILE || f === 'weights.bin')) return;
  if (o.resume === true) return;
  if (o.force === true) {
    for (const f of [...RUN_FILES, ...RESULT_FILES]) rmSync(join(out, f), { force: true });
    return;
  }
  let what = 'a model';
  try {
    const t = readTrainFile(join(out, TRAIN_FILE));
    if (t !== null) what = `a ${String(t.config?.['method'] ?? '')} model on ${String(t.config?.['dataset'] ?? '?')} (${t.steps ?? '?'} steps${t.complete === false ? ', unfinished' : ''})`;
  } catch {
    // an unreadable train.json: said as "a model"
  }
  throw new OutputExistsError(`${out}: already holds ${what}; add {resume} to continue that run, {force} to replace it (its checkpoint and eval/audit/detect results are deleted), or choose another {out}`);
}


/**
 * What is trained: a built-in architecture, or the user's model file named by path, class and name
 * (for the run header and train.json). A graph model is refused here: its weights are graph constants.
 */
export function trainedModel(c: TrainConfig, modelPath?: string): TrainedModel {
  if (modelPath === undefined) return { source: 'built-in', arch: c.arch };
  const d = describeModelFile(modelPath);
  if (d.format === 'graph-model') throw new UserError(graphTrainingRefusal(d.file));
  return { source: 'file', path: modelPath, format: d.format, className: d.className ?? null, name: d.name ?? null };
}


/** The run's data, split; the whole training split is not kept once the split is made. */
async function loadSplit(c: TrainConfig, o: RunOptions): Promise<TrainValSplit & { vocabulary: string[] | undefined; sequenceLength: number; loaded: LoadedSource }> {
  const loaded = o.data ?? await loadSource(parseDataSource(c.dataset, o.loaderOptions), 'train', {
    ...(o.dataDir !== undefined ? { dataDir: o.dataDir } : {}),
    ...(o.onDataProgress !== undefined ? { onProgress: o.onDataProgress } : {}),
  });
  const full = loaded.ds;
  // A user folder's own val/ split is the validation set; otherwise a stratified share is held out of train.
  const split: TrainValSplit = loaded.val !== undefined
    ? { train: c.trainSize > 0 && c.trainSize < full.count ? subset(full, 0, c.trainSize) : full, val: loaded.val, validation: null }
    : splitTrainVal(full, c);
  return { ...split, vocabulary: full.vocabulary, sequenceLength: full.shape[0], loaded };
}

export async function runTraining(c: TrainConfig, o: RunOptions): Promise<RunResult> {
  const trained = trainedModel(c, o.modelPath);
  // A fine-tuned model is not `c.arch`: the files written say which model it is instead.
  const recorded: TrainConfig | Omit<TrainConfig, 'arch' | 'activation'> = trained.source === 'built-in' ? c : (({ arch: _arch, activation: _activation, ...rest }) => rest)(c);
  const { train, val, validation, vocabulary, sequenceLength, loaded } = await loadSplit(c, o);
  const resuming = o.resume === true && existsSync(join(o.out, CHECKPOINT_FILE));
  if (o.resume === true && !resuming && existsSync(join(o.out, 'model.json'))) {
    throw new UserError(`${o.out}: holds a finished model but no checkpoint to resume; choose another output folder`);
  }
  // A user's model is put behind alp's input convention (reshape, value range); the saved model keeps
  // that adapter, so it takes [0,1] NHWC inputs like every model alp writes.
  const notices: string[] = [];
  let model: tf.LayersModel;
  let strippedSoftmax = false;
  if (o.modelPath !== undefined) {
    const user = await loadModel(o.modelPath);
    // Training applies its own softmax in the loss: a model that ends in one would be trained through
    // two, and attacks on it would see saturated gradients. Its logits are what we train.
    if (lastLayerActivation(user) === 'softmax') {
      strippedSoftmax = stripSoftmax(user);
      notices.push(`${o.modelPath}: removed the final softmax so the model outputs logits (training applies softmax in its loss; a second one would train through two); the saved model outputs logits`);
    }
    model = adaptModel(user, train.shape, {
      source: o.modelPath, dataName: c.dataset, ...(o.inputRange !== undefined ? { inputRange: o.inputRange } : {}),
    }).model;
  } else {
    model = buildArch(c.arch, { inputShape: train.shape, numClasses: train.numClasses, seed: c.seed, ...(c.activation !== undefined ? { activation: c.activation } : {}), ...(train.vocabulary !== undefined ? { vocabularySize: train.vocabulary.length } : {}) });
  }
  // A manifest's per-channel normalisation becomes the model's first layer (saved with it): inputs stay in [0,1].
  const norm = loaded.record?.normalization;
  if (norm !== undefined) model = withInputNormalization(model, norm);
  for (const n of notices) o.onNotice?.(n);
  // Notes about the data: said by whoever loaded it (the caller, when it passed `data`), kept in train.json.
  if (o.data === undefined) for (const n of loaded.notes) o.onNotice?.(n);
  notices.push(...loaded.notes);
  // Which path the training attack's gradients and the weight step take, and why when not the native one.
  const network = trainingPathOf(model);
  o.onNetworkPath?.(network);
  const t0 = Date.now();
  const state = await trainModel(model, train, val, c, {
    checkpointDir: o.out,
    resume: o.resume === true,
    ...(o.checkpointEvery !== undefined ? { checkpointEvery: o.checkpointEvery } : {}),
    ...(o.onProgress !== undefined ? { onProgress: o.onProgress } : {}),
    ...(o.shouldStop !== undefined ? { shouldStop: o.shouldStop } : {}),
    ...(o.signal !== undefined ? { signal: o.signal } : {}),
    ...(o.workers !== undefined ? { workers: o.workers } : {}),
  });
  await saveModel(model, o.out, { alp: { config: recorded, method: c.method } });
  // A text model is useless without the token → id map it was trained with.
  if (vocabulary !== undefined) writeJsonAtomic(join(o.out, VOCAB_FILE), { tokenizer: 'alp word tokenizer (data/text.ts)', sequenceLength, tokens: vocabulary });
  writeTrainArtifact(join(o.out, TRAIN_FILE), trainArtifact({
    config: recorded,
    fineTunedFrom: o.modelPath ?? null,
    model: trained,
    ...(o.modelPath !== undefined ? { strippedSoftmax } : {}),
    warnings: notices,
    ...(o.inputRange !== undefined ? { inputRange: o.inputRange } : {}),
    data: {
      dataset: c.dataset, trainExamples: train.count, valExamples: val?.count ?? 0,
      ...(validation !== null ? { validation } : {}),
      ...(loaded.record !== undefined ? { source: loaded.record } : {}),
      ...(o.dataDefaults !== undefined ? { defaults: o.dataDefaults } : {}),
    },
    steps: state.step,
    // Not part of the config: N changes only float summation order (docs/training.md, "Data-parallel training").
    workers: o.workers ?? 1,
    complete: state.done,
    epochs: state.epochs,
    evals: state.evals,
    trainSeconds: state.elapsedMs / 1000,
  }, { ...o.meta, network }));
  return { model, state, train, val, seconds: (Date.now() - t0) / 1000, warnings: notices };
}
