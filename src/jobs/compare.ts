/**
 * The equal-budget comparison of training methods: every method trained on the same preset, data, seed
 * and time budget (CPU seconds, turned into a step count by budget.ts), then audited with the same cascade and
 * measured off-distribution (eval/generalisation.ts). Results go to `compare.json` after each method, so an
 * interrupted comparison resumes where it stopped: finished methods are kept, a method in training continues
 * from its checkpoint with the step count it was given.
 */
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { auditArtifact, EXAMPLES_FILE, writeAuditArtifact } from '../artifacts/audit.js';
import { logitsOf } from '../model/classifier.js';
import { weightsHash } from '../model/fingerprint.js';
import { subset, type Dataset } from '../data/index.js';
import { dataKindOf, loadSource } from '../data/resolve.js';
import { loaderArgv, parseDataSource, type LoaderOptions } from '../data/source.js';
import { appliedDefaults, dataDefaults } from '../train/data-defaults.js';
import { DEFAULT_SHIFTS, type ShiftSpec } from '../data/shift.js';
import { audit, planReplacements, type AuditVersion } from '../eval/audit.js';
import { evaluateGeneralisation, type GeneralisationResult } from '../eval/generalisation.js';
import type { ThreatModel } from '../attack/threat-model.js';
import { METHODS, resolveConfig, type ConfigOverrides, type Method, type TrainConfig } from '../train/config.js';
import { runTraining, splitTrainVal } from './train.js';
import { trainArgvFor } from '../train/config-argv.js';
import type { TrainProgress } from '../train/trainer.js';
import { writeJsonAtomic } from '../util/atomic.js';
import { dataRecord, type DataRecord } from '../data/digest.js';
import { auditIdentity, compareIdentity, guardReplace, guardResultFile, readResultIdentity } from '../artifacts/outputs.js';
import { runVersions } from './header.js';
import { runHash, shardName, shardRange, shardRecord, type ShardRecord, type ShardSpec } from '../artifacts/shard.js';
import { prepareOutput } from './train.js';
import { OptionError, OutputExistsError, UserError } from '../util/errors.js';
import { configForSteps, cpuSeconds, measurePace, stepsForBudget, type Pace } from '../compare/budget.js';
import { bestOf, COMPARE_FILE, COMPARE_SCHEMA, shiftsFor, summariseAudit, type CompareResult, type MethodResult } from '../compare/result.js';

/** compare.json's `shard` field: which methods of the run's list this shard ran. */
export interface CompareShard extends ShardRecord {
  methods: Method[];
}

export { COMPARE_FILE, COMPARE_SCHEMA, type CompareResult, type MethodAudit, type MethodResult } from '../compare/result.js';

export interface CompareOptions {
  out: string;
  /** Seconds of training per method, as CPU seconds of this process (budget.ts; the probe that measures its pace is not counted). */
  budgetSeconds: number;
  methods?: readonly Method[];
  preset?: string;
  /** Config fields every method shares (dataset, ε, seed, …); the method is set per run. */
  overrides?: ConfigOverrides;
  auditVersion?: AuditVersion;
  /** Test examples audited and shifted (the first N). */
  testExamples?: number;
  shifts?: readonly ShiftSpec[];
  /** Out-of-distribution test set for the confidence measurement, or null for none. */
  ood?: Dataset | null;
  dataDir?: string;
  /** How a user's own data at `overrides.dataset` is read (data/source.ts). */
  loaderOptions?: LoaderOptions;
  /** Continue the comparison in `out` — only one of the same configuration (data, preset, seed, budget, threat, audit, n, methods, shifts, OOD set). */
  resume?: boolean;
  /** Replace a comparison in `out`: its compare.json and each method folder's run and result files are deleted first. */
  force?: boolean;
  probeSteps?: number;
  /** Run only shard K of N of the methods (`alp merge` joins the shards' compare.shard-K-of-N.json). */
  shard?: ShardSpec;
  /** The command line that ran the comparison, recorded beside its numbers. */
  command?: string;
  /** The version header of each method's audit.json and train.json (default: runVersions(), this process's; the CLI passes its own). */
  versions?: Record<string, string>;
  onPhase?: (method: Method, phase: string) => void;
  onTrainProgress?: (method: Method, p: TrainProgress) => void;
  onAuditProgress?: (method: Method, p: { attack: string; done: number; total: number; robust: number }) => void;
  /**
   * Progress of the whole comparison, one event per phase of each method (pace, training, audit,
   * generalisation) and per training step / audit batch, for callers that want one callback.
   */
  onProgress?: (e: CompareProgress) => void;
}

/** One event of `onProgress`: which method, which phase, and how far (done of total, where known). */
export interface CompareProgress {
  method: Method;
  phase: 'pace' | 'train' | 'audit' | 'generalisation';
  done: number;
  total: number;
}

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

/**
 * The output rule for a comparison (docs/outputs-and-resume.md): `force` clears the old one; `resume`
 * continues only the same configuration; otherwise a folder that holds a comparison, or a method folder
 * that holds a model, is refused (exit 6) — a second comparison never silently replaces the first.
 */
function guardComparison(o: CompareOptions, file: string, methods: readonly Method[], want: CompareResult): void {
  if (o.force === true) {
    rmSync(file, { force: true });
    for (const m of methods) {
      prepareOutput(join(o.out, m), { force: true });
      rmSync(join(o.out, m, BUDGET_FILE), { force: true });
    }
    return;
  }
  const have = readResultIdentity(file, 'compare');
  const wanted = compareIdentity(want as unknown as Record<string, unknown>);
  if (o.resume === true) {
    if (have !== undefined) guardReplace(file, 'comparison', have, wanted, { weights: false, resume: true });
    return;
  }
  if (have !== undefined) {
    throw new OutputExistsError(`${file}: holds a comparison already; set {resume} to continue it, {force} to replace it, or choose another {out}`);
  }
  for (const m of methods) prepareOutput(join(o.out, m));
}

/** Trains, audits and measures every method in turn; returns (and writes) the comparison. */
export async function compareMethods(o: CompareOptions): Promise<CompareResult & { shard?: CompareShard }> {
  const all = o.methods ?? METHODS;
  if (all.length === 0) throw new UserError('compare: expected at least one method');
  const unknown = all.filter((m) => !METHODS.includes(m));
  if (unknown.length > 0) throw new OptionError(`{methods}: expected names among ${METHODS.join(', ')}, got ${unknown.join(', ')}`);
  // One folder per method: a method named twice would train twice into the same folder.
  const twice = all.filter((m, i) => all.indexOf(m) !== i);
  if (twice.length > 0) throw new OptionError(`{methods}: expected each method once, got ${[...new Set(twice)].join(', ')} more than once`);
  // A shard trains, audits and measures its slice of the methods (alp merge joins the slices in order).
  const methods = o.shard !== undefined ? all.slice(...shardRange(all.length, o.shard)) : all;
  if (methods.length === 0) throw new OptionError(`{shard}: shard ${o.shard?.index}/${o.shard?.count} holds no method (${all.length} methods for ${o.shard?.count} shards); use at most ${all.length} shards`);
  if (!(o.budgetSeconds > 0)) throw new OptionError(`{budgetSeconds}: expected a number > 0, got ${o.budgetSeconds}`);
  const preset = o.preset ?? 'quick';
  const first = resolveConfig(preset, { ...o.overrides, method: 'standard' });
  const dataOpts = o.dataDir !== undefined ? { dataDir: o.dataDir } : {};
  // Built-in or a user's data (data/resolve.ts); its kind sets defaults the preset and options may replace.
  const source = parseDataSource(first.dataset, o.loaderOptions);
  const loaded = await loadSource(source, 'train', dataOpts);
  const full = loaded.ds;
  const testFull = (await loadSource(source, 'test', dataOpts)).ds;
  // Every method's config as `alp train` would resolve it on this data: its path as read, its kind's defaults.
  const dataFields = { ...o.overrides, ...(source.kind === 'path' ? { dataset: source.path } : {}) };
  const kind = dataDefaults(dataKindOf(full), full.shape);
  const kindDefaults = kind.fields;
  const base = resolveConfig(preset, { ...dataFields, method: 'standard' }, kindDefaults);
  const threat: ThreatModel = { norm: base.norm, eps: base.eps };
  const auditVersion = o.auditVersion ?? 'standard';
  const test = subset(testFull, 0, Math.min(o.testExamples ?? 1000, testFull.count));
  const shifts = shiftsFor(test, o.shifts);
  if (o.ood && o.ood.shape.join('x') !== test.shape.join('x')) {
    throw new OptionError(`{ood} ${o.ood.name}: inputs of [${o.ood.shape.join(', ')}], but ${test.name}'s are [${test.shape.join(', ')}]; choose an out-of-distribution set of the same shape, or none`);
  }
  const file = join(o.out, o.shard !== undefined ? shardName('compare', o.shard, '.json') : COMPARE_FILE);
  const testData = dataRecord(test, o.dataDir);
  const result: CompareResult & { shard?: CompareShard } = {
    schema: COMPARE_SCHEMA, dataset: base.dataset, data: testData, threat, preset, seed: base.seed, budgetSeconds: o.budgetSeconds,
    auditVersion, testExamples: test.count, methodList: [...all], shifts: o.shifts !== undefined ? JSON.stringify(o.shifts) : 'default', ood: o.ood?.name ?? null,
    ...(o.command !== undefined ? { command: o.command } : {}), methods: [], best: null,
  };
  if (o.shard !== undefined) {
    const run = runHash({ command: 'compare', ...compareIdentity(result as unknown as Record<string, unknown>).settings, data: testData.digest, overrides: o.overrides ?? {}, probeSteps: o.probeSteps ?? null });
    result.shard = { ...shardRecord(o.shard, all.length, run, testData), methods: [...methods] };
  }
  guardComparison(o, file, methods, result);
  const previous = o.resume === true ? readJson<CompareResult>(file) : null;
  // Written before any training, so an interrupted comparison always says what it was (a resume is checked against it).
  if (previous === null) writeJsonAtomic(file, result);
  const kept = (method: Method): MethodResult | undefined => previous?.methods.find((m) => m.method === method && m.complete);
  type Budget = { pace: Pace; steps: number; config: TrainConfig };
  const budgets = new Map<Method, Budget>();
  // Every pace is measured first, back to back, so all methods are timed under the same load: measured
  // just before each method trains, a pace would carry whatever else the machine was doing at that time.
  // Two rounds, the second in reverse order, averaged, so a load that drifts during the probes weighs on
  // every method alike; a discarded probe first compiles the kernels the first method would otherwise pay
  // for. A resumed method keeps the step count it was given.
  const probeSteps = o.probeSteps ?? 24;
  const warmup = Math.min(4, Math.floor(probeSteps / 3));
  const toMeasure: Array<{ method: Method; config: TrainConfig; train: Dataset; val: Dataset | null }> = [];
  for (const method of methods) {
    if (kept(method) !== undefined) continue;
    const methodConfig = resolveConfig(preset, { ...dataFields, method, evalEvery: 0 }, kindDefaults);
    const previousBudget = o.resume === true ? readJson<Budget>(join(o.out, method, BUDGET_FILE)) : null;
    if (previousBudget !== null) budgets.set(method, previousBudget);
    else toMeasure.push({ method, config: methodConfig, ...splitTrainVal(full, methodConfig) });
  }
  if (toMeasure.length > 0) {
    const first = toMeasure[0] as (typeof toMeasure)[number];
    o.onPhase?.(first.method, 'warming up the kernels (not counted)');
    await measurePace(first.config, first.train, first.val, probeSteps, warmup);
    const rounds = new Map<Method, Pace[]>();
    for (const order of [toMeasure, [...toMeasure].reverse()]) {
      for (const m of order) {
        o.onPhase?.(m.method, 'measuring pace');
        o.onProgress?.({ method: m.method, phase: 'pace', done: 0, total: probeSteps });
        const pace = await measurePace(m.config, m.train, m.val, probeSteps, warmup);
        rounds.set(m.method, [...(rounds.get(m.method) ?? []), pace]);
      }
    }
    for (const m of toMeasure) {
      const r = rounds.get(m.method) as Pace[];
      const last = r[r.length - 1] as Pace;
      const pace: Pace = { ...last, secondsPerStep: r.reduce((a, p) => a + p.secondsPerStep, 0) / r.length, stepsTimed: r.reduce((a, p) => a + p.stepsTimed, 0), rounds: r.map((p) => p.secondsPerStep) };
      const steps = stepsForBudget(pace, o.budgetSeconds);
      const budget = { pace, steps, config: configForSteps(m.config, m.train.count, steps) };
      writeJsonAtomic(join(o.out, m.method, BUDGET_FILE), budget);
      budgets.set(m.method, budget);
    }
  }
  for (const method of methods) {
    const done = kept(method);
    if (done !== undefined) {
      result.methods.push(done);
      continue;
    }
    const folder = join(o.out, method);
    const budget = budgets.get(method) as Budget;
    o.onPhase?.(method, `training ${budget.steps} steps (${budget.pace.secondsPerStep.toFixed(3)} CPU s/step)`);
    const cpu0 = cpuSeconds();
    // The kind's defaults that survive the preset and the options, recorded in train.json as alp train does
    // (later commands read the trained ε from it).
    const applied = appliedDefaults(kind, budget.config, preset, dataFields);
    const run = await runTraining(budget.config, {
      out: folder, resume: o.resume === true, checkpointEvery: 200, ...dataOpts, data: loaded,
      ...(Object.keys(applied.fields).length > 0 ? { dataDefaults: applied } : {}),
      // The method's folder reads as if `alp train` had made it: the same config from one command line.
      meta: {
        versions: o.versions ?? runVersions(),
        argv: [...trainArgvFor(budget.config, preset, kindDefaults), ...(o.dataDir !== undefined ? ['--data-dir', o.dataDir] : []), ...loaderArgv(o.loaderOptions), '--workers', '1', '--out', folder],
      },
      onProgress: (p: TrainProgress) => {
        o.onTrainProgress?.(method, p);
        o.onProgress?.({ method, phase: 'train', done: p.step, total: p.totalSteps });
      },
    });
    const trainCpuSeconds = cpuSeconds() - cpu0;
    // The one output rule, before the audit's work: the method's audit.json is replaced only by the
    // audit of the same weights, examples and settings (a resumed method's interrupted audit).
    const auditFile = join(folder, 'audit.json');
    const hash = weightsHash(join(folder, 'model.json'));
    const header = { model: folder, weightsHash: hash, seed: base.seed, versions: o.versions ?? runVersions(), data: testData, replacedAttacks: planReplacements(auditVersion, test.numClasses) };
    guardResultFile(auditFile, 'audit', auditIdentity({ ...header, dataset: test.name, examples: test.count, threat, version: auditVersion }), { force: o.force === true });
    o.onPhase?.(method, `audit (${auditVersion})`);
    const a = await audit(run.model, test, {
      threat, version: auditVersion, seed: base.seed, statePath: join(folder, 'audit.state.json'),
      onProgress: (p) => {
        o.onAuditProgress?.(method, p);
        o.onProgress?.({ method, phase: 'audit', done: p.done, total: p.total });
      },
    });
    // The same audit.json + examples.f32 as `alp audit` writes, so `alp report` reads each method's folder.
    writeAuditArtifact(auditFile, join(folder, EXAMPLES_FILE), auditArtifact(a, test, logitsOf(run.model), header));
    rmSync(join(folder, 'audit.state.json'), { force: true });
    o.onPhase?.(method, 'generalisation');
    o.onProgress?.({ method, phase: 'generalisation', done: 0, total: 1 });
    const generalisation = evaluateGeneralisation(run.model, test, {
      seed: base.seed, ...(shifts !== undefined ? { shifts } : {}), ...(o.ood ? { ood: o.ood } : {}),
    });
    run.model.dispose();
    result.methods.push({
      method, folder: method, config: budget.config, pace: budget.pace, steps: run.state.step,
      trainSeconds: run.state.elapsedMs / 1000, trainCpuSeconds, complete: run.state.done, audit: summariseAudit(a), generalisation,
    });
    writeJsonAtomic(file, { ...result, best: null });
  }
  result.best = bestOf(result.methods);
  writeJsonAtomic(file, result);
  return result;
}
