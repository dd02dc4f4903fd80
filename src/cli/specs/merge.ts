/** `alp merge`'s options: no tfjs here (see cli/options.ts), so they are checked before the command loads it. */
import { UserError } from '../../util/errors.js';
import { get, OUTPUT_OPTIONS, type CommandSpec } from '../args.js';
import { outAndForce } from '../options.js';

export const MERGE_SPEC: CommandSpec = {
  name: 'merge',
  summary: 'combine the shards of an `alp eval`, `alp audit`, `alp detect eval` or `alp compare` run (--shard K/N) into the unsharded result',
  usage: 'alp merge DIR|FILE... --out PATH',
  positionals: 'shard files, or folders holding them (an audit folder, or the shard JSON files in a folder)',
  options: [
    ...outAndForce({ metavar: 'PATH', help: 'eval, detect eval: the JSON file to write; audit: the folder for audit.json and examples.f32; compare: the folder for compare.json and the method folders' }, 'a result at --out that holds the result of other weights, examples or settings (compare: and method folders there)'),
    ...OUTPUT_OPTIONS,
  ],
  examples: [
    'alp merge shards/eval.shard-*.json --out runs/demo/alp/eval.json',
    'alp merge shards --out runs/demo/alp/eval.json        # every eval shard file in the folder',
    'alp merge shards/audit-1 shards/audit-2 shards/audit-3 --out runs/demo/alp',
    'alp merge shards/detect-*.json --out runs/demo/detect-eval.json',
    'alp merge /shared/compare --out /shared/compare     # compare.shard-K-of-N.json files beside the method folders',
  ],
  check: (p) => {
    if (p._.length === 0) throw new UserError("alp merge: name the shards to merge (see 'alp merge --help')");
    if (get.str(p, 'out') === undefined) throw new UserError('alp merge: --out is required (eval, detect eval: a JSON file; audit, compare: a folder)');
  },
};
