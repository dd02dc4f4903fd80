/**
 * detector.json on disk, and a guard loaded from a model folder: the Node-only half of calibrate.ts
 * and guard.ts (those two stay free of Node built-ins so the browser bundle can use them).
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type * as tf from '@tensorflow/tfjs';
import { loadModel, modelJsonPath, MODEL_JSON } from '../model/io.js';
import { isTextModel } from '../model/text.js';
import { writeJsonAtomic } from '../util/atomic.js';
import { UserError } from '../util/errors.js';
import {
  DETECTOR_FORMAT, DETECTOR_JSON, DETECTOR_VERSION, parseDetectorFile,
  type CalibratedDetector, type DetectorFile, type ModelFingerprint,
} from './calibrate.js';
import { guard, type Guard, type GuardOptions } from './guard.js';

/** A hash of the model's files, so a detector.json calibrated for other weights is noticed. */
export function modelFingerprint(pathOrDir: string): ModelFingerprint {
  const file = modelJsonPath(pathOrDir);
  const h = createHash('sha256');
  const text = readFileSync(file);
  h.update(text);
  try {
    const json = JSON.parse(text.toString('utf8')) as { weightsManifest?: Array<{ paths?: string[] }> };
    for (const g of json.weightsManifest ?? []) for (const p of g.paths ?? []) {
      const full = join(dirname(file), p);
      if (existsSync(full) && statSync(full).isFile()) h.update(readFileSync(full));
    }
  } catch {
    /* loadModel reports a bad model.json; the fingerprint just covers the text */
  }
  return { modelJson: MODEL_JSON, sha256: h.digest('hex') };
}

/** detector.json's path for a model folder, a model.json, or a detector file path. */
export function detectorJsonPath(path: string): string {
  if (path.endsWith('.json') && !path.endsWith(MODEL_JSON)) return path;
  if (path.endsWith(MODEL_JSON)) return join(dirname(path), DETECTOR_JSON);
  return join(path, DETECTOR_JSON);
}

/** Writes detector.json (atomically); returns its path. */
export function saveDetector(path: string, c: CalibratedDetector, meta: { modelPath?: string; data?: Record<string, unknown> } = {}): string {
  const out = detectorJsonPath(path);
  const file: DetectorFile = {
    format: DETECTOR_FORMAT,
    version: DETECTOR_VERSION,
    description: `${c.detector.name}: flag an input when its score > ${c.calibration.threshold} ` +
      `(calibrated for a false-positive rate of ${c.calibration.fprTarget} on ${c.calibration.n} clean inputs; higher score = more suspicious)`,
    detector: c.detector.describe(),
    calibration: c.calibration,
    model: meta.modelPath !== undefined ? modelFingerprint(meta.modelPath) : null,
    data: meta.data ?? null,
    created: new Date().toISOString(),
  };
  writeJsonAtomic(out, file);
  return out;
}

export interface LoadedDetector extends CalibratedDetector {
  path: string;
  file: DetectorFile;
  /** Problems that do not stop use (e.g. the model changed since calibration). */
  warnings: string[];
}

/**
 * Reads detector.json (from a model folder, a model.json path, or the file itself). With `modelPath`,
 * checks that the model's files are the ones it was calibrated for (a warning, not an error).
 */
export function loadDetector(path: string, modelPath?: string): LoadedDetector {
  const file = detectorJsonPath(path);
  if (!existsSync(file)) {
    throw new UserError(`${file}: no such file; calibrate first: alp detect calibrate --model ${modelPath ?? dirname(file)}`);
  }
  if (!statSync(file).isFile()) throw new UserError(`${file}: expected a detector.json file, found a folder`);
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new UserError(`${file}: expected JSON, could not parse it: ${(e as Error).message}`);
  }
  const parsed = parseDetectorFile(json, file);
  const warnings: string[] = [];
  const fp = parsed.file.model as unknown;
  if (modelPath !== undefined && typeof fp === 'object' && fp !== null && typeof (fp as Record<string, unknown>)['sha256'] === 'string') {
    const now = modelFingerprint(modelPath);
    if (now.sha256 !== (fp as Record<string, unknown>)['sha256']) {
      warnings.push(`${file}: the model's files changed since this detector was calibrated; its threshold may not give the recorded false-positive rate (recalibrate: alp detect calibrate --model ${modelPath})`);
    }
  }
  return { ...parsed, path: file, warnings };
}

/** What a detector was calibrated for: text (message embeddings) or inputs as the model reads them, and their size. */
function calibratedFor(det: LoadedDetector): { modality: 'text' | 'image/audio' | null; values: number | null; model: string | null } {
  const d = det.file.data ?? {};
  const m = d['modality'];
  const modality = m === 'text' || m === 'image/audio' ? m : d['dataset'] === 'spam-assassin' ? 'text' : null;
  const shape = d['inputShape'];
  const values = Array.isArray(shape) && shape.every((v) => typeof v === 'number') ? (shape as number[]).reduce((a, b) => a * b, 1) : null;
  return { modality, values, model: typeof d['modelPath'] === 'string' ? d['modelPath'] : null };
}

/**
 * Refuses (exit 2) a detector calibrated for another kind of model than `model`: one calibrated on a
 * text model's embeddings applied to an image or audio model (or the reverse), or one calibrated on
 * inputs of another size. Its threshold would mean nothing there; the message names both.
 */
export function checkDetectorFits(det: LoadedDetector, model: tf.LayersModel, modelPath: string): void {
  const was = calibratedFor(det);
  const text = isTextModel(model);
  const is = text ? 'text' : 'image/audio';
  const source = was.model !== null ? ` (${was.model})` : '';
  if (was.modality !== null && was.modality !== is) {
    throw new UserError(`${det.path}: calibrated on a ${was.modality === 'text' ? 'text' : 'image or audio'} model${source}, but ${modelPath} is ${text ? 'a text' : 'an image or audio'} model; calibrate one for it: alp detect calibrate --model ${modelPath}`);
  }
  const input = model.inputs[0]?.shape.slice(1) ?? [];
  const values = input.every((v) => typeof v === 'number') ? (input as number[]).reduce((a, b) => a * b, 1) : null;
  if (!text && was.values !== null && values !== null && was.values !== values) {
    throw new UserError(`${det.path}: calibrated on inputs of ${was.values} values${source}, but ${modelPath} takes ${values}; calibrate one for it: alp detect calibrate --model ${modelPath}`);
  }
}

/** Loads a model folder (or model.json) and its detector.json (or `detectorPath`) as a guard. */
export async function loadGuard(modelPath: string, detectorPath?: string, o: GuardOptions = {}): Promise<{ guard: Guard; model: tf.LayersModel; warnings: string[] }> {
  const det = loadDetector(detectorPath ?? modelPath, modelPath);
  const model = await loadModel(modelPath);
  checkDetectorFits(det, model, modelPath);
  return { guard: guard(model, det, o), model, warnings: det.warnings };
}
