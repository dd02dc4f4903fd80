import { join } from 'node:path';
import { EXAMPLES_FILE, writeAuditArtifact } from '../../artifacts/audit.js';
import { writeEvalArtifact } from '../../artifacts/eval.js';
import { mergeShards, overwritesInput } from '../../parallel/merge.js';
import { UserError } from '../../util/errors.js';
import { helpText, parseArgs, get, type CommandSpec } from '../args.js';
import { emit, pct } from '../common.js';

export const MERGE_SPEC: CommandSpec = {
  name: 'merge',
  summary: 'combine the shards of an `alp eval` or `alp audit` run (--shard K/N) into the unsharded result',
  usage: 'alp merge DIR|FILE... --out PATH',
  positionals: 'shard folders (audit.json + examples.f32, or eval shard JSON files) or files',
  options: [
    { name: 'out', type: 'string', metavar: 'PATH', help: 'eval: the eval.json to write; audit: the folder for audit.json and examples.f32' },
    { name: 'quiet', type: 'boolean', help: 'print nothing' },
    { name: 'json', type: 'boolean', help: 'print the merged result as JSON on stdout' },
    { name: 'help', type: 'boolean', help: 'show this help' },
  ],
  examples: [
    'alp merge shards/eval.shard-*.json --out runs/demo/alp/eval.json',
    'alp merge shards --out runs/demo/alp/eval.json        # every eval shard file in the folder',
    'alp merge shards/audit-1 shards/audit-2 shards/audit-3 --out runs/demo/alp',
  ],
};

export async function mergeCommand(argv: string[]): Promise<void> {
  const p = parseArgs(argv, MERGE_SPEC);
  if (get.bool(p, 'help')) {
    process.stdout.write(helpText(MERGE_SPEC) + '\n');
    return;
  }
  if (p._.length === 0) throw new UserError("alp merge: name the shards to merge (see 'alp merge --help')");
  const out = get.str(p, 'out');
  if (out === undefined) throw new UserError('alp merge: --out is required (eval: a JSON file; audit: a folder)');
  const m = mergeShards(p._);
  const clash = overwritesInput(out, m.kind, m.files);
  if (clash !== undefined) throw new UserError(`--out ${out}: would overwrite the shard ${clash}; write the merged result elsewhere`);
  const written = m.kind === 'audit' ? join(out, 'audit.json') : out;
  if (m.kind === 'audit') writeAuditArtifact(written, join(out, EXAMPLES_FILE), { artifact: m.artifact, examples: m.examples });
  else writeEvalArtifact(written, m.artifact);
  const a = m.artifact;
  const worst = m.kind === 'audit' ? m.artifact.worstCaseAccuracy : m.artifact.result.worstCaseAccuracy;
  const examples = m.kind === 'audit' ? m.artifact.examples : m.artifact.result.examples;
  const text = `merged ${m.files.length} ${m.kind} shards (${examples} examples): worst case ${pct(worst)}\nwritten ${written}`;
  if (!get.bool(p, 'quiet') || get.bool(p, 'json')) emit(p, a, text);
}
