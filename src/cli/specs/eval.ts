/** `alp eval`'s options: no tfjs here (see cli/options.ts), so they are checked before the command loads it. */
import { ATTACK_NAMES, DEFAULT_EVAL_ATTACKS, DEFAULT_EVAL_QUERIES } from '../../eval/attack-names.js';
import { WORD_ATTACK_NAMES } from '../../attack/text/word-attack.js';
import { parseShard } from '../../artifacts/shard.js';
import { UserError } from '../../util/errors.js';
import { get, requireModel, type CommandSpec } from '../args.js';
import { attackedModelOptions, attackJobOptions, COMMON_OPTIONS, WORD_SWAP_OPTIONS } from '../options.js';

export const EVAL_SPEC: CommandSpec = {
  name: 'eval',
  summary: 'measure clean and robust accuracy of a model under a suite of attacks',
  usage: 'alp eval --model DIR|model.json [options]',
  options: [
    ...attackedModelOptions(1000, 'evaluate on the first N test examples'),
    // No parser default: the command must tell the default suite (fitted to the class count) from one the user named (refused if it cannot run).
    { name: 'attacks', type: 'strings', choices: ATTACK_NAMES, metavar: 'A,A,...', help: `attacks in the suite; the worst case per example is reported (default: ${DEFAULT_EVAL_ATTACKS.join(',')}; apgd-dlr = APGD-T, targeted DLR over 9 classes, which with 3 classes gives way to apgd-dlr-untargeted and with 2 to apgd-cw, APGD on the margin; square = the gradient-free Square attack)` },
    { name: 'survivors', type: 'strings', choices: [...ATTACK_NAMES, 'none'], metavar: 'A,A,...|none', help: 'attacks that run only on the examples the attacks before them left robust (default: square, when in the suite)' },
    { name: 'queries', type: 'int', default: DEFAULT_EVAL_QUERIES, help: 'Square attack query budget (it runs once)' },
    { name: 'steps', type: 'int', default: 40, help: 'PGD steps' },
    { name: 'restarts', type: 'int', default: 5, help: 'random restarts per attack (APGD-T runs once per target class instead, as in AutoAttack)' },
    { name: 'step-size', type: 'number', help: 'PGD step size (default 2.5·ε/steps)' },
    { name: 'eps-sweep', type: 'numbers', metavar: 'E,E,...', help: 'also report worst-case PGD accuracy at these radii' },
    { name: 'swaps', type: 'numbers', metavar: 'K,K,...', help: 'text models: also robust accuracy under at most K real word swaps per message, for each K' },
    { name: 'word-attacks', type: 'strings', choices: WORD_ATTACK_NAMES, default: ['hotflip', 'greedy-swap'], help: 'text: word-substitution attacks for --swaps (worst case per message)' },
    ...WORD_SWAP_OPTIONS,
    ...attackJobOptions({
      seed: 'seed for random starts',
      out: { metavar: 'FILE', help: 'write the JSON result here (default: eval.json beside model.json, NAME.eval.json beside a model file NAME.json; eval.shard-K-of-N.json with --shard)' },
      force: 'an output that holds the eval of other weights or settings',
    }),
    ...COMMON_OPTIONS,
  ],
  examples: [
    'alp eval --model runs/demo/alp',
    'alp eval --model runs/demo/alp --eps 0.3 --steps 100 --restarts 10 --attacks pgd-ce,pgd-cw',
    'alp eval --model runs/demo/standard --eps-sweep 0,0.05,0.1,0.2,0.3,0.4 --json',
    'alp eval --model runs/spam-std --norm l2 --eps 0.5 --swaps 1,2,5 --word-attacks hotflip,greedy-swap',
    'alp eval --model runs/demo/alp --workers 2   # two threads, each with a replica of the model',
    'alp eval --model runs/demo/alp --shard 2/4 --out shards/eval-2.json   # then: alp merge shards --out eval.json',
  ],
  check: (p) => {
    const ks = get.nums(p, 'swaps');
    const shard = get.str(p, 'shard');
    if (shard !== undefined) parseShard(shard);
    if (shard !== undefined && ks !== undefined) throw new UserError('--shard: not with --swaps (word-swap results cannot be merged yet); run --swaps unsharded');
    for (const k of ks ?? []) if (!Number.isInteger(k) || k < 1) throw new UserError(`--swaps: expected integers ≥ 1, found ${k}`);
    requireModel(p, 'eval');
  },
};
