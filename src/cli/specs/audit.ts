/** `alp audit`'s options: no tfjs here (see cli/options.ts), so they are checked before the command loads it. */
import { AUDIT_VERSIONS } from '../../eval/audit-versions.js';
import { parseShard } from '../../artifacts/shard.js';
import { get, requireModel, type CommandSpec } from '../args.js';
import { attackedModelOptions, attackJobOptions, AUDIT_WORD_OPTIONS, COMMON_OPTIONS } from '../options.js';

export const AUDIT_SPEC: CommandSpec = {
  name: 'audit',
  summary: 'strong attack cascade + gradient-masking diagnostics, resumable',
  usage: 'alp audit --model PATH [--budget quick|standard|thorough] [--eps E] [--surrogate PATH]',
  options: [
    ...attackedModelOptions(1000, 'audit the first N test examples'),
    { name: 'fail-on', type: 'string', choices: ['never', 'warn', 'fail'], default: 'never', help: 'exit 3 when a finding is at least this severe (for CI gates)' },
    { name: 'budget', type: 'string', choices: AUDIT_VERSIONS, default: 'standard', deprecatedAlias: 'version', help: 'attack budget preset' },
    { name: 'surrogate', type: 'string', metavar: 'PATH', help: 'an independently trained model for a transfer attack' },
    ...attackJobOptions({
      seed: 'seed for every random choice',
      out: { metavar: 'DIR', help: 'where audit.json and examples.f32 go (default: the folder of model.json, NAME.audit/ beside a model file NAME.json; audit.shard-K-of-N/ there with --shard)' },
      force: 'an audit.json that holds the audit of other weights or settings',
    }),
    { name: 'fresh', type: 'boolean', help: 'ignore an interrupted audit and start over' },
    ...AUDIT_WORD_OPTIONS,
    ...COMMON_OPTIONS,
  ],
  examples: [
    'alp audit --model runs/demo/alp --budget quick',
    'alp audit --model runs/demo/alp --budget quick --fail-on fail   # exit 3 if a finding fails (CI)',
    'alp audit --model runs/demo/alp --budget thorough --surrogate runs/demo/standard',
    'alp report runs/demo/alp   # then look at the findings in the page',
    'alp audit --model runs/demo/alp --shard 1/4 --out shards/1   # then: alp merge shards/* --out runs/demo/alp',
    'alp audit --model runs/spam-std --norm l2 --eps 0.5 --budget quick --n 200 --swaps 1,2,5   # text: also real word swaps',
  ],
  check: (p) => {
    requireModel(p, 'audit');
    const shard = get.str(p, 'shard');
    if (shard !== undefined) parseShard(shard);
  },
};
