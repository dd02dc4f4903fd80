import { MERGE_SPEC } from '../specs/merge.js';
import { join } from 'node:path';
import { EXAMPLES_FILE, writeAuditArtifact } from '../../artifacts/audit.js';
import { writeEvalArtifact } from '../../artifacts/eval.js';
import { mergeShards, overwritesInput } from '../../jobs/merge.js';
import { UserError } from '../../util/errors.js';
import { auditIdentity, detectEvalIdentity, evalIdentity, guardResultFile } from '../../artifacts/outputs.js';
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
  const written = m.kind === 'audit' ? join(out, 'audit.json') : out;
  const force = { force: get.bool(p, 'force') };
  // The one output rule: the merged result replaces only the same run's result (weights, examples, settings).
  let text: string;
  if (m.kind === 'audit') {
    guardResultFile(written, 'audit', auditIdentity(m.artifact as unknown as Obj), force);
    writeAuditArtifact(written, join(out, EXAMPLES_FILE), { artifact: m.artifact, examples: m.examples });
    text = `(${m.artifact.examples} examples): worst case ${pct(m.artifact.worstCaseAccuracy)}`;
  } else if (m.kind === 'eval') {
    guardResultFile(written, 'eval', evalIdentity(m.artifact as unknown as Obj), force);
    writeEvalArtifact(written, m.artifact);
    text = `(${m.artifact.result.examples} examples): worst case ${pct(m.artifact.result.worstCaseAccuracy)}`;
  } else {
    guardResultFile(written, 'detect-eval', detectEvalIdentity(m.artifact as unknown as Obj), force);
    writeDetectEvalArtifact(written, m.artifact);
    text = `(${m.artifact.models.map((r) => `${r.label}: ${r.testExamples} examples`).join(', ')})`;
  }
  if (!get.bool(p, 'quiet') || get.bool(p, 'json')) emit(p, m.artifact, `merged ${m.files.length} ${m.kind} shards ${text}\nwritten ${written}`);
}
