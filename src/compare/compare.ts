/**
 * The equal-budget comparison of training methods: every method trained on the same preset, data, seed
 * and wall-clock budget (turned into a step count by budget.ts), then audited with the same cascade and
 * measured off-distribution (eval/generalisation.ts). Results go to `compare.json` after each method, so an
 * interrupted comparison resumes where it stopped: finished methods are kept, a method in training continues
 * from its checkpoint with the step count it was given.
 */
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { auditArtifact, EXAMPLES_FILE, writeAuditArtifact } from '../artifacts/audit.js';
import { logitsOf } from '../model/classifier.js';
import { weightsHash } from '../model/fingerprint.js';
import { loadDataset, subset, type Dataset, type DatasetName } from '../data/index.js';
import type { ShiftSpec } from '../data/shift.js';
import { audit, type AuditResult, type AuditVersion } from '../eval/audit.js';
import { evaluateGeneralisation, type GeneralisationResult } from '../eval/generalisation.js';
import type { ThreatModel } from '../attack/threat-model.js';
import { METHODS, resolveConfig, type Method, type TrainConfig } from '../train/config.js';
import { runTraining, splitTrainVal } from '../train/run.js';
import type { TrainProgress } from '../train/trainer.js';
import { writeJsonAtomic } from '../util/atomic.js';
import { OptionError, UserError } from '../util/errors.js';
import { configForSteps, measurePace, stepsForBudget, type Pace } from './budget.js';

export const COMPARE_SCHEMA = 'alp.compare/1';

export interface CompareOptions {
  out: string;
  /** Seconds of training per method (the probe that measures its pace is not counted). */
  budgetSeconds: number;
  methods?: readonly Method[];
  preset?: string;
  /** Config fields every method shares (dataset, ε, seed, …); the method is set per run. */
  overrides?: Partial<TrainConfig>;
  auditVersion?: AuditVersion;
  /** Test examples audited and shifted (the first N). */
  testExamples?: number;
  shifts?: readonly ShiftSpec[];
  /** Out-of-distribution test set for the confidence measurement, or null for none. */
  ood?: Dataset | null;
  dataDir?: string;
  resume?: boolean;
  probeSteps?: number;
  /** Library and backend versions recorded in each method's audit.json (the CLI passes its own). */
  versions?: Record<string, string>;
  onPhase?: (method: Method, phase: string) => void;
  onTrainProgress?: (method: Method, p: TrainProgress) => void;
  onAuditProgress?: (method: Method, p: { attack: string; done: number; total: number; robust: number }) => void;
}

export interface MethodAudit {
  cleanAccuracy: number;
  worstCaseAccuracy: number;
  cascade: Array<{ attack: string; robustAccuracyAfter: number; fooledHere: number; seconds: number }>;
  epsSweep: AuditResult['epsSweep'];
  findings: Array<{ id: string; status: string; title: string; detail: string }>;
  seconds: number;
}

export interface MethodResult {
  method: Method;
  folder: string;
  config: TrainConfig;
  pace: Pace;
  steps: number;
  trainSeconds: number;
  /** False when training stopped before its steps (interrupted); such a model is not comparable. */
  complete: boolean;
  audit: MethodAudit;
  generalisation: GeneralisationResult;
}

export interface CompareResult {
  schema: typeof COMPARE_SCHEMA;
  dataset: string;
  threat: ThreatModel;
  preset: string;
  seed: number;
  budgetSeconds: number;
  auditVersion: AuditVersion;
  testExamples: number;
  methods: MethodResult[];
  /** The method(s) with the highest audited worst-case accuracy among complete runs (several on a tie), once all have run. */
  best: { methods: Method[]; worstCaseAccuracy: number } | null;
}

export const COMPARE_FILE = 'compare.json';
/** Per method, written before training: the step count it was given, so a resume keeps it. */
const BUDGET_FILE = 'budget.json';

function readJson<T>(path: string): T | null {
  if (!existsSync(path)) return null;
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as T;
  } catch (e) {
    throw new UserError(`${path}: not valid JSON (${(e as Error).message}); delete it or run without --resume`);
  }
}

function summariseAudit(r: AuditResult): MethodAudit {
  return {
    cleanAccuracy: r.cleanAccuracy,
    worstCaseAccuracy: r.worstCaseAccuracy,
    cascade: r.cascade.map((s) => ({ attack: s.attack, robustAccuracyAfter: s.robustAccuracyAfter, fooledHere: s.fooledHere, seconds: s.seconds })),
    epsSweep: r.epsSweep,
    findings: r.findings.map((f) => ({ id: f.id, status: f.status, title: f.title, detail: f.detail })),
    seconds: r.seconds,
  };
}

function bestOf(methods: MethodResult[]): CompareResult['best'] {
  const done = methods.filter((m) => m.complete);
  if (done.length === 0) return null;
  const top = Math.max(...done.map((m) => m.audit.worstCaseAccuracy));
  return { methods: done.filter((m) => m.audit.worstCaseAccuracy === top).map((m) => m.method), worstCaseAccuracy: top };
}

/** Trains, audits and measures every method in turn; returns (and writes) the comparison. */
export async function compareMethods(o: CompareOptions): Promise<CompareResult> {
  const methods = o.methods ?? METHODS;
  if (methods.length === 0) throw new UserError('compare: expected at least one method');
  const unknown = methods.filter((m) => !METHODS.includes(m));
  if (unknown.length > 0) throw new OptionError(`{methods}: expected names among ${METHODS.join(', ')}, got ${unknown.join(', ')}`);
  const preset = o.preset ?? 'quick';
  const base = resolveConfig(preset, { ...o.overrides, method: 'standard' });
  const threat: ThreatModel = { norm: base.norm, eps: base.eps };
  const auditVersion = o.auditVersion ?? 'standard';
  const dataOpts = o.dataDir !== undefined ? { dataDir: o.dataDir } : {};
  const full = loadDataset(base.dataset as DatasetName, 'train', dataOpts);
  const testFull = loadDataset(base.dataset as DatasetName, 'test', dataOpts);
  const test = subset(testFull, 0, Math.min(o.testExamples ?? 1000, testFull.count));
  const file = join(o.out, COMPARE_FILE);
  const previous = o.resume === true ? readJson<CompareResult>(file) : null;
  if (previous !== null && (previous.schema !== COMPARE_SCHEMA || previous.dataset !== base.dataset || previous.budgetSeconds !== o.budgetSeconds || previous.seed !== base.seed || previous.preset !== preset)) {
    throw new UserError(`${file}: belongs to another comparison (dataset, preset, seed or budget differ); choose another --out`);
  }
  const result: CompareResult = {
    schema: COMPARE_SCHEMA, dataset: base.dataset, threat, preset, seed: base.seed, budgetSeconds: o.budgetSeconds,
    auditVersion, testExamples: test.count, methods: [], best: null,
  };
  for (const method of methods) {
    const kept = previous?.methods.find((m) => m.method === method && m.complete);
    if (kept !== undefined) {
      result.methods.push(kept);
      continue;
    }
    const folder = join(o.out, method);
    const methodConfig = resolveConfig(preset, { ...o.overrides, method, evalEvery: 0 });
    const { train, val } = splitTrainVal(full, methodConfig);
    // A resumed method keeps the step count it was given; a new one measures its pace first.
    let budget = o.resume === true ? readJson<{ pace: Pace; steps: number; config: TrainConfig }>(join(folder, BUDGET_FILE)) : null;
    if (budget === null) {
      o.onPhase?.(method, 'measuring pace');
      const pace = await measurePace(methodConfig, train, val, o.probeSteps ?? 8);
      const steps = stepsForBudget(pace, o.budgetSeconds);
      budget = { pace, steps, config: configForSteps(methodConfig, train.count, steps) };
      writeJsonAtomic(join(folder, BUDGET_FILE), budget);
    }
    o.onPhase?.(method, `training ${budget.steps} steps (${budget.pace.secondsPerStep.toFixed(3)} s/step)`);
    const run = await runTraining(budget.config, {
      out: folder, resume: o.resume === true, checkpointEvery: 200, ...dataOpts,
      ...(o.onTrainProgress !== undefined ? { onProgress: (p: TrainProgress) => o.onTrainProgress?.(method, p) } : {}),
    });
    o.onPhase?.(method, `audit (${auditVersion})`);
    const a = await audit(run.model, test, {
      threat, version: auditVersion, seed: base.seed, statePath: join(folder, 'audit.state.json'),
      ...(o.onAuditProgress !== undefined ? { onProgress: (p) => o.onAuditProgress?.(method, p) } : {}),
    });
    // The same audit.json + examples.f32 as `alp audit` writes, so `alp report` reads each method's folder.
    writeAuditArtifact(join(folder, 'audit.json'), join(folder, EXAMPLES_FILE), auditArtifact(a, test, logitsOf(run.model), {
      model: folder, weightsHash: weightsHash(join(folder, 'model.json')), seed: base.seed, versions: o.versions ?? {},
    }));
    rmSync(join(folder, 'audit.state.json'), { force: true });
    o.onPhase?.(method, 'generalisation');
    const generalisation = evaluateGeneralisation(run.model, test, {
      seed: base.seed, ...(o.shifts !== undefined ? { shifts: o.shifts } : {}), ...(o.ood ? { ood: o.ood } : {}),
    });
    run.model.dispose();
    result.methods.push({
      method, folder: method, config: budget.config, pace: budget.pace, steps: run.state.step,
      trainSeconds: run.state.elapsedMs / 1000, complete: run.state.done, audit: summariseAudit(a), generalisation,
    });
    writeJsonAtomic(file, { ...result, best: null });
  }
  result.best = bestOf(result.methods);
  writeJsonAtomic(file, result);
  return result;
}
