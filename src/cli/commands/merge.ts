import { MERGE_SPEC } from '../specs/merge.js';
import { cpSync, existsSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { COMPARE_FILE } from '../../compare/result.js';
import { writeJsonAtomic } from '../../util/atomic.js';
import { EXAMPLES_FILE, writeAuditArtifact } from '../../artifacts/audit.js';
import { writeEvalArtifact } from '../../artifacts/eval.js';
import { mergeShards, overwritesInput } from '../../jobs/merge.js';
import { OutputExistsError, UserError } from '../../util/errors.js';
import { attackIdentity, auditIdentity, compareIdentity, detectEvalIdentity, evalIdentity, guardResultFile } from '../../artifacts/outputs.js';
import { writeDetectEvalArtifact } from '../../artifacts/detect-eval.js';
import type { Obj } from '../../artifacts/fields.js';
import { parseCommand, get, type Parsed } from '../args.js';
import { emit, pct } from '../common.js';

export { MERGE_SPEC };

/** `alp merge ARGS` (cli/main.ts parses them itself before loading this module, then calls runMergeCommand). */
export async function mergeCommand(argv: string[]): Promise<void> {
  const p = parseCommand(argv, MERGE_SPEC);
  if (p !== undefined) await runMergeCommand(p);
}

/** `alp merge` on arguments parsed and checked against MERGE_SPEC. */
export async function runMergeCommand(p: Parsed): Promise<void> {
  const out = get.str(p, 'out') as string; // MERGE_SPEC's check: given
  const m = mergeShards(p._);
  const clash = overwritesInput(out, m.kind, m.files);
  if (clash !== undefined) throw new UserError(`--out ${out}: would overwrite the shard ${clash}; write the merged result elsewhere`);
  const written = m.kind === 'audit' ? join(out, 'audit.json') : m.kind === 'attack' ? join(out, 'attack.json') : m.kind === 'compare' ? join(out, COMPARE_FILE) : out;
  const force = { force: get.bool(p, 'force') };
  // The one output rule: the merged result replaces only the same run's result (weights, examples, settings).
  let text: string;
  if (m.kind === 'audit') {
    guardResultFile(written, 'audit', auditIdentity(m.artifact as unknown as Obj), force);
    writeAuditArtifact(written, join(out, EXAMPLES_FILE), { artifact: m.artifact, examples: m.examples });
    text = `(${m.artifact.examples} examples): worst case ${pct(m.artifact.worstCaseAccuracy)}`;
  } else if (m.kind === 'attack') {
    guardResultFile(written, 'attack', attackIdentity(m.artifact as Obj), force);
    const files = m.write(out);
    const n = (m.artifact['tensor'] as { shape: number[] }).shape[0] ?? 0;
    text = `(${n} examples): success rate ${pct(m.artifact['successRate'] as number)}; ${files.join(', ')}`;
  } else if (m.kind === 'eval') {
    guardResultFile(written, 'eval', evalIdentity(m.artifact as unknown as Obj), force);
    writeEvalArtifact(written, m.artifact);
    text = `(${m.artifact.result.examples} examples): worst case ${pct(m.artifact.result.worstCaseAccuracy)}`;
  } else if (m.kind === 'compare') {
    guardResultFile(written, 'compare', compareIdentity(m.artifact as unknown as Obj), force);
    // Each method's folder joins the merged one (shards that wrote into --out itself are left in place);
    // every destination is checked before anything is copied.
    const moves = m.folders.map((f) => ({ ...f, to: join(out, m.artifact.methods.find((r) => r.method === f.method)?.folder ?? f.method) })).filter((f) => resolve(f.from) !== resolve(f.to));
    const taken = moves.find((f) => existsSync(f.to));
    if (taken !== undefined && !force.force) throw new OutputExistsError(`${taken.to}: exists; the merged comparison's ${taken.method} run goes there (add --force to replace it, or merge into another --out)`);
    for (const f of moves) {
      rmSync(f.to, { recursive: true, force: true });
      cpSync(f.from, f.to, { recursive: true });
    }
    writeJsonAtomic(written, m.artifact);
    const best = m.artifact.best;
    text = `(${m.artifact.methods.length} methods): ${best === null ? 'no best method (not all finished)' : `best ${best.methods.join(', ')} at ${pct(best.worstCaseAccuracy)}`}`;
  } else {
    guardResultFile(written, 'detect-eval', detectEvalIdentity(m.artifact as unknown as Obj), force);
    writeDetectEvalArtifact(written, m.artifact);
    text = `(${m.artifact.models.map((r) => `${r.label}: ${r.testExamples} examples`).join(', ')})`;
  }
  if (!get.bool(p, 'quiet') || get.bool(p, 'json')) emit(p, m.artifact, `merged ${m.files.length} ${m.kind} shards ${text}\nwritten ${written}`);
}
