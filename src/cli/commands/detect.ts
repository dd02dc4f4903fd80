/**
 * `alp detect`: adversarial-input detection.
 *
 *   alp detect --model M FILE...           classify inputs and flag suspicious ones (needs M/detector.json)
 *   alp detect calibrate --model M         fit + calibrate a detector on clean held-out data → M/detector.json
 *   alp detect eval --model A,B            ROC-AUC, TPR at 1%/5% FPR, non-adaptive vs adaptive attacks → JSON
 *   alp detect serve --model M             HTTP endpoint on 127.0.0.1
 */
import { basename, dirname, join, resolve } from 'node:path';
import { validateThreatModel } from '../../attack/threat-model.js';
import type { Dataset } from '../../data/dataset.js';
import { calibrateDetector, checkCalibrationSize } from '../../detect/calibrate.js';
import { calibrationSplit } from '../../detect/calibration-split.js';
import { checkDetectorFits, detectorJsonPath, loadDetector, modelFingerprint as detectorModelFingerprint, saveDetector } from '../../detect/detector-files.js';
import { DETECTOR_KINDS, type Detector } from '../../detect/detector.js';
import { buildDetectionReport, writeDetectEvalArtifact, type TextDetectSetup } from '../../artifacts/detect-eval.js';
import { defaultDetectAttacks, evaluateDetection, type ModelDetectionResult } from '../../detect/evaluate.js';
import { evaluateDetectionParallel, evaluateTextDetectionParallel } from '../../jobs/detect-parallel.js';
import { guard } from '../../detect/guard.js';
import { readInputs } from '../../detect/inputs.js';
import { NOISE_DISTS, type NoiseDist, type NoiseSpec } from '../../detect/noise.js';
import { buildDetector, type DetectorSettings } from '../../detect/registry.js';
import { serveGuard } from '../../detect/serve.js';
import { ATTACK_NAMES, type AttackName } from '../../eval/suite.js';
import { refuseUnfit } from '../../eval/few-classes.js';
import { modelJsonPath } from '../../model/io.js';
import { weightsHash } from '../../model/fingerprint.js';
import { writeJsonAtomic } from '../../util/atomic.js';
import { DETECT_CHECK_SCHEMA, checkIdentity, defaultResultPath, detectEvalIdentity, detectorIdentity } from '../../artifacts/outputs.js';
import { dataRecord } from '../../data/digest.js';
import { onInterrupt } from '../../util/interrupt.js';
import { OptionError, UserError } from '../../util/errors.js';
import { helpText, optionMessage, parseArgs, get, type CommandSpec, type OptSpec, type Parsed } from '../args.js';
import type * as tf from '@tensorflow/tfjs';
import { isTextModel } from '../../model/text.js';
import { evaluateTextDetection, textDetectorSettings, type TextDetectEvalOptions } from '../../detect/text-evaluate.js';
import { calibrateTextDetector, textDetectorTarget } from '../../detect/text-target.js';
import type { CandidateKind, CandidateSpec } from '../../attack/text/index.js';
import { WORD_SWAP_OPTIONS } from '../word-swaps.js';
import { COMMON_OPTIONS, DATA_OPTIONS, MODEL_INPUT_OPTIONS, OUTPUT_NODE_OPTION, WORKERS_OPTION, workersFor, checkModelFitsData, emit, guardOutput, initBackend, isQuiet, loadEvalData, openModel, pct, table, versions } from '../common.js';
import { Progress, say } from '../progress.js';

const DETECTOR_OPTIONS: OptSpec[] = [
  { name: 'samples', type: 'int', help: 'noise draws per input for odds / logit-discrepancy (defaults: 256 / 16)' },
  { name: 'noise', type: 'strings', metavar: 'DIST:EPS,...', help: `noise settings, DIST one of ${NOISE_DISTS.join('|')} (defaults: odds gaussian:0.1176, logit-discrepancy uniform:0.1)` },
  { name: 'seed', type: 'int', default: 0, help: 'seed for every random draw' },
];

const CALIB_OPTIONS: OptSpec[] = [
  { name: 'fpr', type: 'number', default: 0.05, help: 'target false-positive rate on clean inputs' },
  { name: 'calib-split', type: 'string', choices: ['train', 'test'], default: 'test', help: 'split holding the clean calibration inputs (must be held out from training)' },
  { name: 'calib-start', type: 'int', help: 'first calibration example (default: eval — right after the evaluated examples; calibrate — a seeded random sample of the split)' },
  { name: 'calib-n', type: 'int', default: 1000, help: 'clean calibration inputs (odds fits its statistics on half, thresholds on the rest)' },
];

export const DETECT_CHECK_SPEC: CommandSpec = {
  name: 'detect',
  summary: 'classify inputs and flag the ones a calibrated detector finds suspicious',
  usage: 'alp detect --model PATH [--input FILE,...] [FILE ...]    (subcommands: calibrate, eval, serve)',
  positionals: 'input files',
  options: [
    { name: 'model', type: 'string', metavar: 'PATH', help: 'model folder or model.json (with detector.json beside it)' },
    OUTPUT_NODE_OPTION,
    { name: 'input', type: 'strings', metavar: 'FILE,...', help: 'inputs: .f32 from alp attack (shape from attack.json), IDX (.gz ok), or PNG; also as plain arguments' },
    { name: 'detector', type: 'string', metavar: 'FILE', help: 'detector.json to use (default: beside the model)' },
    { name: 'shape', type: 'numbers', metavar: 'N,H,W,C', help: 'shape of a raw .f32 file without attack.json' },
    { name: 'out', type: 'string', metavar: 'FILE', help: 'also write the results as JSON here' },
    { name: 'force', type: 'boolean', help: 'replace a file at --out that holds another check, or no check' },
    ...COMMON_OPTIONS,
  ],
  examples: [
    'alp detect calibrate --model runs/demo/alp --detector odds --fpr 0.05',
    'alp attack --model runs/demo/alp --n 16 --out runs/adv && alp detect --model runs/demo/alp runs/adv/adversarial.f32',
    'alp detect --model runs/demo/alp digit.png t10k-images-idx3-ubyte.gz --json',
    'alp detect eval --model runs/demo/standard,runs/demo/alp --n 500',
    'alp detect serve --model runs/demo/alp --port 8080',
  ],
};

export const DETECT_CALIBRATE_SPEC: CommandSpec = {
  name: 'detect calibrate',
  summary: 'fit a detector on clean held-out inputs for a target false-positive rate; writes detector.json beside model.json',
  usage: 'alp detect calibrate --model PATH [--detector odds] [--fpr 0.05] [options]',
  options: [
    { name: 'model', type: 'string', metavar: 'PATH', help: 'model folder or model.json' },
    OUTPUT_NODE_OPTION,
    { name: 'detector', type: 'string', choices: DETECTOR_KINDS, default: 'odds', help: 'which detector' },
    ...CALIB_OPTIONS,
    ...DETECTOR_OPTIONS,
    ...DATA_OPTIONS,
    { name: 'out', type: 'string', metavar: 'FILE', help: 'where to write (default: detector.json beside model.json)' },
    { name: 'force', type: 'boolean', help: 'replace a detector.json calibrated for other weights, data, detector settings or FPR' },
    ...COMMON_OPTIONS,
  ],
  examples: [
    'alp detect calibrate --model runs/demo/alp',
    'alp detect calibrate --model runs/demo/alp --detector logit-discrepancy --fpr 0.01 --calib-n 2000',
    'alp detect calibrate --model runs/demo/standard --detector odds --noise gaussian:0.05,uniform:0.1 --samples 128',
  ],
};

export const DETECT_EVAL_SPEC: CommandSpec = {
  name: 'detect eval',
  summary: 'ROC-AUC and TPR at fixed FPR of each detector against non-adaptive and adaptive attacks (text models: real word swaps)',
  usage: 'alp detect eval --model PATH[,PATH...] [options]',
  options: [
    { name: 'model', type: 'strings', metavar: '[LABEL=]PATH,...', help: 'models to compare (e.g. standard and ALP); label defaults to the folder name' },
    { name: 'detectors', type: 'strings', choices: DETECTOR_KINDS, default: [...DETECTOR_KINDS], help: 'detectors to evaluate' },
    { name: 'n', type: 'int', default: 500, help: 'evaluate on the first N test examples' },
    ...CALIB_OPTIONS,
    { name: 'fprs', type: 'numbers', default: [0.01, 0.05], help: 'report TPR at these false-positive rates' },
    { name: 'norm', type: 'string', choices: ['linf', 'l2'], default: 'linf', help: 'threat model norm' },
    { name: 'eps', type: 'number', default: 0.3, help: 'perturbation radius' },
    { name: 'attacks', type: 'strings', choices: ATTACK_NAMES, default: defaultDetectAttacks(), help: 'non-adaptive attacks' },
    { name: 'steps', type: 'int', default: 40, help: 'steps of the non-adaptive iterative attacks' },
    { name: 'restarts', type: 'int', default: 1, help: 'random restarts of the non-adaptive attacks' },
    { name: 'adaptive-steps', type: 'int', default: 50, help: 'PGD steps per adaptive strategy' },
    { name: 'lambdas', type: 'numbers', default: [0, 1, 10, 100], help: 'weights of the detector term in the adaptive objective (0 = plain CW)' },
    { name: 'eot', type: 'int', default: 16, help: 'noise draws per step for the adaptive attack (expectation over transformations)' },
    { name: 'check-every', type: 'int', default: 10, help: 'adaptive attack: check success on the real detector every N steps' },
    { name: 'no-adaptive', type: 'boolean', help: 'skip the adaptive attack' },
    { name: 'swaps', type: 'int', default: 2, help: 'text models: at most this many real words swapped per message (HotFlip, and the adaptive swap search)' },
    { name: 'probe', type: 'int', default: 8, help: 'text models, adaptive: swaps per step re-checked on the real message with the real detector' },
    ...WORD_SWAP_OPTIONS,
    ...DETECTOR_OPTIONS,
    ...DATA_OPTIONS,
    ...MODEL_INPUT_OPTIONS,
    { name: 'batch-size', type: 'int', default: 100, help: 'examples attacked / scored at once' },
    WORKERS_OPTION,
    { name: 'out', type: 'string', metavar: 'FILE', help: "write the JSON report here (default: detect-eval.json beside model.json, NAME.detect-eval.json beside a model file NAME.json; for several models, detect-eval.json in the folder they share or in their folders' common parent, else --out is required)" },
    { name: 'force', type: 'boolean', help: 'replace an output that holds the detect eval of other weights or settings' },
    ...COMMON_OPTIONS,
  ],
  examples: [
    'alp detect eval --model runs/demo/standard,runs/demo/alp',
    'alp detect eval --model std=runs/demo/standard,alp=runs/demo/alp --detectors odds,margin --n 1000 --json',
    'alp detect eval --model runs/demo/alp --eps 0.1 --attacks pgd-ce,pgd-cw --adaptive-steps 100 --lambdas 0,0.1,1,10,100',
    'alp detect eval --model std=runs/spam-std,alp=runs/spam-alp --n 200 --detectors logit-discrepancy,margin --swaps 2   # text: word swaps',
    'alp detect eval --model runs/demo/alp --workers 2   # calibrated here, test examples split over two threads',
  ],
};

export const DETECT_SERVE_SPEC: CommandSpec = {
  name: 'detect serve',
  summary: 'serve a guarded model over HTTP on 127.0.0.1 (GET /health, POST /check)',
  usage: 'alp detect serve --model PATH [--port 0]',
  options: [
    { name: 'model', type: 'string', metavar: 'PATH', help: 'model folder or model.json (with detector.json beside it)' },
    OUTPUT_NODE_OPTION,
    { name: 'detector', type: 'string', metavar: 'FILE', help: 'detector.json to use (default: beside the model)' },
    { name: 'port', type: 'int', default: 0, help: 'port on 127.0.0.1 (0: any free port; the URL is printed)' },
    { name: 'max-batch', type: 'int', default: 64, help: 'most images per request' },
    { name: 'max-body-bytes', type: 'int', default: 8 * 1024 * 1024, help: 'largest request body' },
    ...COMMON_OPTIONS,
  ],
  examples: [
    'alp detect serve --model runs/demo/alp --port 8080',
    `curl -s -X POST localhost:8080/check -H 'content-type: application/json' -d '{"inputs": [[0, 0.5, ...]]}'`,
  ],
};

const SUBCOMMANDS: Record<string, { spec: CommandSpec; run: (p: Parsed) => Promise<void> }> = {
  calibrate: { spec: DETECT_CALIBRATE_SPEC, run: calibrateCmd },
  eval: { spec: DETECT_EVAL_SPEC, run: evalCmd },
  serve: { spec: DETECT_SERVE_SPEC, run: serveCmd },
};

function mainHelp(): string {
  return [
    helpText(DETECT_CHECK_SPEC),
    '',
    'Subcommands (alp detect SUBCOMMAND --help):',
    ...Object.entries(SUBCOMMANDS).map(([k, v]) => `  ${k.padEnd(12)}${v.spec.summary}`),
  ].join('\n');
}

export async function detectCommand(argv: string[]): Promise<void> {
  const [first, ...rest] = argv;
  const sub = first !== undefined ? SUBCOMMANDS[first] : undefined;
  if (sub !== undefined) {
    const p = parseArgs(rest, sub.spec);
    if (get.bool(p, 'help')) {
      process.stdout.write(helpText(sub.spec) + '\n');
      return;
    }
    if (p._.length > 0) throw new UserError(`alp ${sub.spec.name}: unexpected argument '${p._[0]}' (see 'alp ${sub.spec.name} --help')`);
    await sub.run(p);
    return;
  }
  const p = parseArgs(argv, DETECT_CHECK_SPEC);
  if (get.bool(p, 'help')) {
    process.stdout.write(mainHelp() + '\n');
    return;
  }
  await checkCmd(p);
}

// ---------------------------------------------------------------------------------------------------

function requireModel(p: Parsed, cmd: string): string {
  const m = get.str(p, 'model');
  if (m === undefined) throw new UserError(`alp ${cmd}: --model is required (a folder with model.json, or the model.json itself)`);
  return m;
}

function modelDir(path: string): string {
  return dirname(modelJsonPath(path));
}

function parseNoise(p: Parsed): NoiseSpec[] | undefined {
  const items = get.strs(p, 'noise');
  if (items === undefined) return undefined;
  return items.map((it) => {
    const [dist, epsText, more] = it.split(':');
    const eps = Number(epsText);
    if (more !== undefined || !NOISE_DISTS.includes(dist as NoiseDist) || epsText === undefined || !Number.isFinite(eps) || eps <= 0 || eps >= 1) {
      throw new UserError(`--noise: expected DIST:EPS with DIST one of ${NOISE_DISTS.join(', ')} and 0 < EPS < 1, got '${it}'`);
    }
    return { dist: dist as NoiseDist, eps };
  });
}

function detectorSettings(p: Parsed): DetectorSettings {
  const s: DetectorSettings = { seed: get.num(p, 'seed') as number };
  const samples = get.num(p, 'samples');
  if (samples !== undefined) s.samples = samples;
  const noise = parseNoise(p);
  if (noise !== undefined) s.noise = noise;
  return s;
}

/**
 * The model for checking inputs (`alp detect`, `detect serve`), which read images and audio: a text
 * model is refused there (its detectors work on embeddings; calibrate and eval handle it).
 */
async function openDetectModel(path: string, quiet: boolean, command: string, outputNode?: string): Promise<tf.LayersModel> {
  const model = await openModel(path, quiet, false, outputNode);
  if (isTextModel(model)) throw new UserError(`${path}: a text model; alp ${command} reads images and audio, not messages (text models work with alp detect calibrate and alp detect eval)`);
  return model;
}

/**
 * The clean calibration inputs: held out from training, disjoint from the evaluated test examples, and
 * from the same population as what they calibrate for. (MNIST's test split is two populations: its
 * first and last 5000 images come from different writers, and a threshold calibrated on one half can
 * give about twice the false-positive rate on the other.)
 *
 *  - eval: the --calib-n test examples right after the N evaluated ones (same region of the split);
 *  - calibrate: a seeded random sample of the split, representative of all of it;
 *  - --calib-start S: examples S … S+calib-n−1.
 */
async function calibrationData(p: Parsed, evalN: number | undefined, modelPath?: string): Promise<{ ds: Dataset; source: Record<string, unknown> }> {
  const split = get.str(p, 'calib-split') as 'train' | 'test';
  const n = get.num(p, 'calib-n') as number;
  if (!Number.isInteger(n) || n < 2) throw new UserError(`--calib-n: expected an integer ≥ 2, got ${n}`);
  const start = get.num(p, 'calib-start');
  const full = await loadEvalData(p, undefined, split, modelPath);
  try {
    return calibrationSplit(full, {
      split, n, seed: get.num(p, 'seed') as number, ...(start !== undefined ? { start } : {}), ...(evalN !== undefined ? { evalN } : {}),
    });
  } catch (e) {
    // The split's options are this command's --calib-* flags.
    if (e instanceof OptionError) throw new UserError(optionMessage(e, { n: 'calib-n', start: 'calib-start', split: 'calib-split', evalN: 'n' }), e.code);
    throw e;
  }
}

async function calibrateCmd(p: Parsed): Promise<void> {
  const modelPath = requireModel(p, 'detect calibrate');
  const quiet = isQuiet(p);
  const backend = await initBackend(p);
  const { ds: data, source } = await calibrationData(p, undefined, modelPath);
  const loaded = await openModel(modelPath, quiet, false, get.str(p, 'output-node'));
  // Text: the detector scores the message's embeddings through the model's head (noise without a box).
  const text = isTextModel(loaded) ? textDetectorTarget(loaded) : undefined;
  if (text === undefined && data.vocabulary !== undefined) throw new UserError(`${modelPath}: ${data.name} holds token ids, but the model has no Embedding layer`);
  // Shape adaptation only for images: `detect check`/`serve` score inputs in the model's own format.
  const imageModel = text === undefined ? checkModelFitsData(loaded, data, modelPath, undefined, quiet) : undefined;
  const det = buildDetector(get.str(p, 'detector') as string, text !== undefined ? textDetectorSettings(detectorSettings(p)) : detectorSettings(p));
  const fpr = get.num(p, 'fpr') as number;
  const nThr = det.needsFit ? data.count - Math.round(data.count / 2) : data.count;
  checkCalibrationSize(nThr, fpr, det.needsFit ? `clean inputs left for the threshold (half of --calib-n fits the ${det.kind} statistics)` : 'clean inputs (--calib-n)');
  // What it is calibrated for (checked where it is applied), and the one output rule for detector.json.
  const calibratedOn = {
    modality: text !== undefined ? 'text' : 'image/audio', inputShape: data.shape, modelPath, detectorSettings: det.describe(),
    content: dataRecord(data, get.str(p, 'data-dir')),
  };
  const outPath = detectorJsonPath(get.str(p, 'out') ?? modelDir(modelPath));
  const fingerprint = detectorModelFingerprint(modelPath).sha256;
  guardOutput(outPath, 'detector', detectorIdentity(JSON.parse(JSON.stringify({ format: 'alp-detector', model: { sha256: fingerprint }, data: calibratedOn, calibration: { fprTarget: fpr } })) as Record<string, unknown>), p);
  say(quiet, `alp detect calibrate: ${det.name} on ${data.count} clean ${String(source['dataset'])} ${String(source['split'])} ${text !== undefined ? 'messages (embedded)' : 'images'} (${source['start'] !== undefined ? `from ${String(source['start'])}` : 'random sample'}), target FPR ${fpr}, backend ${backend}`);
  const t0 = Date.now();
  const r = text !== undefined ? calibrateTextDetector(text, det, data, { fpr }) : calibrateDetector(det, imageModel as tf.LayersModel, data, { fpr });
  const out = saveDetector(outPath, r, { modelPath, data: { ...source, fit: r.split.fit, threshold: r.split.threshold, ...calibratedOn } });
  const c = r.calibration;
  const report = { model: modelPath, detectorFile: out, detector: det.describe(), calibration: c, split: r.split, seconds: (Date.now() - t0) / 1000, versions: versions(backend) };
  emit(p, report, [
    `${det.name}: flag when score > ${c.threshold.toPrecision(6)}`,
    `  target FPR ${c.fprTarget}, expected ${c.expectedFpr.toFixed(4)} on fresh clean inputs (${c.n} calibration scores, ${c.allowedAbove} above the threshold)`,
    `  clean scores: mean ${c.scores.mean.toPrecision(4)}, std ${c.scores.std.toPrecision(4)}, p95 ${c.scores.p95.toPrecision(4)}, p99 ${c.scores.p99.toPrecision(4)}`,
    `written ${out}`,
  ].join('\n'));
}

async function checkCmd(p: Parsed): Promise<void> {
  const modelPath = requireModel(p, 'detect');
  const files = [...(get.strs(p, 'input') ?? []), ...p._];
  if (files.length === 0) throw new UserError("alp detect: no inputs; give files with --input or as arguments (see 'alp detect --help')");
  const quiet = isQuiet(p);
  const backend = await initBackend(p);
  const det = loadDetector(get.str(p, 'detector') ?? modelDir(modelPath), modelPath);
  for (const w of det.warnings) say(false, `warning: ${w}`);
  const model = await openDetectModel(modelPath, quiet, 'detect', get.str(p, 'output-node'));
  checkDetectorFits(det, model, modelPath);
  const g = guard(model, det);
  const shape = get.nums(p, 'shape');
  // The one output rule for --out, before any work: replace only the same check (model, detector, inputs).
  const out = get.str(p, 'out');
  if (out !== undefined) guardOutput(out, 'detect-check', checkIdentity({ model: modelPath, detector: { file: det.path }, inputs: files }), p);
  const results: Array<Record<string, unknown>> = [];
  const rows: string[][] = [['input', 'label', 'prediction', 'confidence', 'suspicion', 'decision']];
  for (const file of files) {
    const batch = readInputs(file, g.inputShape, shape !== undefined ? { shape } : {});
    const decisions = g.check(batch.images);
    decisions.forEach((d, i) => {
      const label = batch.labels?.[i];
      results.push({ file, index: i, format: batch.format, ...(label !== undefined ? { label } : {}), ...d });
      rows.push([batch.count > 1 ? `${file}#${i}` : file, label !== undefined ? String(label) : '', String(d.prediction), pct(d.confidence), d.suspicion.toPrecision(4), d.decision === 'reject' ? 'REJECT' : 'accept']);
    });
    say(quiet, `${file}: ${batch.count} ${batch.format} image(s)`);
  }
  const rejected = results.filter((r) => r['decision'] === 'reject').length;
  const report = {
    schema: DETECT_CHECK_SCHEMA, model: modelPath, backend, inputs: files, detector: { file: det.path, name: det.detector.name, threshold: det.calibration.threshold, fprTarget: det.calibration.fprTarget },
    warnings: det.warnings, results, summary: { inputs: results.length, rejected },
  };
  if (out !== undefined) writeJsonAtomic(out, report);
  emit(p, report, `${table(rows)}\n\n${rejected}/${results.length} rejected by ${det.detector.name} (score > ${det.calibration.threshold.toPrecision(4)}, calibrated for ${pct(det.calibration.fprTarget)} false positives)${out !== undefined ? `; written ${out}` : ''}`);
}

async function serveCmd(p: Parsed): Promise<void> {
  const modelPath = requireModel(p, 'detect serve');
  const quiet = get.bool(p, 'quiet');
  await initBackend(p);
  const det = loadDetector(get.str(p, 'detector') ?? modelDir(modelPath), modelPath);
  for (const w of det.warnings) say(false, `warning: ${w}`);
  const model = await openDetectModel(modelPath, quiet, 'detect serve', get.str(p, 'output-node'));
  checkDetectorFits(det, model, modelPath);
  const port = get.num(p, 'port') as number;
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new UserError(`--port: expected an integer in 0…65535, got ${port}`);
  const maxBatch = get.num(p, 'max-batch') as number;
  const maxBody = get.num(p, 'max-body-bytes') as number;
  if (maxBatch < 1) throw new UserError(`--max-batch: expected an integer ≥ 1, got ${maxBatch}`);
  if (maxBody < 1024) throw new UserError(`--max-body-bytes: expected at least 1024, got ${maxBody}`);
  let server;
  try {
    server = await serveGuard(guard(model, det), { port, maxBatch, maxBodyBytes: maxBody, log: (l) => say(quiet, l) });
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'EADDRINUSE' || code === 'EACCES') throw new UserError(`--port ${port}: cannot listen on 127.0.0.1:${port} (${code})`);
    throw e;
  }
  process.stdout.write(`listening on ${server.url} (GET /health, POST /check); Ctrl-C stops\n`);
  await new Promise<void>((resolveStop) => {
    const stop = (): void => {
      void server.close().then(resolveStop);
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
}

/** Image-only options of detect eval, refused for a text model when changed from their defaults (they would be ignored). */
function rejectImageOptions(p: Parsed): void {
  for (const o of DETECT_EVAL_SPEC.options) {
    if (!['norm', 'eps', 'attacks', 'steps', 'restarts', 'adaptive-steps', 'check-every'].includes(o.name)) continue;
    if (JSON.stringify(p[o.name]) !== JSON.stringify(o.default)) {
      throw new UserError(`--${o.name}: an option of the image attacks; a text model is attacked with real word swaps (--swaps, --candidates, --probe, --lambdas)`);
    }
  }
}

/** Word-swap options, refused for image and audio models when given (they would be ignored). */
function rejectTextOptions(p: Parsed): void {
  for (const o of DETECT_EVAL_SPEC.options) {
    if (!['swaps', 'probe', 'candidates', 'swap-fraction', 'neighbours', 'wordnet', 'beam'].includes(o.name)) continue;
    if (JSON.stringify(p[o.name]) !== JSON.stringify(o.default)) throw new UserError(`--${o.name}: an option of the word-swap attacks on text models; this data is not text`);
  }
}

/** detect eval's word-swap plan for text models, from --swaps, --candidates, --beam, --probe, --lambdas, --eot. */
function textOptions(p: Parsed, noAdaptive: boolean, seed: number): {
  budget: { k: number; fraction?: number }; candidates: CandidateSpec;
  options: Omit<TextDetectEvalOptions, 'candidates'>; threat: TextDetectSetup['threat']; adaptive: TextDetectSetup['adaptive'];
} {
  const k = get.num(p, 'swaps') as number;
  if (!Number.isInteger(k) || k < 1) throw new UserError(`--swaps: expected an integer ≥ 1, found ${k}`);
  const fraction = get.num(p, 'swap-fraction');
  if (fraction !== undefined && !(fraction > 0 && fraction <= 1)) throw new UserError(`--swap-fraction: expected a number in (0, 1], found ${fraction}`);
  const beam = get.num(p, 'beam') as number;
  if (!Number.isInteger(beam) || beam < 1) throw new UserError(`--beam: expected an integer ≥ 1, found ${beam}`);
  const probe = get.num(p, 'probe') as number;
  if (!Number.isInteger(probe) || probe < 1) throw new UserError(`--probe: expected an integer ≥ 1, found ${probe}`);
  const eot = get.num(p, 'eot') as number;
  if (!Number.isInteger(eot) || eot < 1) throw new UserError(`--eot: expected an integer ≥ 1, found ${eot}`);
  // λ = 0 is plain HotFlip, whose message the adaptive attack always counts; the searches need λ > 0.
  const raw = get.nums(p, 'lambdas') as number[];
  if (raw.some((l) => !Number.isFinite(l) || l < 0)) throw new UserError(`--lambdas: expected numbers ≥ 0, found ${raw.join(',')}`);
  const lambdas = raw.filter((l) => l > 0);
  if (!noAdaptive && lambdas.length === 0) throw new UserError(`--lambdas: a text model needs at least one λ > 0 (λ = 0 is the plain HotFlip message, always counted), found ${raw.join(',')}`);
  const budget = { k, ...(fraction !== undefined ? { fraction } : {}) };
  const candidates = get.str(p, 'candidates') as CandidateKind;
  const wordnet = get.str(p, 'wordnet');
  const adaptive = noAdaptive ? null : { lambdas, probe, eotSamples: eot, seed: seed + 7919 };
  return {
    budget, candidates: { kind: candidates, neighbours: get.num(p, 'neighbours') as number, ...(wordnet !== undefined ? { wordnetDir: wordnet } : {}) },
    options: { budget, beamWidth: beam, seed, adaptive },
    threat: { kind: 'word swaps' as const, swaps: k, fraction: fraction ?? null, candidates, beam },
    adaptive,
  };
}

function parseModels(p: Parsed): Array<{ label: string; path: string }> {
  const items = get.strs(p, 'model');
  if (items === undefined) throw new UserError('alp detect eval: --model is required (one or more model folders, comma-separated)');
  const out = items.map((it) => {
    const eq = it.indexOf('=');
    const path = eq >= 0 ? it.slice(eq + 1) : it;
    const label = eq >= 0 ? it.slice(0, eq) : basename(path.endsWith('.json') ? dirname(resolve(path)) : resolve(path));
    if (path === '' || label === '') throw new UserError(`--model: expected [LABEL=]PATH, got '${it}'`);
    return { label, path };
  });
  const labels = new Set(out.map((m) => m.label));
  if (labels.size !== out.length) throw new UserError(`--model: labels must differ (got ${out.map((m) => m.label).join(', ')}); name them LABEL=PATH`);
  return out;
}

/**
 * Where a detect eval's report goes without --out: beside the one model as for eval; for several, in
 * the folder they share (model files side by side) or the parent their folders share (runs/demo/standard,
 * runs/demo/alp → runs/demo). Models elsewhere have no natural place for a report about all of them.
 */
function defaultDetectEvalPath(models: ReadonlyArray<{ path: string }>): string {
  const first = models[0];
  if (first === undefined) throw new UserError('alp detect eval: --model is required');
  if (models.length === 1) return defaultResultPath(first.path, 'detect-eval');
  const dirs = models.map((m) => resolve(modelDir(m.path)));
  for (const shared of [dirs, dirs.map((d) => dirname(d))]) {
    if (shared.every((d) => d === shared[0])) return join(shared[0] as string, 'detect-eval.json');
  }
  throw new UserError(`--out: the models live in different folders (${[...new Set(dirs.map((d) => dirname(d)))].join(', ')}); say where the report on all of them goes with --out FILE`);
}

async function evalCmd(p: Parsed): Promise<void> {
  const models = parseModels(p);
  const quiet = isQuiet(p);
  const backend = await initBackend(p);
  const n = get.num(p, 'n') as number;
  const test = await loadEvalData(p, n, 'test', models[0]?.path);
  const { ds: calib, source } = await calibrationData(p, test.count, models[0]?.path);
  const text = test.vocabulary !== undefined;
  const threat = { norm: get.str(p, 'norm') as 'linf' | 'l2', eps: get.num(p, 'eps') as number };
  if (text) rejectImageOptions(p);
  else {
    rejectTextOptions(p);
    validateThreatModel(threat, test.shape[0] * test.shape[1] * test.shape[2]);
    // The default attacks run on any class count; one named that cannot is refused before any work.
    refuseUnfit(get.strs(p, 'attacks') as AttackName[], test.numClasses, '--attacks');
  }
  const fprs = get.nums(p, 'fprs') as number[];
  for (const f of fprs) if (!(f > 0 && f < 1)) throw new UserError(`--fprs: expected rates in (0, 1), got ${f}`);
  const operatingFpr = get.num(p, 'fpr') as number;
  if (!(operatingFpr > 0 && operatingFpr < 1)) throw new UserError(`--fpr: expected a rate in (0, 1), got ${operatingFpr}`);
  const kinds = get.strs(p, 'detectors') as string[];
  checkCalibrationSize(kinds.includes('odds') ? calib.count - Math.round(calib.count / 2) : calib.count, operatingFpr,
    kinds.includes('odds') ? 'clean inputs left for the threshold (half of --calib-n fits the odds statistics)' : 'clean inputs (--calib-n)');
  const settings = text ? textDetectorSettings(detectorSettings(p)) : detectorSettings(p);
  const seed = settings.seed as number;
  const lambdas = get.nums(p, 'lambdas') as number[];
  const adaptive = get.bool(p, 'no-adaptive') ? null : {
    steps: get.num(p, 'adaptive-steps') as number, lambdas, eotSamples: get.num(p, 'eot') as number,
    checkEvery: get.num(p, 'check-every') as number, seed: seed + 7919,
  };
  const textPlan = text ? textOptions(p, adaptive === null, seed) : null;
  const options = {
    threat, attacks: get.strs(p, 'attacks') as AttackName[], steps: get.num(p, 'steps') as number, restarts: get.num(p, 'restarts') as number,
    seed, fprs, operatingFpr, adaptive, batchSize: get.num(p, 'batch-size') as number,
  };
  const out = get.str(p, 'out') ?? defaultDetectEvalPath(models);
  const hashes = models.map((m) => weightsHash(modelJsonPath(m.path)));
  const testData = dataRecord(test, get.str(p, 'data-dir'));
  const setup = textPlan !== null
    ? {
      dataset: test.name, data: testData, testExamples: test.count, calibration: source, modality: 'text' as const, threat: textPlan.threat, operatingFpr, fprTargets: fprs,
      attacks: [`hotflip-${textPlan.budget.k}`], adaptive: textPlan.adaptive, detectors: kinds, detectorSettings: settings, seed,
    }
    : {
      dataset: test.name, data: testData, testExamples: test.count, calibration: source, threat, operatingFpr, fprTargets: fprs,
      attacks: options.attacks, attackSteps: options.steps, attackRestarts: options.restarts, adaptive,
      detectors: kinds, detectorSettings: settings, seed,
    };
  guardOutput(out, 'detect-eval', detectEvalIdentity({ models: hashes.map((weightsHash) => ({ weightsHash })), setup }), p);
  // Ctrl-C/SIGTERM stop after the current batch (InterruptedError, exit 130/143); the handlers go with the process.
  const interrupt = onInterrupt('detect eval', 'this batch; nothing is written (an interrupted detect eval does not resume)');
  const workers = workersFor(p, test.count);
  const t0 = Date.now();
  const results: ModelDetectionResult[] = [];
  for (const [i, m] of models.entries()) {
    const loaded = await openModel(m.path, quiet, false, get.str(p, 'output-node'));
    if (isTextModel(loaded) !== text) {
      throw new UserError(text
        ? `${m.path}: not a text model, but the evaluation data (${test.name}, from the first model) is text; evaluate text and other models in separate runs`
        : `${m.path}: a text model, but the evaluation data (${test.name}) is not text; give --data spam-assassin or evaluate it in a separate run`);
    }
    const detectors: Detector[] = kinds.map((k) => buildDetector(k, settings));
    let bar: Progress | undefined;
    let stage = '';
    const onProgress = (e: { stage: string; done: number; total: number }): void => {
      if (e.stage !== stage) {
        bar?.done();
        bar = new Progress(e.stage, e.total, { quiet });
        stage = e.stage;
      }
      bar?.update(e.done);
    };
    let r: ModelDetectionResult;
    if (textPlan !== null) {
      const target = textDetectorTarget(loaded);
      const candidates = target.candidates(textPlan.candidates, test.vocabulary);
      say(quiet, `alp detect eval: ${m.label} (${m.path}) on ${test.count} ${test.name} test messages, calibration ${calib.count} (${String(source['split'])} from ${String(source['start'])}), HotFlip ≤ ${textPlan.budget.k} swaps (${candidates.kind}), detectors on embeddings, backend ${backend}${workers > 1 ? `, ${workers} workers` : ''}`);
      const run = { ...textPlan.options, candidates, fprs, operatingFpr, batchSize: options.batchSize, signal: interrupt.signal, onProgress };
      // With workers: calibrated here, the test messages split over the workers' replicas (same per-message results).
      r = workers > 1
        ? await evaluateTextDetectionParallel(target, m.label, m.path, test, calib, detectors, { ...run, workers })
        : await evaluateTextDetection(target, m.label, m.path, test, calib, detectors, run);
      loaded.dispose();
    } else {
      const model = checkModelFitsData(loaded, test, m.path, p, quiet);
      say(quiet, `alp detect eval: ${m.label} (${m.path}) on ${test.count} ${test.name} test examples, calibration ${calib.count} (${String(source['split'])} from ${String(source['start'])}), ${threat.norm} ε=${threat.eps}, backend ${backend}${workers > 1 ? `, ${workers} workers` : ''}`);
      const run = { ...options, signal: interrupt.signal, onProgress };
      // With workers: calibrated here, the test examples split over the workers' replicas (same per-example results).
      r = workers > 1
        ? await evaluateDetectionParallel(model, m.label, m.path, test, calib, detectors, { ...run, workers })
        : await evaluateDetection(model, m.label, m.path, test, calib, detectors, run);
      model.dispose(); // the loaded model itself, or the adapter that wraps it
    }
    bar?.done();
    results.push({ ...r, weightsHash: hashes[i] ?? null });
  }
  const report = buildDetectionReport(results, { ...setup, seconds: (Date.now() - t0) / 1000, versions: versions(backend) });
  writeDetectEvalArtifact(out, report);
  const f3 = (v: number | null): string => (v === null || Number.isNaN(v) ? '—' : v.toFixed(3));
  const pc = (v: number | null): string => (v === null || Number.isNaN(v) ? '—' : pct(v));
  const rows = [['model', 'detector', 'attack', 'fooled', 'AUC', 'TPR@1%', 'TPR@5%', 'detected', 'undetected', 'robust|detected']];
  for (const m of results) for (const d of m.detectors) for (const a of d.attacks) {
    const at = (fpr: number): number | null => a.tprAtFpr.find((q) => Math.abs(q.fpr - fpr) < 1e-12)?.tpr ?? null;
    rows.push([m.label, d.kind, a.adaptive ? 'ADAPTIVE' : a.attack, pc(a.attackSuccessRate), f3(a.rocAuc), pc(at(0.01)), pc(at(0.05)), pc(a.calibrated.detectionRate), pc(a.calibrated.undetectedSuccessRate), pc(a.robustOrDetectedAccuracy)]);
  }
  const fprLine = results.flatMap((m) => m.detectors.map((d) => `${m.label}/${d.kind} ${pct(d.cleanTestFpr)}`)).join(', ');
  emit(p, report, `${table(rows)}\n\nclean test FPR at the calibrated thresholds (target ${pct(operatingFpr)}): ${fprLine}\n` +
    `'detected' and 'undetected' use the calibrated thresholds; read the ADAPTIVE rows: a detector is only as good as its worst case.\n\nwritten ${out}`);
}
