/**
 * The pool handlers of parallel evaluation and audit (`--workers N`): each worker holds a replica of
 * the model (and of a transfer surrogate) and the dataset, and evaluates the slices [start, end) it is
 * sent exactly as a shard does (eval/evaluate.ts evalPart, eval/audit.ts auditPart), or the test rows
 * of a detect eval as the in-thread run does (detect/evaluate.ts detectPart, detect/text-evaluate.ts
 * textDetectPart).
 */
import * as tf from '@tensorflow/tfjs';
import { gatherRows, runAttack } from '../attack/runner.js';
import { Transfer } from '../attack/transfer.js';
import type { Dataset } from '../data/dataset.js';
import { auditPart, type AuditOptions, type AuditPart } from '../eval/audit.js';
import { evalPart, sweepPart, type EvalPart, type SweepConfig, type SweepPart } from '../eval/evaluate.js';
import { buildSuite, survivorsMask, type SuiteSpec } from '../eval/suite.js';
import { detectPart, type DetectPart } from '../detect/evaluate.js';
import type { Detector } from '../detect/detector.js';
import type { TargetPool } from '../detect/adaptive.js';
import type { Calibration } from '../detect/calibrate.js';
import { detectorFromConfig } from '../detect/registry.js';
import { textDetectPart, type TextDetectEvalOptions, type TextDetectPart } from '../detect/text-evaluate.js';
import { textDetectorTarget, type TextDetectorTarget } from '../detect/text-target.js';
import { logitsOf } from '../model/classifier.js';
import type { DetectSetupPayload, TextDetectSetupPayload } from './detect-parallel.js';
import { transfer, type Handlers } from '../parallel/protocol.js';
import { loadExactReplica, type ModelPayload } from '../parallel/replica.js';

let model: tf.LayersModel | undefined;
let surrogate: tf.LayersModel | undefined;
let data: Dataset | undefined;
let detection: { label: string; detectors: Array<{ detector: Detector; calibration: Calibration; pool: TargetPool }>; options: DetectSetupPayload['options'] } | undefined;
let textDetection: { label: string; target: TextDetectorTarget; detectors: Array<{ detector: Detector; calibration: Calibration }>; options: TextDetectEvalOptions } | undefined;

/** What every audit worker needs to rebuild the cascade (AuditOptions without callbacks and state). */
export type AuditTaskOptions = Pick<AuditOptions, 'threat' | 'version' | 'seed' | 'batchSize' | 'keepExamples'> & {
  transfer?: { seed: number; surrogateName: string };
};

function ready(): { model: tf.LayersModel; ds: Dataset } {
  if (model === undefined || data === undefined) throw new Error("the worker has no model: send 'load' first");
  return { model, ds: data };
}

export const handlers: Handlers = {
  load: async (p: { model: ModelPayload; surrogate?: ModelPayload; ds: Dataset }) => {
    model?.dispose();
    surrogate?.dispose();
    model = await loadExactReplica(p.model);
    surrogate = p.surrogate !== undefined ? await loadExactReplica(p.surrogate) : undefined;
    data = p.ds;
    // Detectors set up for the previous model go with it.
    detection = undefined;
    textDetection = undefined;
    return true;
  },
  evalSlice: async (p: { suite: SuiteSpec; range: [number, number]; batchSize?: number; sweep?: SweepConfig }): Promise<{ part: EvalPart; sweep: SweepPart | null }> => {
    const { model, ds } = ready();
    const eo = p.batchSize !== undefined ? { batchSize: p.batchSize } : {};
    const part = await evalPart(model, ds, buildSuite(p.suite), p.range, { ...eo, onSurvivors: survivorsMask(p.suite) });
    return { part, sweep: p.sweep !== undefined ? await sweepPart(model, ds, p.sweep, p.range, eo) : null };
  },
  auditSlice: async (p: { options: AuditTaskOptions; range: [number, number]; modelChecks: boolean }) => {
    const { model, ds } = ready();
    const { transfer: t, ...rest } = p.options;
    if (t !== undefined && surrogate === undefined) throw new Error('auditSlice: a transfer attack without a surrogate replica');
    const extraAttacks = t !== undefined ? [new Transfer({ threat: rest.threat, surrogate: logitsOf(surrogate as tf.LayersModel), seed: t.seed, surrogateName: t.surrogateName })] : [];
    const part: AuditPart = await auditPart(model, ds, { ...rest, extraAttacks }, p.range, { modelChecks: p.modelChecks });
    return part;
  },
  attackSlice: (p: { suite: SuiteSpec; range: [number, number]; target?: number }): unknown => {
    const { model, ds } = ready();
    const [attack] = buildSuite(p.suite);
    if (attack === undefined) throw new Error('attackSlice: no attack in the suite');
    const ids = Array.from({ length: p.range[1] - p.range[0] }, (_, i) => p.range[0] + i);
    const { x, y } = gatherRows(ds, ids);
    const targets = p.target !== undefined ? (tf.fill([ids.length], p.target, 'int32') as tf.Tensor1D) : undefined;
    try {
      const r = runAttack(attack, logitsOf(model), x, y, { ids, ...(targets !== undefined ? { targets } : {}) });
      const data = Float32Array.from(r.adversarial.dataSync() as Float32Array);
      r.adversarial.dispose();
      return transfer({ data, success: r.success, pred: r.pred, perturbation: r.perturbation }, [data.buffer]);
    } finally {
      tf.dispose([x, y, ...(targets !== undefined ? [targets] : [])]);
    }
  },
  /** The calibrated detectors of a detect eval, rebuilt from their configs (fitted statistics included). */
  detectSetup: (p: DetectSetupPayload) => {
    detection = { label: p.label, options: p.options, detectors: p.detectors.map((d, i) => ({ detector: detectorFromConfig(d.config, `detector ${i}`), calibration: d.calibration, pool: d.pool })) };
    return true;
  },
  detectSlice: async (p: { range: [number, number] }): Promise<DetectPart> => {
    const { model, ds } = ready();
    if (detection === undefined) throw new Error("detectSlice: the worker has no detectors: send 'detectSetup' first");
    return detectPart(logitsOf(model), detection.label, ds, detection.detectors, detection.options, p.range);
  },
  /** A text detect eval: the replica split at its embedding, the calibrated detectors, the candidate set built again from its spec. */
  textDetectSetup: (p: TextDetectSetupPayload) => {
    const { model, ds } = ready();
    const target = textDetectorTarget(model);
    const { candidates, ...options } = p.options;
    textDetection = {
      label: p.label, target, options: { ...options, candidates: target.candidates(candidates, ds.vocabulary) },
      detectors: p.detectors.map((d, i) => ({ detector: detectorFromConfig(d.config, `detector ${i}`), calibration: d.calibration })),
    };
    return true;
  },
  textDetectSlice: async (p: { range: [number, number] }): Promise<TextDetectPart> => {
    const { ds } = ready();
    if (textDetection === undefined) throw new Error("textDetectSlice: the worker has no detectors: send 'textDetectSetup' first");
    return textDetectPart(textDetection.target, textDetection.label, ds, textDetection.detectors, textDetection.options, p.range);
  },
  numTensors: async () => (await import('@tensorflow/tfjs')).memory().numTensors,
};
