/** `alp attack`'s options: no tfjs here (see cli/options.ts), so they are checked before the command loads it. */
import { ATTACK_NAMES } from '../../eval/attack-names.js';
import { WORD_ATTACK_NAMES } from '../../attack/text/word-attack.js';
import { requireModel, type CommandSpec } from '../args.js';
import { attackedModelOptions, attackJobOptions, COMMON_OPTIONS, SHARD_OPTION, WORD_SWAP_OPTIONS } from '../options.js';

export const ATTACK_SPEC: CommandSpec = {
  name: 'attack',
  summary: 'craft adversarial examples and write them as a PNG grid and raw tensors (and WAV files for audio)',
  usage: 'alp attack --model PATH [--attack pgd-ce] [--n 16] --out DIR',
  options: [
    ...attackedModelOptions(16, 'attack the first N test examples'),
    { name: 'attack', type: 'string', choices: ATTACK_NAMES, default: 'pgd-ce', help: 'which attack' },
    { name: 'steps', type: 'int', default: 40, help: 'PGD steps' },
    { name: 'restarts', type: 'int', default: 1, help: 'random restarts' },
    { name: 'target', type: 'int', help: 'make the attack targeted towards this class' },
    { name: 'word-attack', type: 'string', choices: WORD_ATTACK_NAMES, help: 'text models: swap real words instead of perturbing embeddings' },
    { name: 'swaps', type: 'int', default: 5, help: 'text: at most this many words swapped per message (with --word-attack)' },
    ...WORD_SWAP_OPTIONS,
    ...attackJobOptions({
      seed: 'seed for random starts',
      out: { metavar: 'DIR', default: 'runs/attack', help: 'output folder' },
      force: 'an attack.json in --out of another model, examples or attack',
      batchHelp: 'examples attacked at once (a shard is cut at whole groups of them)',
      shard: { ...SHARD_OPTION, help: 'attack only shard K of N (K = 1..N): examples ⌊(K−1)·n/N⌋ to ⌊K·n/N⌋−1 cut at whole groups of --batch-size, into their own --out; `alp merge` joins the shards\' folders into the unsharded output (not with --word-attack)' },
    }),
    ...COMMON_OPTIONS,
  ],
  examples: [
    'alp attack --model runs/demo/standard --n 16 --out runs/attack-standard',
    'alp attack --model runs/demo/alp --attack pgd-cw --eps 0.3 --target 3 --out runs/attack-alp',
    'alp attack --model runs/spam-std --norm l2 --eps 0.5 --word-attack hotflip --swaps 2 --target 0 --out runs/spam-swaps',
  ],
  check: (p) => requireModel(p, 'attack'),
};
