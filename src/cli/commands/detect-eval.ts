/** `alp detect eval`: detectors against non-adaptive and adaptive attacks, on one or more models. */
import { basename, dirname, join, resolve } from 'node:path';
import { validateThreatModel } from '../../attack/threat-model.js';
import { checkCalibrationSize } from '../../detect/calibrate.js';
import { type Detector } from '../../detect/detector.js';
import { buildDetectionReport, writeDetectEvalArtifact, type TextDetectSetup } from '../../artifacts/detect-eval.js';
import { evaluateDetection, type ModelDetectionResult } from '../../detect/evaluate.js';
import { detectImageModel, detectTextModel, type DetectModelRun } from '../../jobs/detect-eval.js';
import type { DetectShardModel } from '../../jobs/detect-shard.js';
import { parseShard, runHash, shardName, shardRange, shardRecord } from '../../artifacts/shard.js';
import { buildDetector } from '../../detect/registry.js';
import { type AttackName } from '../../eval/suite.js';
import { refuseUnfit } from '../../eval/few-classes.js';
import { modelJsonPath } from '../../model/io.js';
import { weightsHash } from '../../model/fingerprint.js';
import { defaultResultPath, detectEvalIdentity, resultFolderOf } from '../../artifacts/outputs.js';
import { dataRecord } from '../../data/digest.js';
import { onInterrupt } from '../../util/interrupt.js';
import { UserError } from '../../util/errors.js';
import { get, type Parsed } from '../args.js';
import { isTextModel } from '../../model/text.js';
import { evaluateTextDetection, textDetectorSettings, type TextDetectEvalOptions } from '../../detect/text-evaluate.js';
import { textDetectorTarget } from '../../detect/text-target.js';
import type { CandidateKind, CandidateSpec } from '../../attack/text/index.js';
import { workersFor, checkModelFitsData, emit, guardOutput, initBackend, isQuiet, loadEvalData, openModel, pct, table, versions } from '../common.js';
import { Progress, say } from '../progress.js';
import { DETECT_EVAL_SPEC } from '../specs/detect.js';
import { calibrationData, detectorSettings } from '../detect-settings.js';

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
  const dirs = models.map((m) => resolve(resultFolderOf(m.path)));
  for (const shared of [dirs, dirs.map((d) => dirname(d))]) {
    if (shared.every((d) => d === shared[0])) return join(shared[0] as string, 'detect-eval.json');
  }
  throw new UserError(`--out: the models live in different folders (${[...new Set(dirs.map((d) => dirname(d)))].join(', ')}); say where the report on all of them goes with --out FILE`);
}

export async function evalCmd(p: Parsed): Promise<void> {
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
  const shardText = get.str(p, 'shard');
  const shard = shardText !== undefined ? parseShard(shardText) : undefined;
  const whole = defaultDetectEvalPath(models);
  const out = get.str(p, 'out') ?? (shard !== undefined ? join(dirname(whole), shardName('detect-eval', shard, '.json')) : whole);
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
  guardOutput(out, 'detect-eval', detectEvalIdentity({ models: hashes.map((weightsHash) => ({ weightsHash })), setup, ...(shard !== undefined ? { shard } : {}) }), p);
  // Ctrl-C/SIGTERM stop after the current batch (InterruptedError, exit 130/143); the handlers go with the process.
  const interrupt = onInterrupt('detect eval', 'this batch; nothing is written (an interrupted detect eval does not resume)');
  const range = shard !== undefined ? shardRange(test.count, shard, options.batchSize) : undefined;
  if (range !== undefined && range[1] === range[0]) throw new UserError(`--shard ${shard?.index}/${shard?.count}: no test rows for this shard (shards cut whole groups of --batch-size ${options.batchSize} rows: ${Math.ceil(test.count / options.batchSize)} groups for ${shard?.count} shards); use fewer shards or a smaller --batch-size`);
  const workers = workersFor(p, range !== undefined ? range[1] - range[0] : test.count);
  const t0 = Date.now();
  const results: ModelDetectionResult[] = [];
  const shardModels: DetectShardModel[] = [];
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
    const job = { label: m.label, path: m.path, weightsHash: hashes[i] ?? null, workers, ...(range !== undefined ? { range } : {}) };
    const rows = range !== undefined ? `${range[1] - range[0]} (shard ${shard?.index}/${shard?.count}: rows ${range[0]}–${range[1] - 1}) of ${test.count}` : `${test.count}`;
    let r: DetectModelRun;
    if (textPlan !== null) {
      const target = textDetectorTarget(loaded);
      const candidates = target.candidates(textPlan.candidates, test.vocabulary);
      say(quiet, `alp detect eval: ${m.label} (${m.path}) on ${rows} ${test.name} test messages, calibration ${calib.count} (${String(source['split'])} from ${String(source['start'])}), HotFlip ≤ ${textPlan.budget.k} swaps (${candidates.kind}), detectors on embeddings, backend ${backend}${workers > 1 ? `, ${workers} workers` : ''}`);
      // With workers: calibrated here, the test messages split over the workers' replicas (same per-message results).
      r = await detectTextModel(target, test, calib, detectors, { ...textPlan.options, candidates, fprs, operatingFpr, batchSize: options.batchSize, signal: interrupt.signal, onProgress }, job);
      loaded.dispose();
    } else {
      const model = checkModelFitsData(loaded, test, m.path, p, quiet);
      say(quiet, `alp detect eval: ${m.label} (${m.path}) on ${rows} ${test.name} test examples, calibration ${calib.count} (${String(source['split'])} from ${String(source['start'])}), ${threat.norm} ε=${threat.eps}, backend ${backend}${workers > 1 ? `, ${workers} workers` : ''}`);
      // With workers: calibrated here, the test examples split over the workers' replicas (same per-example results).
      r = await detectImageModel(model, test, calib, detectors, { ...options, signal: interrupt.signal, onProgress }, job);
      model.dispose(); // the loaded model itself, or the adapter that wraps it
    }
    bar?.done();
    results.push(r.result);
    if (r.shard !== undefined) shardModels.push(r.shard);
  }
  const built = buildDetectionReport(results, { ...setup, seconds: (Date.now() - t0) / 1000, versions: versions(backend) });
  // A shard also records what merge joins, and the run it belongs to (everything its result depends on).
  const report = shard === undefined ? built : {
    ...built,
    shard: { ...shardRecord(shard, test.count, runHash({ command: 'detect eval', models: hashes, setup: { ...setup, data: testData.digest, calibration: source }, batchSize: options.batchSize }), testData, options.batchSize), fprs, models: shardModels },
  };
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

