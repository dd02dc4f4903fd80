/**
 * alp in the browser (`alp/browser`): models and detectors loaded by URL, the threat models, the
 * attacks (FGSM, PGD, APGD, Square, transfer), the detectors, calibration thresholds and the guard —
 * the same code the Node build runs, with no Node built-ins in its import graph (checked by
 * bundle.test.ts). `tf` is re-exported so a page uses the very TF.js instance alp's code runs on.
 * dist/browser/alp.js is this module prebuilt as one ESM file with TF.js inside.
 */
export * as tf from '@tensorflow/tfjs';
export { chooseBackend, BROWSER_BACKENDS, type BrowserBackend, type BackendChoice } from './backend.js';
export { decodeImageFile, toUnit } from './decode-image.js';
export { loadModelFromUrl, loadZooModelFromUrl, loadDetectorFromUrl, loadGuardFromUrl, detectorUrlOf } from './load.js';

export { logitsOf, predict, type LogitsFn } from '../model/classifier.js';
export { adaptModel, type AdaptOptions, type Adapted } from '../model/adapt.js';
export { GraphModelLayer, graphLayerOf, graphModelFromArtifacts, type GraphLoadOptions } from '../model/graph-model.js';
export { UserError, isUserError } from '../util/errors.js';

export type { Attack } from '../attack/attack.js';
export { Fgsm, type FgsmOptions } from '../attack/fgsm.js';
export { Pgd, type PgdOptions } from '../attack/pgd.js';
export { Apgd, APGD_LOSSES, type ApgdLoss, type ApgdOptions } from '../attack/apgd.js';
export { Square, type SquareOptions } from '../attack/square.js';
export { Transfer, type TransferOptions } from '../attack/transfer.js';
export type { AttackResult } from '../attack/gradient-attack.js';
export { margin, objective, isSuccess, OBJECTIVES, type ObjectiveName } from '../attack/objectives.js';
export { dlr, dlrTargeted } from '../attack/dlr.js';
export { runAttack, attackRows, predictDataset, type AttackRunOptions, type VerifiedResult } from '../attack/runner.js';
export { misclassified, targetHit, undetected, allOf, type Criterion, type CriterionInput } from '../attack/criteria.js';
export { LINF, L2, NORMS, UNIT_BOX, boundsOf, normOf, projectToThreat, validateThreatModel, type Bounds, type Norm, type NormName, type ThreatModel } from '../attack/threat-model.js';

export { DETECTOR_KINDS, type Detector, type DetectorConfig, type DetectorKind } from '../detect/detector.js';
export { MaxSoftmaxDetector, MarginDetector, maxSoftmaxScore, marginScore } from '../detect/baselines.js';
export { LogitDiscrepancyDetector, type LogitDiscrepancyOptions } from '../detect/logit-discrepancy.js';
export { OddsAreOddDetector, type OddsOptions } from '../detect/odds-are-odd.js';
export { buildDetector, detectorFromConfig, type DetectorSettings } from '../detect/registry.js';
export {
  calibrateThreshold, checkCalibrationSize, flags, parseDetectorFile, DETECTOR_JSON,
  type Calibration, type CalibratedDetector, type DetectorFile, type ParsedDetectorFile,
} from '../detect/calibrate.js';
export { guard, type Guard, type GuardDecision, type GuardOptions } from '../detect/guard.js';
