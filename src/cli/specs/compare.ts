/** `alp compare`'s options: no tfjs here (see cli/options.ts), so they are checked before the command loads it. */
import { AUDIT_VERSIONS } from '../../eval/audit-versions.js';
import { METHODS, PRESETS } from '../../train/config.js';
import { get, type CommandSpec } from '../args.js';
import { parseShard } from '../../artifacts/shard.js';
import { COMMON_OPTIONS, DATA_OPTION, OWN_DATA_OPTIONS } from '../options.js';

export const COMPARE_SPEC: CommandSpec = {
  name: 'compare',
  summary: 'train every method on one time budget (CPU minutes), audit each, measure generalisation',
  usage: 'alp compare [--methods all|M,M] [--preset quick] [--data mnist] [--eps E] [--budget-minutes 10] --out DIR',
  options: [
    { name: 'methods', type: 'string', default: 'all', help: `comma-separated among ${METHODS.join(', ')}, or all` },
    { name: 'preset', type: 'string', choices: Object.keys(PRESETS), default: 'quick', help: 'training preset every method shares' },
    { ...DATA_OPTION, help: "dataset, or the path of your own data (see docs/your-own-data.md; default: the preset's)" },
    ...OWN_DATA_OPTIONS,
    { name: 'data-dir', type: 'string', metavar: 'DIR', help: 'folder with the dataset files' },
    { name: 'eps', type: 'number', help: "radius for training and the audit (default: the preset's, else the data kind's: 8/255 for RGB images, L2 0.5 for text; 0.1 suits fashion-mnist)" },
    { name: 'budget-minutes', type: 'number', default: 10, help: 'training budget per method, in minutes of one core (CPU time, which the load of other processes hardly changes)' },
    { name: 'n', type: 'int', default: 1000, help: 'audit and shift the first N test examples' },
    { name: 'audit', type: 'string', choices: AUDIT_VERSIONS, default: 'standard', help: 'audit budget for every method' },
    { name: 'shifts', type: 'string', metavar: 'KIND:LEVEL,…', help: 'distribution shifts (default noise:0.1,noise:0.3,rotate:10,rotate:25,translate:2,translate:4,contrast:0.5,contrast:0.2)' },
    { name: 'ood', type: 'string', metavar: 'NAME|none', help: 'out-of-distribution test set (default: fashion-mnist for mnist models, mnist for fashion-mnist ones)' },
    { name: 'seed', type: 'int', default: 1, help: 'seed every method shares' },
    { name: 'out', type: 'string', metavar: 'DIR', default: 'runs/compare', help: 'one folder per method and compare.json' },
    { name: 'resume', type: 'boolean', help: 'keep finished methods of an interrupted comparison and continue (only with the same settings)' },
    { name: 'force', type: 'boolean', help: "replace a comparison in --out (its compare.json and the methods' models and results are deleted)" },
    { name: 'shard', type: 'string', metavar: 'K/N', help: 'run only shard K of N of the methods (K = 1..N), into compare.shard-K-of-N.json and their folders in --out; `alp merge` joins the shards' },
    ...COMMON_OPTIONS,
  ],
  check: (p) => {
    const shard = get.str(p, 'shard');
    if (shard !== undefined) parseShard(shard);
  },
  examples: [
    'alp compare --budget-minutes 10 --out runs/compare-mnist',
    'alp compare --data fashion-mnist --eps 0.1 --budget-minutes 10 --out runs/compare-fmnist',
    'alp compare --methods standard,alp,trades --budget-minutes 2 --audit quick --n 200 --out /tmp/cmp',
    'alp compare --budget-minutes 10 --shard 2/5 --out /shared/compare   # one method per machine; then: alp merge /shared/compare --out /shared/compare',
  ],
};
