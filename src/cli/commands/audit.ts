import { AUDIT_SPEC } from '../specs/audit.js';
import { refuseGiven } from '../inapplicable.js';
import { AUDIT_WORD_OPTIONS } from '../options.js';
import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { Transfer } from '../../attack/transfer.js';
import type * as tf from '@tensorflow/tfjs';
import { auditAttacks, auditPart, finishAudit, modelChecksOf, planReplacements, withWordAudit, type AuditOptions, type AuditPart, type AuditVersion } from '../../eval/audit.js';
import { auditPartParallel } from '../../jobs/evaluate-parallel.js';
import { parseShard, runHash, shardName, shardRange, shardRecord } from '../../artifacts/shard.js';
import { auditArtifact, EXAMPLES_FILE, writeAuditArtifact } from '../../artifacts/audit.js';
import { auditIdentity, defaultResultPath } from '../../artifacts/outputs.js';
import { onInterrupt } from '../../util/interrupt.js';
import { modelFingerprint, weightsHash } from '../../model/fingerprint.js';
import { logitsOf } from '../../model/classifier.js';
import { modelJsonPath } from '../../model/io.js';
import { parseCommand, get, type Parsed } from '../args.js';
import { workersFor, checkModelFitsData, emit, emptyShard, guardOutput, openModel, openModelJob, pct, table, versions } from '../common.js';
import { EXIT, UserError } from '../../util/errors.js';
import { Progress, say } from '../progress.js';
import { auditWordOptions, wordAuditText } from '../word-swaps.js';
import { wordStatePath } from '../../eval/word-audit.js';
import { replacementLines } from '../../eval/few-classes.js';

export { AUDIT_SPEC };

/** `alp audit ARGS` (cli/main.ts parses them itself before loading this module, then calls runAuditCommand). */
export async function auditCommand(argv: string[]): Promise<number> {
  const p = parseCommand(argv, AUDIT_SPEC);
  return p === undefined ? 0 : runAuditCommand(p, argv);
}

/** `alp audit` on arguments parsed and checked against AUDIT_SPEC. */
export async function runAuditCommand(p: Parsed, argv: string[]): Promise<number> {
  const job = await openModelJob(p, 'audit');
  const { modelPath, quiet, backend, ds, model, threat, warnings, data } = job;
  // The word-swap phase is for text models only: its options on another model would be ignored.
  if (job.text === undefined) refuseGiven(argv, AUDIT_WORD_OPTIONS.map((o) => o.name), `an option of the word-swap phase, for text models; ${modelPath} is not a text model (no Embedding layer)`);
  const words = auditWordOptions(p, job);
  const version = get.str(p, 'budget') as AuditVersion;
  const seed = get.num(p, 'seed') as number;
  const shardText = get.str(p, 'shard');
  const shard = shardText !== undefined ? parseShard(shardText) : undefined;
  if (shard !== undefined && words !== null) throw new UserError('--shard: not with --swaps (word-swap results cannot be merged yet); run --swaps unsharded');
  const base = defaultResultPath(modelPath, 'audit');
  const out = get.str(p, 'out') ?? (shard !== undefined ? join(base, shardName('audit', shard)) : base);
  const hash = weightsHash(modelJsonPath(modelPath));
  guardOutput(join(out, 'audit.json'), 'audit', auditIdentity({ weightsHash: hash, dataset: ds.name, data, examples: ds.count, threat, version, seed, ...(shard !== undefined ? { shard: { ...shard, examples: ds.count } } : {}) }), p);
  const statePath = join(out, 'audit.state.json');
  if (get.bool(p, 'fresh')) for (const f of [statePath, wordStatePath(statePath)]) rmSync(f, { force: true });
  else if (existsSync(statePath)) say(quiet, `found an interrupted audit in ${statePath}`);
  const surrogatePath = get.str(p, 'surrogate');
  const extra = [];
  let surrogateFingerprint: string | null = null;
  let surrogateModel: tf.LayersModel | undefined;
  if (surrogatePath !== undefined) {
    // The surrogate is adapted by shape only: --input-range describes the audited model.
    const s = checkModelFitsData(await openModel(surrogatePath, quiet), ds, surrogatePath, undefined, quiet);
    surrogateModel = s;
    surrogateFingerprint = modelFingerprint(s);
    extra.push(new Transfer({ threat, surrogate: logitsOf(s), seed: seed + 99, surrogateName: surrogatePath }));
  }
  say(quiet, `alp audit (${version}): ${modelPath} on ${ds.count} ${ds.name} test examples, ${threat.norm} ε=${threat.eps}, backend ${backend}`);
  // Ctrl-C/SIGTERM stop after the current batch (InterruptedError, exit 130/143); the handlers go with the process.
  const interrupt = onInterrupt('audit', `this batch; the audit so far is kept in ${statePath} and the same command resumes it`);
  let bar: Progress | undefined;
  let current = '';
  const range = shard !== undefined ? shardRange(ds.count, shard) : [0, ds.count] as [number, number];
  const empty = emptyShard(shard, range, ds.count);
  if (shard !== undefined && !empty) say(quiet, `shard ${shard.index}/${shard.count}: examples ${range[0]}–${range[1] - 1} of ${ds.count}`);
  const t0 = Date.now();
  const options: AuditOptions = {
    threat, version, seed, extraAttacks: extra, statePath, batchSize: get.num(p, 'batch-size') as number, signal: interrupt.signal,
    keyExtras: { surrogate: surrogateFingerprint, versions: versions(backend) },
    ...(words !== null ? { words } : {}),
    onWordProgress: (e) => {
      const key = `${e.attack} k=${e.k}`;
      if (key !== current) {
        bar?.done();
        bar = new Progress(key.padEnd(22), e.total, { quiet });
        current = key;
      }
      bar?.update(e.done);
    },
    onPhase: (m) => {
      bar?.done();
      bar = undefined;
      current = '';
      say(quiet, m);
    },
    onProgress: (e) => {
      if (e.attack !== current) {
        bar?.done();
        bar = new Progress(e.attack.padEnd(22), e.total, { quiet });
        current = e.attack;
      }
      bar?.update(e.done, `robust ${e.robust}/${range[1] - range[0]}`);
    },
  };
  const keepExamples = 16;
  const workers = workersFor(p, range[1] - range[0]);
  let part: AuditPart;
  if (workers > 1) {
    // Slices of the examples go to workers with replicas of the model (and surrogate); finished slices
    // are saved to the state file, so an interrupted run resumes slice by slice.
    say(quiet, `${workers} workers`);
    bar = new Progress(`audit (${workers} workers)`.padEnd(22), range[1] - range[0], { quiet });
    const { extraAttacks: _extra, ...rest } = options;
    part = await auditPartParallel(model, ds, rest, range, {
      workers, batchSize: options.batchSize as number, signal: interrupt.signal,
      ...(surrogateModel !== undefined && surrogatePath !== undefined ? { surrogate: { model: surrogateModel, name: surrogatePath, seed: seed + 99 } } : {}),
      onResume: (resumed) => say(quiet, resumed ? 'resuming the interrupted audit' : 'the saved audit state is for another configuration or worker count; starting over'),
      onProgress: (e) => bar?.update(e.done, `robust ${e.robust}/${e.done}`),
    });
    bar.done();
    bar = undefined;
  } else {
    part = await auditPart(model, ds, options, range, { modelChecks: true });
  }
  // Every shard measures the (cheap) model-level checks, so its own audit.json has them too.
  if (part.model === null) part = { ...part, model: modelChecksOf(model, ds) };
  // Word swaps (text models) run here, on the whole set, after the cascade's parts.
  const r = await withWordAudit(finishAudit([part], { version, threat, keepExamples, seconds: (Date.now() - t0) / 1000 }), model, ds, options);
  bar?.done();
  const replaced = planReplacements(version, ds.numClasses);
  const written = auditArtifact(r, ds, logitsOf(model), { model: modelPath, weightsHash: hash, seed, versions: versions(backend), warnings, replacedAttacks: replaced, data });
  if (shard !== undefined) {
    const { kept: _kept, ...rows } = part;
    written.artifact.shard = {
      ...shardRecord(shard, ds.count, runHash({
        command: 'audit', model: modelFingerprint(model), dataset: ds.name, data: data.digest, examples: ds.count, shape: ds.shape, threat, version, seed, keepExamples,
        attacks: auditAttacks(options, ds.numClasses).map((a) => a.describe()), surrogate: surrogateFingerprint,
      }), data),
      keepExamples, audit: rows,
    };
  }
  const report = written.artifact;
  writeAuditArtifact(join(out, 'audit.json'), join(out, EXAMPLES_FILE), written);
  for (const f of [statePath, wordStatePath(statePath)]) rmSync(f, { force: true });
  const rows = [['after attack', 'robust acc', 'newly fooled', 'seconds'], ['(clean)', pct(r.cleanAccuracy), '', '']];
  for (const s of r.cascade) rows.push([s.attack, pct(s.robustAccuracyAfter), String(s.fooledHere), s.seconds.toFixed(1)]);
  const mark = { pass: 'PASS', warn: 'WARN', fail: 'FAIL' } as const;
  const text = empty ? `shard ${shard?.index}/${shard?.count}: no examples, so no accuracy and no findings\n\nwritten ${join(out, 'audit.json')}` : `${table(rows)}\n${replacementLines(replaced).map((l) => `\n${ds.numClasses} classes: ${l}`).join('')}\nworst case: ${pct(r.worstCaseAccuracy)}\n\n` + (r.wordSwaps !== undefined ? `${wordAuditText(r.wordSwaps)}\n\n` : '') +
    r.findings.map((f) => `[${mark[f.status]}] ${f.title}\n       ${f.detail}`).join('\n') + `\n\nwritten ${join(out, 'audit.json')}`;
  emit(p, report, text);
  // The gate: results are written either way; the status tells a CI job whether to stop.
  const failOn = get.str(p, 'fail-on');
  const severity = { pass: 0, warn: 1, fail: 2 } as const;
  const worst = Math.max(0, ...r.findings.map((f) => severity[f.status]));
  if (failOn !== 'never' && worst >= (failOn === 'warn' ? 1 : 2)) {
    const hits = r.findings.filter((f) => severity[f.status] >= (failOn === 'warn' ? 1 : 2));
    process.stderr.write(`alp audit: ${hits.length} finding(s) at or above --fail-on ${failOn}: ${hits.map((f) => `${f.status.toUpperCase()} ${f.id}`).join(', ')}\n`);
    return EXIT.gate;
  }
  return 0;
}
