/** The options of `alp detect` and its subcommands (calibrate, eval, serve). */
import { DETECTOR_KINDS } from '../../detect/detector.js';
import { defaultDetectAttacks } from '../../detect/evaluate.js';
import { NOISE_DISTS } from '../../detect/noise.js';
import { ATTACK_NAMES } from '../../eval/suite.js';
import { type CommandSpec, type OptSpec } from '../args.js';
import { WORD_SWAP_OPTIONS } from '../word-swaps.js';
import { COMMON_OPTIONS, DATA_OPTIONS, MODEL_INPUT_OPTIONS, OUTPUT_NODE_OPTION, SHARD_OPTION, WORKERS_OPTION, outAndForce } from '../options.js';

export const DETECTOR_OPTIONS: OptSpec[] = [
  { name: 'samples', type: 'int', help: 'noise draws per input for odds / logit-discrepancy (defaults: 256 / 16)' },
  { name: 'noise', type: 'strings', metavar: 'DIST:EPS,...', help: `noise settings, DIST one of ${NOISE_DISTS.join('|')} (defaults: odds gaussian:0.1176, logit-discrepancy uniform:0.1)` },
  { name: 'seed', type: 'int', default: 0, help: 'seed for every random draw' },
];

export const CALIB_OPTIONS: OptSpec[] = [
  { name: 'fpr', type: 'number', default: 0.05, help: 'target false-positive rate on clean inputs' },
  { name: 'calib-split', type: 'string', choices: ['train', 'test'], default: 'test', help: 'split holding the clean calibration inputs (must be held out from training)' },
  { name: 'calib-start', type: 'int', help: 'first calibration example (default: eval — right after the evaluated examples; calibrate — a seeded random sample of the split)' },
  { name: 'calib-n', type: 'int', default: 1000, help: 'clean calibration inputs (odds fits its statistics on half, thresholds on the rest)' },
];

/** A model with its calibrated detector: what `alp detect` and `alp detect serve` load. */
const GUARDED_MODEL_OPTIONS: OptSpec[] = [
  { name: 'model', type: 'string', metavar: 'PATH', help: 'model folder or model.json (with detector.json beside it)' },
  OUTPUT_NODE_OPTION,
  { name: 'detector', type: 'string', metavar: 'FILE', help: 'detector.json to use (default: beside the model)' },
];

export const DETECT_CHECK_SPEC: CommandSpec = {
  name: 'detect',
  summary: 'classify inputs and flag the ones a calibrated detector finds suspicious',
  usage: 'alp detect --model PATH [--input FILE,...] [FILE ...]    (subcommands: calibrate, eval, serve)',
  positionals: 'input files',
  options: [
    ...GUARDED_MODEL_OPTIONS,
    { name: 'input', type: 'strings', metavar: 'FILE,...', help: 'inputs: .f32 from alp attack (shape from attack.json), IDX (.gz ok), or PNG; also as plain arguments' },
    { name: 'shape', type: 'numbers', metavar: 'N,H,W,C', help: 'shape of a raw .f32 file without attack.json' },
    ...outAndForce({ metavar: 'FILE', help: 'also write the results as JSON here' }, 'a file at --out that holds another check, or no check'),
    ...COMMON_OPTIONS,
  ],
  examples: [
    'alp detect calibrate --model runs/demo/alp --detector odds --fpr 0.05',
    'alp attack --model runs/demo/alp --n 16 --out runs/adv && alp detect --model runs/demo/alp runs/adv/adversarial.f32',
    'alp detect --model runs/demo/alp digit.png t10k-images-idx3-ubyte.gz --json',
    'alp detect eval --model runs/demo/standard,runs/demo/alp --n 500',
    'alp detect serve --model runs/demo/alp --port 8080',
  ],
};

export const DETECT_CALIBRATE_SPEC: CommandSpec = {
  name: 'detect calibrate',
  summary: 'fit a detector on clean held-out inputs for a target false-positive rate; writes detector.json beside model.json',
  usage: 'alp detect calibrate --model PATH [--detector odds] [--fpr 0.05] [options]',
  options: [
    { name: 'model', type: 'string', metavar: 'PATH', help: 'model folder or model.json' },
    OUTPUT_NODE_OPTION,
    { name: 'detector', type: 'string', choices: DETECTOR_KINDS, default: 'odds', help: 'which detector' },
    ...CALIB_OPTIONS,
    ...DETECTOR_OPTIONS,
    ...DATA_OPTIONS,
    ...outAndForce({ metavar: 'FILE', help: 'where to write (default: detector.json beside model.json)' }, 'a detector.json calibrated for other weights, data, detector settings or FPR'),
    ...COMMON_OPTIONS,
  ],
  examples: [
    'alp detect calibrate --model runs/demo/alp',
    'alp detect calibrate --model runs/demo/alp --detector logit-discrepancy --fpr 0.01 --calib-n 2000',
    'alp detect calibrate --model runs/demo/standard --detector odds --noise gaussian:0.05,uniform:0.1 --samples 128',
  ],
};

export const DETECT_EVAL_SPEC: CommandSpec = {
  name: 'detect eval',
  summary: 'ROC-AUC and TPR at fixed FPR of each detector against non-adaptive and adaptive attacks (text models: real word swaps)',
  usage: 'alp detect eval --model PATH[,PATH...] [options]',
  options: [
    { name: 'model', type: 'strings', metavar: '[LABEL=]PATH,...', help: 'models to compare (e.g. standard and ALP); label defaults to the folder name' },
    { name: 'detectors', type: 'strings', choices: DETECTOR_KINDS, default: [...DETECTOR_KINDS], help: 'detectors to evaluate' },
    { name: 'n', type: 'int', default: 500, help: 'evaluate on the first N test examples' },
    ...CALIB_OPTIONS,
    { name: 'fprs', type: 'numbers', default: [0.01, 0.05], help: 'report TPR at these false-positive rates' },
    { name: 'norm', type: 'string', choices: ['linf', 'l2'], default: 'linf', help: 'threat model norm' },
    { name: 'eps', type: 'number', default: 0.3, help: 'perturbation radius' },
    { name: 'attacks', type: 'strings', choices: ATTACK_NAMES, default: defaultDetectAttacks(), help: 'non-adaptive attacks' },
    { name: 'steps', type: 'int', default: 40, help: 'steps of the non-adaptive iterative attacks' },
    { name: 'restarts', type: 'int', default: 1, help: 'random restarts of the non-adaptive attacks' },
    { name: 'adaptive-steps', type: 'int', default: 50, help: 'PGD steps per adaptive strategy' },
    { name: 'lambdas', type: 'numbers', default: [0, 1, 10, 100], help: 'weights of the detector term in the adaptive objective (0 = plain CW)' },
    { name: 'eot', type: 'int', default: 16, help: 'noise draws per step for the adaptive attack (expectation over transformations)' },
    { name: 'check-every', type: 'int', default: 10, help: 'adaptive attack: check success on the real detector every N steps' },
    { name: 'no-adaptive', type: 'boolean', help: 'skip the adaptive attack' },
    { name: 'swaps', type: 'int', default: 2, help: 'text models: at most this many real words swapped per message (HotFlip, and the adaptive swap search)' },
    { name: 'probe', type: 'int', default: 8, help: 'text models, adaptive: swaps per step re-checked on the real message with the real detector' },
    ...WORD_SWAP_OPTIONS,
    ...DETECTOR_OPTIONS,
    ...DATA_OPTIONS,
    ...MODEL_INPUT_OPTIONS,
    { name: 'batch-size', type: 'int', default: 100, help: 'examples attacked / scored at once' },
    WORKERS_OPTION,
    { ...SHARD_OPTION, help: 'evaluate only shard K of N (K = 1..N) of the test examples, cut at whole groups of --batch-size rows; every shard calibrates on the whole calibration set; the output records the shard for `alp merge`' },
    ...outAndForce({ metavar: 'FILE', help: "write the JSON report here (default: detect-eval.json beside model.json, NAME.detect-eval.json beside a model file NAME.json; for several models, detect-eval.json in the folder they share or in their folders' common parent, else --out is required; detect-eval.shard-K-of-N.json there with --shard)" }, 'an output that holds the detect eval of other weights or settings'),
    ...COMMON_OPTIONS,
  ],
  examples: [
    'alp detect eval --model runs/demo/standard,runs/demo/alp',
    'alp detect eval --model std=runs/demo/standard,alp=runs/demo/alp --detectors odds,margin --n 1000 --json',
    'alp detect eval --model runs/demo/alp --eps 0.1 --attacks pgd-ce,pgd-cw --adaptive-steps 100 --lambdas 0,0.1,1,10,100',
    'alp detect eval --model std=runs/spam-std,alp=runs/spam-alp --n 200 --detectors logit-discrepancy,margin --swaps 2   # text: word swaps',
    'alp detect eval --model runs/demo/alp --workers 2   # calibrated here, test examples split over two threads',
    'alp detect eval --model runs/demo/alp --shard 2/4 --out shards/detect-2.json   # then: alp merge shards --out detect-eval.json',
  ],
};

export const DETECT_SERVE_SPEC: CommandSpec = {
  name: 'detect serve',
  summary: 'serve a guarded model over HTTP on 127.0.0.1 (GET /health, POST /check)',
  usage: 'alp detect serve --model PATH [--port 0]',
  options: [
    ...GUARDED_MODEL_OPTIONS,
    { name: 'port', type: 'int', default: 0, help: 'port on 127.0.0.1 (0: any free port; the URL is printed)' },
    { name: 'max-batch', type: 'int', default: 64, help: 'most images per request' },
    { name: 'max-body-bytes', type: 'int', default: 8 * 1024 * 1024, help: 'largest request body' },
    ...COMMON_OPTIONS,
  ],
  examples: [
    'alp detect serve --model runs/demo/alp --port 8080',
    `curl -s -X POST localhost:8080/check -H 'content-type: application/json' -d '{"inputs": [[0, 0.5, ...]]}'`,
  ],
};
