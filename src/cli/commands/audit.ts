import { AUDIT_SPEC } from '../specs/audit.js';
import { refuseGiven } from '../inapplicable.js';
import { AUDIT_WORD_OPTIONS } from '../options.js';
import { planReplacements, type AuditVersion } from '../../eval/audit.js';
import { auditOutFolder, auditStatePath, runAuditJob } from '../../jobs/audit.js';
import { parseShard, shardRange } from '../../artifacts/shard.js';
import { onInterrupt } from '../../util/interrupt.js';
import { weightsHash } from '../../model/fingerprint.js';
import { modelJsonPath } from '../../model/io.js';
import { parseCommand, get, type Parsed } from '../args.js';
import { workersFor, checkModelFitsData, emit, jobLog, openModel, openModelJob, pct, table, versions } from '../common.js';
import { EXIT, UserError } from '../../util/errors.js';
import { auditWordOptions, wordAuditText } from '../word-swaps.js';
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
  const out = get.str(p, 'out');
  const statePath = auditStatePath(auditOutFolder({ modelPath, ...(shard !== undefined ? { shard } : {}), ...(out !== undefined ? { out } : {}) }));
  const surrogatePath = get.str(p, 'surrogate');
  const range = shard !== undefined ? shardRange(ds.count, shard) : [0, ds.count] as [number, number];
  // Ctrl-C/SIGTERM stop after the current batch (InterruptedError, exit 130/143); the handlers go with the process.
  const interrupt = onInterrupt('audit', `this batch; the audit so far is kept in ${statePath} and the same command resumes it`);
  const run = await runAuditJob({
    modelPath, weightsHash: weightsHash(modelJsonPath(modelPath)), model, ds, data, threat, version, seed,
    // The surrogate is adapted by shape only: --input-range describes the audited model.
    ...(surrogatePath !== undefined ? { surrogate: { path: surrogatePath, open: async () => checkModelFitsData(await openModel(surrogatePath, quiet), ds, surrogatePath, undefined, quiet) } } : {}),
    ...(words !== null ? { words } : {}), ...(shard !== undefined ? { shard } : {}), ...(out !== undefined ? { out } : {}),
    force: get.bool(p, 'force'), fresh: get.bool(p, 'fresh'),
    batchSize: get.num(p, 'batch-size') as number, workers: workersFor(p, range[1] - range[0]),
    versions: versions(backend), warnings, backend, signal: interrupt.signal,
  }, jobLog(quiet));
  const r = run.result;
  const report = run.artifact;
  const empty = shard !== undefined && range[1] <= range[0];
  const replaced = planReplacements(version, ds.numClasses);
  const rows = [['after attack', 'robust acc', 'newly fooled', 'seconds'], ['(clean)', pct(r.cleanAccuracy), '', '']];
  for (const s of r.cascade) rows.push([s.attack, pct(s.robustAccuracyAfter), String(s.fooledHere), s.seconds.toFixed(1)]);
  const mark = { pass: 'PASS', warn: 'WARN', fail: 'FAIL' } as const;
  const text = empty ? `shard ${shard?.index}/${shard?.count}: no examples, so no accuracy and no findings\n\nwritten ${run.written}` : `${table(rows)}\n${replacementLines(replaced).map((l) => `\n${ds.numClasses} classes: ${l}`).join('')}\nworst case: ${pct(r.worstCaseAccuracy)}\n\n` + (r.wordSwaps !== undefined ? `${wordAuditText(r.wordSwaps)}\n\n` : '') +
    r.findings.map((f) => `[${mark[f.status]}] ${f.title}\n       ${f.detail}`).join('\n') + `\n\nwritten ${run.written}`;
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
