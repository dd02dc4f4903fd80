/** Adversarial-example detection: detectors, calibration, metrics, adaptive attack, evaluation, guard, HTTP. */
export { DETECTOR_KINDS, inChunks, type Detector, type DetectorConfig, type DetectorKind, type Surrogate, type SurrogateOptions } from './detector.js';
export { NOISE_DISTS, drawNoise, noisyCopies, type NoiseDist, type NoiseSpec } from './noise.js';
export { MaxSoftmaxDetector, MarginDetector, maxSoftmaxScore, marginScore } from './baselines.js';
export { LogitDiscrepancyDetector, type LogitDiscrepancyOptions, type LogitDiscrepancyConfig, type InnerAttackSpec } from './logit-discrepancy.js';
export { OddsAreOddDetector, type OddsOptions, type OddsConfig, type OddsFit, type OddsStats } from './odds-are-odd.js';
export { buildDetector, detectorFromConfig, type DetectorSettings } from './registry.js';
export {
  calibrateThreshold, checkCalibrationSize, calibrateDetector, scoreDataset, flags, parseDetectorFile,
  DETECTOR_JSON, type Calibration, type CalibratedDetector, type CalibrateOptions, type CalibrationReport, type DetectorFile, type ParsedDetectorFile,
} from './calibrate.js';
export { saveDetector, loadDetector, loadGuard, modelFingerprint, detectorJsonPath, type LoadedDetector } from './detector-files.js';
export { rocAuc, tprAtFpr, rocCurve, rateAbove, scoreStats, type OperatingPoint, type RocCurve, type ScoreStats } from './metrics.js';
export { AdaptiveDetectorAttack, type AdaptiveOptions, type AdaptiveResult, type TargetPool } from './adaptive.js';
export {
  evaluateDetection, defaultDetectAttacks, prepareDetection, detectPart, joinDetectParts, summariseDetection,
  type DetectEvalOptions, type DetectPart, type PreparedDetector, type ModelDetectionResult, type DetectorEvaluation, type AttackDetection,
} from './evaluate.js';
export { guard, type Guard, type GuardDecision, type GuardOptions } from './guard.js';
export { serveGuard, SERVE_HOST, type GuardServer, type ServeOptions } from './serve.js';
export { readInputs, decodePng, type InputBatch, type DecodedPng } from './inputs.js';
export { textDetectorTarget, calibrateTextDetector, type TextDetectorTarget } from './text-target.js';
export {
  evaluateTextDetection, runTextDetection, prepareTextDetection, textDetectPart, joinTextDetectParts, summariseTextDetection, textDetectorSettings,
  type TextDetectEvalOptions, type TextDetectPart, type PreparedTextDetector, type CalibratedTextDetectors,
} from './text-evaluate.js';
