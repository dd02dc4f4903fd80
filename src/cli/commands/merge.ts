import { MERGE_SPEC } from '../specs/merge.js';
import { join } from 'node:path';
import { EXAMPLES_FILE, writeAuditArtifact } from '../../artifacts/audit.js';
import { writeEvalArtifact } from '../../artifacts/eval.js';
import { mergeShards, overwritesInput } from '../../jobs/merge.js';
import { UserError } from '../../util/errors.js';
import { auditIdentity, evalIdentity, guardResultFile } from '../../artifacts/outputs.js';
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
  // The one output rule: the merged result replaces only the same run's result (weights, examples, settings).
  guardResultFile(written, m.kind, m.kind === 'audit' ? auditIdentity(m.artifact as unknown as Obj) : evalIdentity(m.artifact as unknown as Obj), { force: get.bool(p, 'force') });
  if (m.kind === 'audit') writeAuditArtifact(written, join(out, EXAMPLES_FILE), { artifact: m.artifact, examples: m.examples });
  else writeEvalArtifact(written, m.artifact);
  const a = m.artifact;
  const worst = m.kind === 'audit' ? m.artifact.worstCaseAccuracy : m.artifact.result.worstCaseAccuracy;
  const examples = m.kind === 'audit' ? m.artifact.examples : m.artifact.result.examples;
  const text = `merged ${m.files.length} ${m.kind} shards (${examples} examples): worst case ${pct(worst)}\nwritten ${written}`;
  if (!get.bool(p, 'quiet') || get.bool(p, 'json')) emit(p, a, text);
}
