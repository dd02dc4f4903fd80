/** `alp detect calibrate`: fit and calibrate one detector on clean held-out inputs → detector.json. */
import { calibrateDetector, checkCalibrationSize } from '../../detect/calibrate.js';
import { detectorJsonPath, modelFingerprint as detectorModelFingerprint, saveDetector } from '../../detect/detector-files.js';
import { buildDetector } from '../../detect/registry.js';
import { detectorIdentity, resultFolderOf } from '../../artifacts/outputs.js';
import { dataRecord } from '../../data/digest.js';
import { UserError } from '../../util/errors.js';
import { get, type Parsed } from '../args.js';
import type * as tf from '@tensorflow/tfjs';
import { isTextModel } from '../../model/text.js';
import { textDetectorSettings } from '../../detect/text-evaluate.js';
import { calibrateTextDetector, textDetectorTarget } from '../../detect/text-target.js';
import { checkModelFitsData, emit, guardOutput, initBackend, isQuiet, openModel, versions } from '../common.js';
import { say } from '../progress.js';
import { calibrationData, detectorSettings, requireModel } from '../detect-settings.js';

export async function calibrateCmd(p: Parsed): Promise<void> {
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
  const outPath = detectorJsonPath(get.str(p, 'out') ?? resultFolderOf(modelPath));
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

