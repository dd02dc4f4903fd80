/** `alp merge`'s options: no tfjs here (see cli/options.ts), so they are checked before the command loads it. */
import { UserError } from '../../util/errors.js';
import { get, type CommandSpec } from '../args.js';

export const MERGE_SPEC: CommandSpec = {
  name: 'merge',
  summary: 'combine the shards of an `alp eval` or `alp audit` run (--shard K/N) into the unsharded result',
  usage: 'alp merge DIR|FILE... --out PATH',
  positionals: 'shard folders (audit.json + examples.f32, or eval shard JSON files) or files',
  options: [
    { name: 'out', type: 'string', metavar: 'PATH', help: 'eval: the eval.json to write; audit: the folder for audit.json and examples.f32' },
    { name: 'force', type: 'boolean', help: 'replace an eval.json / audit.json at --out that holds the result of other weights, examples or settings' },
    { name: 'quiet', type: 'boolean', help: 'print nothing' },
    { name: 'json', type: 'boolean', help: 'print the merged result as JSON on stdout' },
    { name: 'help', type: 'boolean', help: 'show this help' },
  ],
  examples: [
    'alp merge shards/eval.shard-*.json --out runs/demo/alp/eval.json',
    'alp merge shards --out runs/demo/alp/eval.json        # every eval shard file in the folder',
    'alp merge shards/audit-1 shards/audit-2 shards/audit-3 --out runs/demo/alp',
  ],
  check: (p) => {
    if (p._.length === 0) throw new UserError("alp merge: name the shards to merge (see 'alp merge --help')");
    if (get.str(p, 'out') === undefined) throw new UserError('alp merge: --out is required (eval: a JSON file; audit: a folder)');
  },
};
