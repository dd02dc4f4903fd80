/**
 * alp — Adversarial Logit Pairing and honest robustness evaluation for TensorFlow.js.
 *
 * The layout follows the pipeline: data → model → attack → loss → train → eval → report.
 */
export { setupBackend, installGradientFixes, BACKEND_CHOICES, type BackendChoice } from './backend/select.js';
export { installWasmKernels } from './backend/wasm-kernels.js';

export * from './data/index.js';

export { buildArch, madryCnn, fastCnn, mlp, audioCnn, ARCH_NAMES, type ArchName, type ArchOptions } from './model/architectures.js';
export { logitsOf, predict, type LogitsFn } from './model/classifier.js';
export { adaptModel, parseInputRange, type AdaptOptions, type Adapted } from './model/adapt.js';
export { saveModel, loadModel, fileSaver, fileLoader, lastLayerActivation, stripSoftmax, describeModelFile, type LoadModelOptions } from './model/io.js';
export { loadZooModel } from './model/zoo.js';
export { zooRoot, zooNames, zooModelDir, resolveModelRef } from './model/zoo-paths.js';
export { readCard, listZoo, checkZooWeights, compareWithCard, cardReadme, type ZooCard, type ZooEntry, type ZooCheck } from './model/zoo-card.js';
export { GraphModelLayer, graphLayerOf, graphModelFromArtifacts, type GraphLoadOptions } from './model/graph-model.js';
export { gradientSupport, unverifiedLayers, gradientWarning, VERIFIED_LAYERS, VERIFIED_ACTIVATIONS, type GradientStatus, type LayerGradientSupport } from './model/gradient-support.js';
export { checkInputGradient, type GradientCheckOptions, type GradientCheckResult } from './model/gradient-check.js';
export { AlpBatchNormalization, batchNormalization } from './backend/batch-normalization.js';
export { AlpLayerNormalization, layerNormalization } from './backend/layer-normalization.js';

export * from './attack/index.js';
export * from './loss/index.js';

export { DEFAULTS, PRESETS, PRESET_NAMES, METHODS, resolveConfig, validateConfig, ConfigError, type TrainConfig, type Method, type PresetName, type OptimizerName, type Schedule } from './train/config.js';
export { trainModel, quickEval, type TrainState, type TrainOptions, type TrainProgress, type EvalPoint } from './train/trainer.js';
export { makeAdversarial, methodLoss } from './train/methods.js';
export { runTraining, splitTrainVal, prepareOutput, type RunOptions, type RunResult } from './jobs/train.js';
export { saveCheckpoint, loadCheckpoint } from './train/checkpoint.js';
export { getOptimizerState, setOptimizerState } from './train/optimizer-state.js';
export { learningRate, trainingEps } from './train/schedule.js';

export { evaluateRobustness, attackDataset, epsSweep, pgdSuite, predictAll, type EvalResult, type AttackSummary, type SweepPoint, type EvalOptions, type EvalProgress } from './eval/evaluate.js';
export { compareMethods, type CompareOptions, type CompareProgress, type CompareResult, type CompareShard } from './jobs/compare.js';
export { datasetDigest, dataRecord, type DataRecord } from './data/digest.js';
export { buildSuite, ATTACK_NAMES, type SuiteSpec, type AttackName } from './eval/suite.js';
export { fitSuiteToClasses, refuseUnfit, minClasses, type Replacement } from './eval/few-classes.js';
export { parseAugment, augmentBatch, type Augment } from './data/augment.js';
export { audit, planAttacks, AUDIT_PLANS, AUDIT_VERSIONS, type AuditVersion, type AuditOptions, type AuditResult } from './eval/audit.js';
// Evaluation in parts: shards (--shard K/N), workers (--workers N) and their merge give the unsharded result.
export { evalPart, summarizeEval, sweepPart, summarizeSweep, type EvalPart, type SweepPart } from './eval/evaluate.js';
export { auditPart, finishAudit, type AuditPart } from './eval/audit.js';
export { parseShard, shardRange, type ShardSpec, type ShardRecord } from './artifacts/shard.js';
export { mergeShards, type MergedRun } from './jobs/merge.js';
export { detectImageModel, detectTextModel, type DetectModelJob, type DetectModelRun } from './jobs/detect-eval.js';
export { mergeDetectModels, type DetectEvalShard, type DetectShardModel } from './jobs/detect-shard.js';
export { runVersions } from './jobs/header.js';
export { evalPartParallel, auditPartParallel, attackParallel, type ParallelOptions } from './jobs/evaluate-parallel.js';
export { evaluateDetectionParallel, detectPartParallel, evaluateTextDetectionParallel, textDetectPartParallel, type DetectParallelOptions, type TextDetectParallelOptions } from './jobs/detect-parallel.js';
export { runCascade, type CascadeOptions, type CascadeResult, type CascadeStep } from './eval/cascade.js';

export { Rng } from './util/rng.js';
export { UserError, DivergedError, OutputExistsError, CorruptFileError, OptionError, WorkerCrashedError, EXIT, type ExitCode } from './util/errors.js';
export { WorkerPool, defaultWorkers, checkWorkers, transfer, type PoolOptions, type Handler, type Handlers } from './parallel/pool.js';
export { yieldToEventLoop, InterruptedError, checkpointInterrupt } from './util/interrupt.js';
export { guardResultFile, guardReplace, defaultResultPath, evalIdentity, auditIdentity, detectEvalIdentity, compareIdentity, type ResultKind, type ResultIdentity } from './artifacts/outputs.js';

export { writeReport, buildReport, dataPathFor, type ReportOptions, type ReportData, type ModelReport, type WrittenReport } from './report/report.js';
export { loadRuns, type RunData } from './report/runs.js';

export * from './detect/index.js';
export {
  buildDetectionReport, sideBySide, writeDetectEvalArtifact, parseDetectEval, DETECT_EVAL_FIELDS, DETECT_EVAL_SCHEMA,
  type DetectionReport, type SideBySideRow, type RowNumbers, type DetectEvalData,
} from './artifacts/detect-eval.js';
