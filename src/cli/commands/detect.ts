/**
 * `alp detect`: adversarial-input detection.
 *
 *   alp detect --model M FILE...           classify inputs and flag suspicious ones (needs M/detector.json)
 *   alp detect calibrate --model M         fit + calibrate a detector on clean held-out data → M/detector.json
 *   alp detect eval --model A,B            ROC-AUC, TPR at 1%/5% FPR, non-adaptive vs adaptive attacks → JSON
 *   alp detect serve --model M             HTTP endpoint on 127.0.0.1
 */
import { checkDetectorFits, loadDetector } from '../../detect/detector-files.js';
import { guard } from '../../detect/guard.js';
import { readInputs } from '../../detect/inputs.js';
import { serveGuard } from '../../detect/serve.js';
import { writeJsonAtomic } from '../../util/atomic.js';
import { DETECT_CHECK_SCHEMA, checkIdentity, resultFolderOf } from '../../artifacts/outputs.js';
import { UserError } from '../../util/errors.js';
import { helpText, parseArgs, get, type CommandSpec, type Parsed } from '../args.js';
import type * as tf from '@tensorflow/tfjs';
import { isTextModel } from '../../model/text.js';
import { emit, guardOutput, initBackend, isQuiet, openModel, pct, table } from '../common.js';
import { say } from '../progress.js';
import { DETECT_CALIBRATE_SPEC, DETECT_CHECK_SPEC, DETECT_EVAL_SPEC, DETECT_SERVE_SPEC } from '../specs/detect.js';
import { requireModel } from '../detect-settings.js';
import { calibrateCmd } from './detect-calibrate.js';
import { evalCmd } from './detect-eval.js';

export { DETECT_CALIBRATE_SPEC, DETECT_CHECK_SPEC, DETECT_EVAL_SPEC, DETECT_SERVE_SPEC };

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


/**
 * The model for checking inputs (`alp detect`, `detect serve`), which read images and audio: a text
 * model is refused there (its detectors work on embeddings; calibrate and eval handle it).
 */
async function openDetectModel(path: string, quiet: boolean, command: string, outputNode?: string): Promise<tf.LayersModel> {
  const model = await openModel(path, quiet, false, outputNode);
  if (isTextModel(model)) throw new UserError(`${path}: a text model; alp ${command} reads images and audio, not messages (text models work with alp detect calibrate and alp detect eval)`);
  return model;
}


async function checkCmd(p: Parsed): Promise<void> {
  const modelPath = requireModel(p, 'detect');
  const files = [...(get.strs(p, 'input') ?? []), ...p._];
  if (files.length === 0) throw new UserError("alp detect: no inputs; give files with --input or as arguments (see 'alp detect --help')");
  const quiet = isQuiet(p);
  const backend = await initBackend(p);
  const det = loadDetector(get.str(p, 'detector') ?? resultFolderOf(modelPath), modelPath);
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
  const det = loadDetector(get.str(p, 'detector') ?? resultFolderOf(modelPath), modelPath);
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

