/**
 * The audit job: the cascade over all the test examples or one shard of them, in this thread or in
 * worker replicas, with its state file for resume (`audit.state.json` in the output folder: every
 * finished batch, or slice with workers, is saved there and the same spec resumes it). It guards the
 * output before the work, writes audit.json and examples.f32 with the version header and shard record,
 * deletes the state, and returns the artifact with the result it came from.
 */
import type * as tf from '@tensorflow/tfjs';
import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { Transfer } from '../attack/transfer.js';
import { auditArtifact, EXAMPLES_FILE, writeAuditArtifact, type AuditArtifact } from '../artifacts/audit.js';
import { auditIdentity, defaultResultPath, guardResultFile } from '../artifacts/outputs.js';
import { runHash, shardName, shardRange, shardRecord } from '../artifacts/shard.js';
import { auditAttacks, auditPart, finishAudit, modelChecksOf, planReplacements, withWordAudit, type AuditOptions, type AuditPart, type AuditResult, type AuditVersion } from '../eval/audit.js';
import { wordStatePath, type WordAuditOptions } from '../eval/word-audit.js';
import { logitsOf } from '../model/classifier.js';
import { modelFingerprint } from '../model/fingerprint.js';
import { auditPartParallel } from './evaluate-parallel.js';
import type { ModelRowsSpec } from './spec.js';
import { emptyShardWarning, phaseBars, type JobLog } from './log.js';

/** Adversarial examples kept per audit (examples.f32). */
export const KEEP_EXAMPLES = 16;

/** A checked audit: the model and its test examples, the plan, where the rows run and where it is written; a signal keeps the state. */
export interface AuditJobSpec extends ModelRowsSpec {
  version: AuditVersion;
  seed: number;
  /** A transfer attack from this model; opened after the output guard. */
  surrogate?: { path: string; open(): Promise<tf.LayersModel> };
  /** The word-swap phase of a text model (not with a shard). */
  words?: WordAuditOptions;
  /** The output folder (default: beside the model; a shard's audit.shard-K-of-N/). */
  out?: string;
  /** Delete a saved state first instead of resuming it. */
  fresh?: boolean;
}

export interface AuditJobRun {
  artifact: AuditArtifact;
  result: AuditResult;
  /** audit.json's path. */
  written: string;
}

/** The output folder for `spec`. */
export function auditOutFolder(s: Pick<AuditJobSpec, 'modelPath' | 'shard' | 'out'>): string {
  if (s.out !== undefined) return s.out;
  const base = defaultResultPath(s.modelPath, 'audit');
  return s.shard !== undefined ? join(base, shardName('audit', s.shard)) : base;
}

/** The state file an interrupted audit in `folder` leaves. */
export function auditStatePath(folder: string): string {
  return join(folder, 'audit.state.json');
}

export async function runAuditJob(s: AuditJobSpec, log: JobLog): Promise<AuditJobRun> {
  const { ds, model, threat, version, seed, shard, data } = s;
  const out = auditOutFolder(s);
  guardResultFile(join(out, 'audit.json'), 'audit', auditIdentity({ weightsHash: s.weightsHash, dataset: ds.name, data, examples: ds.count, threat, version, seed, ...(shard !== undefined ? { shard: { ...shard, examples: ds.count } } : {}) }), { force: s.force === true });
  const statePath = auditStatePath(out);
  if (s.fresh === true) for (const f of [statePath, wordStatePath(statePath)]) rmSync(f, { force: true });
  else if (existsSync(statePath)) log.say(`found an interrupted audit in ${statePath}`);
  const extra = [];
  let surrogateFingerprint: string | null = null;
  let surrogateModel: tf.LayersModel | undefined;
  if (s.surrogate !== undefined) {
    surrogateModel = await s.surrogate.open();
    surrogateFingerprint = modelFingerprint(surrogateModel);
    extra.push(new Transfer({ threat, surrogate: logitsOf(surrogateModel), seed: seed + 99, surrogateName: s.surrogate.path }));
  }
  log.say(`alp audit (${version}): ${s.modelPath} on ${ds.count} ${ds.name} test examples, ${threat.norm} ε=${threat.eps}, backend ${s.backend}`);
  const range = shard !== undefined ? shardRange(ds.count, shard) : [0, ds.count] as [number, number];
  const empty = emptyShardWarning(shard, range, ds.count);
  if (empty !== null) log.warn(empty);
  if (shard !== undefined && empty === null) log.say(`shard ${shard.index}/${shard.count}: examples ${range[0]}–${range[1] - 1} of ${ds.count}`);
  const t0 = Date.now();
  const bars = phaseBars(log);
  const signal = s.signal;
  const options: AuditOptions = {
    threat, version, seed, extraAttacks: extra, statePath, batchSize: s.batchSize, ...(signal !== undefined ? { signal } : {}),
    keyExtras: { surrogate: surrogateFingerprint, versions: s.versions },
    ...(s.words !== undefined ? { words: s.words } : {}),
    onWordProgress: (e) => bars.show(`${e.attack} k=${e.k}`, e.total).update(e.done),
    onPhase: (m) => {
      bars.end();
      log.say(m);
    },
    onProgress: (e) => bars.show(e.attack, e.total).update(e.done, `robust ${e.robust}/${range[1] - range[0]}`),
  };
  const workers = s.workers;
  let part: AuditPart;
  if (workers > 1) {
    // Slices of the examples go to workers with replicas of the model (and surrogate); finished slices
    // are saved to the state file, so an interrupted run resumes slice by slice.
    log.say(`${workers} workers`);
    const bar = log.bar(`audit (${workers} workers)`.padEnd(22), range[1] - range[0]);
    const { extraAttacks: _extra, ...rest } = options;
    part = await auditPartParallel(model, ds, rest, range, {
      workers, batchSize: s.batchSize, ...(signal !== undefined ? { signal } : {}),
      ...(surrogateModel !== undefined && s.surrogate !== undefined ? { surrogate: { model: surrogateModel, name: s.surrogate.path, seed: seed + 99 } } : {}),
      onResume: (resumed) => log.say(resumed ? 'resuming the interrupted audit' : 'the saved audit state is for another configuration or worker count; starting over'),
      onProgress: (e) => bar.update(e.done, `robust ${e.robust}/${e.done}`),
    });
    bar.done();
  } else {
    part = await auditPart(model, ds, options, range, { modelChecks: true });
  }
  // Every shard measures the (cheap) model-level checks, so its own audit.json has them too.
  if (part.model === null) part = { ...part, model: modelChecksOf(model, ds) };
  // Word swaps (text models) run here, on the whole set, after the cascade's parts.
  const r = await withWordAudit(finishAudit([part], { version, threat, keepExamples: KEEP_EXAMPLES, seconds: (Date.now() - t0) / 1000 }), model, ds, options);
  bars.end();
  const replaced = planReplacements(version, ds.numClasses);
  const written = auditArtifact(r, ds, logitsOf(model), { model: s.modelPath, weightsHash: s.weightsHash, seed, versions: s.versions, warnings: s.warnings, replacedAttacks: replaced, data });
  if (shard !== undefined) {
    const { kept: _kept, ...rows } = part;
    written.artifact.shard = {
      ...shardRecord(shard, ds.count, runHash({
        command: 'audit', model: modelFingerprint(model), dataset: ds.name, data: data.digest, examples: ds.count, shape: ds.shape, threat, version, seed, keepExamples: KEEP_EXAMPLES,
        attacks: auditAttacks(options, ds.numClasses).map((a) => a.describe()), surrogate: surrogateFingerprint,
      }), data),
      keepExamples: KEEP_EXAMPLES, audit: rows,
    };
  }
  writeAuditArtifact(join(out, 'audit.json'), join(out, EXAMPLES_FILE), written);
  for (const f of [statePath, wordStatePath(statePath)]) rmSync(f, { force: true });
  return { artifact: written.artifact, result: r, written: join(out, 'audit.json') };
}
