/** Pieces every command shares: backend, data and model options, output conventions. */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type * as tf from '@tensorflow/tfjs';
import { validateThreatModel, type ThreatModel } from '../attack/threat-model.js';
import { setupBackend, type BackendChoice } from '../backend/select.js';
import { nativeApi, nativeKernelsInstalled } from '../backend/native-kernels.js';
import { runVersions } from '../jobs/header.js';
import { emptyShardWarning, type JobLog } from '../jobs/log.js';
import { networkPathLine, networkPathOf, type NetworkPath } from '../backend/native-network.js';
import { imageSize, subset, DATASET_NAMES, type Dataset, type DatasetName } from '../data/index.js';
import { checkLoaderOptions, parseDataSource, sourceLabel, sourceOfRecord, type DataSource, type LoaderOptions } from '../data/source.js';
import { checkAgainstRecord, loadSource, type LoadedSource } from '../data/resolve.js';
import { dataRecord, type DataRecord } from '../data/digest.js';
import { loadModel, lastLayerActivation, stripSoftmax } from '../model/io.js';
import { zooCardOf } from '../model/zoo-card.js';
import { adaptModel, parseInputRange } from '../model/adapt.js';
import { embedDataset, isTextModel, splitAtEmbedding, type EmbeddingSplit } from '../model/text.js';
import { gradientWarning } from '../model/gradient-support.js';
import { readTrainFile, TRAIN_FILE, type TrainData } from '../artifacts/train.js';
import { guardResultFile, type ResultIdentity, type ResultKind } from '../artifacts/outputs.js';
import { UserError } from '../util/errors.js';
import { checkWorkers, defaultWorkers } from '../parallel/pool.js';
import type { Parsed } from './args.js';
import { MIN_PER_WORKER } from './options.js';

export { COMMON_OPTIONS, DATA_OPTIONS, DATA_OPTION, OWN_DATA_OPTIONS, DATASETS, MODEL_INPUT_OPTIONS, OUTPUT_NODE_OPTION, SHARD_OPTION, WORKERS_OPTION } from './options.js';
import { get } from './args.js';
import { Progress, say } from './progress.js';

/**
 * The workers for `n` examples: --workers as given, but at most one per example and one per core (these
 * results do not depend on the count, and threads beyond the cores only contend; a clamp to the cores is
 * a warning, on stderr and in the JSON), or by default one per core with at least MIN_PER_WORKER examples
 * each, since starting a worker costs about a second.
 */
export function workersFor(p: Parsed, n: number): number {
  const given = get.num(p, 'workers');
  const cores = defaultWorkers();
  if (given !== undefined) {
    const asked = Math.max(1, Math.min(checkWorkers(given, '--workers'), n));
    if (asked > cores) warn(`--workers ${given}: this machine has ${cores} core${cores === 1 ? '' : 's'}; using ${cores} worker${cores === 1 ? '' : 's'} (results do not depend on the count)`);
    return Math.min(asked, cores);
  }
  return Math.max(1, Math.min(cores, Math.floor(n / MIN_PER_WORKER)));
}

export async function initBackend(p: Parsed): Promise<string> {
  const name = await setupBackend((get.str(p, 'backend') ?? 'auto') as BackendChoice);
  // Which kernels run, and why not the fast ones: a missing addon silently costs ~4x.
  say(isQuiet(p), `backend ${name}; kernels: ${kernelsLine(name)}`);
  return name;
}

/** The kernels in use on `backend`, with the reason when alp's native OpenBLAS kernels are not among them. */
export function kernelsLine(backend: string): string {
  if (nativeKernelsInstalled()) return `native OpenBLAS (alp addon${convKernelsNote()}) + alp wasm kernels`;
  if (backend === 'tensorflow') return 'TensorFlow (tfjs-node)';
  if (backend !== 'wasm') return `tfjs ${backend} (alp's native kernels need the wasm backend)`;
  if (/^(1|true|yes)$/i.test(process.env['ALP_NO_NATIVE'] ?? '')) return `alp wasm kernels; native kernels off (ALP_NO_NATIVE=${process.env['ALP_NO_NATIVE']})`;
  const addon = fileURLToPath(new URL('../../native/build/Release/alp_native.node', import.meta.url));
  const reason = existsSync(addon)
    ? `the addon ${addon} did not load`
    : `the addon is not built (needs a C compiler and libopenblas-dev; build it with: node ${fileURLToPath(new URL('../../native/build.mjs', import.meta.url))})`;
  return `alp wasm kernels only, ~4x slower: ${reason}`;
}

/** "; direct convolutions on AVX-512" (or AVX2), or '' when every convolution runs as im2col + GEMM. */
function convKernelsNote(): string {
  const k = nativeApi()?.convKernels?.() ?? 'gemm';
  return k === 'gemm' ? '' : `; direct convolutions on ${k === 'avx512' ? 'AVX-512' : 'AVX2'}`;
}

export function isQuiet(p: Parsed): boolean {
  return get.bool(p, 'quiet') || get.bool(p, 'json');
}

/**
 * The train.json `alp train` writes beside a model (in its folder, or beside its model.json), or
 * undefined: none (a model from elsewhere), or a damaged one, which does not stop an evaluation
 * (--data and --eps still work).
 */
function trainFileBeside(modelPath: string): TrainData | undefined {
  const dir = modelPath.endsWith('.json') ? dirname(modelPath) : modelPath;
  try {
    return readTrainFile(join(dir, TRAIN_FILE)) ?? undefined;
  } catch {
    return undefined;
  }
}

/** The dataset a model folder was trained on, or undefined without a train.json naming one alp knows. */
export function trainedDataset(modelPath: string): DatasetName | undefined {
  const name = trainFileBeside(modelPath)?.data?.dataset;
  return typeof name === 'string' && (DATASET_NAMES as readonly string[]).includes(name) ? (name as DatasetName) : undefined;
}

/**
 * A user's data recorded in the model folder's train.json (`data.source`), with the class names and
 * input shape it had then; undefined for built-in data or a model without train.json.
 */
export function trainedSource(modelPath: string): { source: DataSource; file: string; classNames?: unknown; shape?: unknown } | undefined {
  const t = trainFileBeside(modelPath);
  const raw = t?.data?.source;
  if (t === undefined || raw === null || raw === undefined) return undefined;
  const source = sourceOfRecord(raw, t.file);
  return source === undefined ? undefined : { source, file: t.file, classNames: raw['classNames'], shape: raw['shape'] };
}

/** The loader options for a user's data given on the command line (--image-size, --channels, …). */
export function loaderOptionsOf(p: Parsed): LoaderOptions {
  const size = get.nums(p, 'image-size');
  const o: LoaderOptions = {};
  if (size !== undefined) o.imageSize = size as [number, number];
  const channels = get.num(p, 'channels');
  if (channels !== undefined) o.channels = channels as 1 | 3;
  const fraction = get.num(p, 'test-fraction');
  if (fraction !== undefined) o.testFraction = fraction;
  const text = get.str(p, 'text-column');
  if (text !== undefined) o.textColumn = text;
  const label = get.str(p, 'label-column');
  if (label !== undefined) o.labelColumn = label;
  const length = get.num(p, 'audio-length');
  if (length !== undefined) o.audioLength = length;
  return checkLoaderOptions(o);
}

/**
 * The data a command reads: --data (a built-in name or a path, read with the loader options given),
 * else what the model's train.json records (a user's path with the options it was read with, or a
 * built-in name), else `fallback`.
 */
export function dataSourceOf(p: Parsed, modelPath?: string, fallback: DatasetName = 'mnist'): { source: DataSource; recorded?: NonNullable<ReturnType<typeof trainedSource>> } {
  const given = get.str(p, 'data');
  const recorded = modelPath !== undefined ? trainedSource(modelPath) : undefined;
  if (given !== undefined) {
    const source = parseDataSource(given, loaderOptionsOf(p));
    // The data the model was trained on, named again: read as it was then, unless options say otherwise.
    if (source.kind === 'path' && recorded?.source.kind === 'path' && recorded.source.path === source.path) {
      return { source: { ...source, options: { ...recorded.source.options, ...source.options } }, recorded };
    }
    return { source };
  }
  if (recorded !== undefined) return { source: recorded.source, recorded };
  return { source: { kind: 'builtin', name: (modelPath !== undefined ? trainedDataset(modelPath) : undefined) ?? fallback } };
}

/** The norm and ε a model was trained at (train.json `config`), or undefined without a train.json that says. */
function trainedThreat(modelPath: string): { norm: ThreatModel['norm']; eps: number } | undefined {
  const config = trainFileBeside(modelPath)?.config;
  const norm = config?.['norm'], eps = config?.['eps'];
  return (norm === 'linf' || norm === 'l2') && typeof eps === 'number' && eps > 0 ? { norm, eps } : undefined;
}

/** The ε its data kind chose for a model (train.json `data.defaults`: 8/255 for RGB images, …), with what chose it. */
function recordedKindEps(modelPath: string, norm: string): { eps: number; from: string } | undefined {
  const d = trainFileBeside(modelPath)?.data?.defaults;
  const fields = d?.['fields'] as Record<string, unknown> | undefined;
  const eps = fields?.['eps'];
  const kindNorm = fields?.['norm'] ?? 'linf';
  return typeof eps === 'number' && kindNorm === norm ? { eps, from: String(d?.['from']) } : undefined;
}

/**
 * The ε of an eval, attack or audit: the one given; else the ε the model's data kind chose at training
 * (said, since it is not the command's usual 0.3); else a zoo model's card's; else 0.3, MNIST's. A given ε other than the data
 * kind's is warned about: 0.3 on natural images is no test.
 */
export function evalEps(p: Parsed, modelPath: string, norm: string, quiet: boolean): number {
  const given = get.num(p, 'eps');
  const kind = recordedKindEps(modelPath, norm);
  if (given === undefined) {
    // A zoo model's threat model is on its card (e.g. 0.005 for spoken digits, not MNIST's 0.3).
    const card = kind === undefined ? zooCardOf(modelPath) : undefined;
    if (card !== undefined) say(quiet, `ε=${card.threat.eps}: the threat model of ${modelPath}'s zoo card (give --eps to choose)`);
    if (kind === undefined) return card?.threat.eps ?? 0.3;
    say(false, `ε=${Number(kind.eps.toPrecision(4))}: the default for ${kind.from}, as ${modelPath} was trained (give --eps to choose)`);
    return kind.eps;
  }
  if (kind !== undefined && Math.abs(kind.eps - given) > 1e-9) {
    warn(`${modelPath}: trained at ε=${Number(kind.eps.toPrecision(4))} (the default for ${kind.from}), evaluated at ε=${given}; leave out --eps (or pass --eps ${kind.eps}) to measure the threat model it was trained for`);
  }
  return given;
}

/** Loads a split of a source with progress and the source's notices said; a recorded source is checked against its record. */
export async function loadSourceFor(p: Parsed, found: ReturnType<typeof dataSourceOf>, split: 'train' | 'test'): Promise<LoadedSource> {
  const dataDir = get.str(p, 'data-dir');
  const quiet = isQuiet(p);
  const r = await loadSource(found.source, split, {
    ...(dataDir !== undefined ? { dataDir } : {}),
    onProgress: found.source.kind === 'builtin' ? dataProgress(quiet) : decodeProgress(quiet, split),
  });
  for (const n of r.notes) warn(n);
  if (found.recorded !== undefined) checkAgainstRecord(r.ds, found.recorded, found.recorded.file, sourceLabel(found.source));
  return r;
}

/**
 * The test split's first `n` examples (or a given split), with the loader's clear errors. Without
 * --data, the data the model was trained on (when `modelPath` has a train.json), else MNIST.
 */
export async function loadEvalData(p: Parsed, n: number | undefined, split: 'train' | 'test' = 'test', modelPath?: string): Promise<Dataset> {
  const { ds } = await loadSourceFor(p, dataSourceOf(p, modelPath), split);
  if (n === undefined || n >= ds.count) return ds;
  if (!Number.isInteger(n) || n < 1) throw new UserError(`--n: expected an integer ≥ 1, got ${n}`);
  return subset(ds, 0, n);
}

/** Progress while a user's files are decoded, or nothing when quiet. */
export function decodeProgress(quiet: boolean, split: string): (done: number, total: number) => void {
  let bar: Progress | undefined;
  return (done, total) => {
    bar ??= new Progress(`read ${split}`, total, { quiet });
    bar.update(done);
    if (done === total) bar.done();
  };
}

/** Progress for datasets synthesised on first use (spoken-digits), or undefined when quiet. */
export function dataProgress(quiet: boolean): (done: number, total: number) => void {
  let bar: Progress | undefined;
  return (done, total) => {
    if (bar === undefined) say(quiet, `synthesising ${total} clips with espeak-ng (once; cached for later runs)`);
    bar ??= new Progress('synthesise', total, { quiet });
    bar.update(done);
    if (done === total) bar.done();
  };
}

/**
 * Warnings for this command's result: printed on stderr even under --quiet/--json (they are not
 * progress), and added to the --json output as `warnings` by emit().
 */
const warnings: string[] = [];

/** The warnings so far, for result files (eval.json, audit.json). */
export function currentWarnings(): string[] {
  return [...warnings];
}

export function warn(message: string): void {
  warnings.push(message);
  process.stderr.write(`warning: ${message}\n`);
}

/**
 * Loads a user model. A final softmax is removed with `strip` (--strip-softmax), noted in the
 * warnings; otherwise any non-linear last layer is warned about, since attacks need logits.
 */
export async function openModel(path: string, quiet: boolean, strip = false, outputNode?: string): Promise<tf.LayersModel> {
  void quiet;
  const model = await loadModel(path, outputNode !== undefined ? { outputNode } : {});
  const act = lastLayerActivation(model);
  if (act === 'softmax' && strip) {
    stripSoftmax(model);
    warn(`${path}: removed the final softmax (--strip-softmax); attacks run on the logits`);
  } else if (act !== undefined && act !== 'linear') {
    warn(`${path}: the last layer applies '${act}'; alp expects logits. Gradients through a softmax saturate and make attacks look weaker than they are${act === 'softmax' ? ' (add --strip-softmax to attack the logits)' : ''}.`);
  }
  return model;
}

/**
 * The model as alp runs it on `ds`: reshaped in front when it takes flat or channel-less inputs, and
 * with --input-range applied (see model/adapt.ts). A mismatch that no reshape fixes, or a class count
 * that differs from the data's, is one clear line naming the model.
 */
export function checkModelFitsData(model: tf.LayersModel, ds: Dataset, modelPath: string, p?: Parsed, quiet = true): tf.LayersModel {
  const rangeText = p !== undefined ? get.str(p, 'input-range') : undefined;
  const { model: adapted, changes } = adaptModel(model, ds.shape, {
    source: modelPath,
    dataName: ds.name,
    ...(rangeText !== undefined ? { inputRange: parseInputRange(rangeText) } : {}),
  });
  const out = model.outputs[0]?.shape ?? [];
  if (out[out.length - 1] !== ds.numClasses) {
    throw new UserError(`${modelPath}: model has ${String(out[out.length - 1])} outputs, ${ds.name} has ${ds.numClasses} classes`);
  }
  if (changes.length > 0) say(quiet, `${modelPath}: running it as ${changes.join(', then ')} → model`);
  return adapted;
}

/** The attack-gradient path of the model this command opened (openModelJob), for result files. */
let network: NetworkPath | null = null;

export function versions(backend: string): Record<string, string> {
  return runVersions(backend, network !== null ? { nativeNetwork: network.path === 'native' ? 'yes' : `no: ${network.reason ?? ''}` } : {});
}

/** Emits the command's result: JSON on stdout with --json, otherwise the human text. */
export function emit(p: Parsed, json: unknown, text: string): void {
  // The command's warnings join any the result already lists (e.g. a clamp said after the model's warnings were recorded).
  const listed = typeof json === 'object' && json !== null && Array.isArray((json as { warnings?: unknown }).warnings) ? (json as { warnings: string[] }).warnings : [];
  const withWarnings = warnings.length > 0 && typeof json === 'object' && json !== null && !Array.isArray(json)
    ? { ...json, warnings: [...listed, ...warnings.filter((w) => !listed.includes(w))] }
    : json;
  if (get.bool(p, 'json')) process.stdout.write(JSON.stringify(withWarnings, null, 2) + '\n');
  else process.stdout.write(text + '\n');
}

export function pct(v: number): string {
  return `${(v * 100).toFixed(1)}%`;
}

/** A plain-text table with aligned columns. */
export function table(rows: string[][]): string {
  const widths = (rows[0] ?? []).map((_, c) => Math.max(...rows.map((r) => (r[c] ?? '').length)));
  return rows.map((r) => r.map((cell, c) => (c === 0 ? cell.padEnd(widths[c] ?? 0) : cell.padStart(widths[c] ?? 0))).join('  ')).join('\n');
}

export interface ModelJob {
  modelPath: string;
  quiet: boolean;
  backend: string;
  ds: Dataset;
  model: tf.LayersModel;
  threat: ThreatModel;
  /**
   * Text models: `model` is the head after the Embedding layer, `ds` the test texts embedded (rows
   * [L, D, 1]), and the threat model has no box; here are the token ids and the split behind them.
   */
  text?: { ids: Dataset; split: EmbeddingSplit };
  /** Warnings about the model (e.g. layers whose gradient alp has not verified), for the JSON output. */
  warnings: string[];
  /** The examples selected (content digest and source): part of every result's identity. */
  data: DataRecord;
}

/**
 * Warnings about a model that attacks depend on: layers whose input gradient alp has not verified.
 * Printed on stderr even with --quiet or --json (a warning is not progress); commands also put them
 * in their JSON output.
 */
export function modelWarnings(model: tf.LayersModel, modelPath: string): string[] {
  const w = gradientWarning(model, modelPath);
  if (w !== undefined) warn(w);
  // Everything warned so far for this command (a final softmax, unverified gradients), for the artifact.
  return currentWarnings();
}

/**
 * The common start of commands that attack a model: backend, the first --n test examples, the model
 * (checked against the data), and the threat model from --norm/--eps (checked against the box).
 */
export async function openModelJob(p: Parsed, command: string): Promise<ModelJob> {
  const modelPath = get.str(p, 'model');
  if (modelPath === undefined) throw new UserError(`alp ${command}: --model is required (a folder with model.json, or the model.json itself)`);
  const quiet = isQuiet(p);
  const backend = await initBackend(p);
  const data = await loadEvalData(p, get.num(p, 'n'), 'test', modelPath);
  const record = dataRecord(data, get.str(p, 'data-dir'));
  const loaded = await openModel(modelPath, quiet, get.bool(p, 'strip-softmax'), get.str(p, 'output-node'));
  const warnings = modelWarnings(loaded, modelPath);
  // A text or audio model's threat has no MNIST-like default (L∞ 0.3 on word embeddings or a waveform
  // measures nothing): given neither --norm nor --eps, it is attacked as it was trained.
  const givenNorm = get.str(p, 'norm') as ThreatModel['norm'] | undefined;
  const trained = givenNorm === undefined && get.num(p, 'eps') === undefined && (isTextModel(loaded) || data.sampleRate !== undefined) ? trainedThreat(modelPath) : undefined;
  const norm = givenNorm ?? trained?.norm ?? 'linf';
  const eps = trained?.eps ?? evalEps(p, modelPath, norm, quiet);
  if (trained !== undefined) say(quiet, `${modelPath}: ${norm} ε=${eps}, the threat model it was trained for (give --norm and --eps to choose)`);
  if (isTextModel(loaded)) {
    // Attacks perturb the embeddings (no box); everything downstream sees an embedded dataset.
    if (get.str(p, 'input-range') !== undefined) throw new UserError('--input-range: not for text models (their inputs are token ids)');
    const split = splitAtEmbedding(loaded);
    const ds = embedDataset(data, split);
    const model = adaptModel(split.head, ds.shape, { source: modelPath, dataName: ds.name }).model;
    const threat: ThreatModel = { norm, eps, bounds: null };
    validateThreatModel(threat, imageSize(ds));
    say(quiet, `${modelPath}: text model; attacks perturb its ${split.dim}-d embeddings of ${split.sequenceLength} tokens (${norm} ε=${eps}, no box)`);
    return { modelPath, quiet, backend, ds, model, threat, text: { ids: data, split }, warnings, data: record };
  }
  if (data.vocabulary !== undefined) throw new UserError(`${modelPath}: ${data.name} holds token ids, but the model has no Embedding layer`);
  const model = checkModelFitsData(loaded, data, modelPath, p, quiet);
  const threat = { norm, eps };
  validateThreatModel(threat, imageSize(data));
  // The kernels line says which kernels TF.js runs; this says whether attacks go around it, or why not
  // (after the checks above, so that bad input gets its one line).
  network = networkPathOf(model);
  say(quiet, networkPathLine(network));
  return { modelPath, quiet, backend, ds: data, model, threat, warnings, data: record };
}

/**
 * Warns when shard K/N of `examples` holds none (more shards than examples); true then. Its file is
 * still written, since `alp merge` needs every shard, and its text says "no examples", not 0%.
 */
export function emptyShard(shard: { index: number; count: number } | undefined, range: readonly [number, number], examples: number): boolean {
  const w = emptyShardWarning(shard, range, examples);
  if (w !== null) warn(w);
  return w !== null;
}

/** The terminal as a job's log: progress lines and bars on stderr unless --quiet, warnings always. */
export function jobLog(quiet: boolean): JobLog {
  return { say: (l) => say(quiet, l), warn, bar: (label, total) => new Progress(label, total, { quiet }) };
}

/** Refuses (exit 6) to let this run replace a result of other weights or settings at `path`, unless --force. */
export function guardOutput(path: string, kind: ResultKind, identity: ResultIdentity, p: Parsed): void {
  guardResultFile(path, kind, identity, { force: get.bool(p, 'force') });
}
