#!/usr/bin/env node
/**
 * alp's command line: a thin shell over the library. Errors the user can act on print one line and
 * exit with their own status (util/errors.ts EXIT, docs/exit-codes.md); anything else is a bug and
 * keeps its stack trace (exit 1).
 */
import { EXIT, ioErrorOf, isUserError } from '../util/errors.js';
import { InterruptedError } from '../util/interrupt.js';
import { createRequire } from 'node:module';
import { optionMessage, parseCommand, type CommandSpec, type Parsed } from './args.js';
import { ATTACK_SPEC } from './specs/attack.js';
import { AUDIT_SPEC } from './specs/audit.js';
import { COMPARE_SPEC } from './specs/compare.js';
import { DEMO_SPEC } from './specs/demo.js';
import { EVAL_SPEC } from './specs/eval.js';
import { MERGE_SPEC } from './specs/merge.js';
import { PLAYGROUND_SPEC } from './specs/playground.js';
import { REPORT_SPEC } from './specs/report.js';
import { TRAIN_SPEC } from './specs/train.js';
import { parseZoo } from './specs/zoo.js';

/**
 * A command: its options (spec modules import no tfjs) and its work, imported only once the arguments
 * parsed and passed the spec's checks. Importing tfjs and the wasm backend takes about a second, so
 * --help, a typo or a missing option is answered without it. `detect` (subcommands, each with its own
 * spec) still parses after loading.
 */
type Command = { summary: string } & (
  | { spec: CommandSpec; run: (p: Parsed, argv: string[]) => Promise<number | void> }
  | { spec?: undefined; run: (argv: string[]) => Promise<number | void> }
);

const COMMANDS: Record<string, Command> = {
  demo: { summary: 'train a standard and an ALP model on MNIST, attack both, compare', spec: DEMO_SPEC, run: async (p, a) => (await import('./commands/demo.js')).runDemoCommand(p, a) },
  train: { summary: 'train with alp, pgd-at, trades, clp, lsq, fgsm-rs or standard', spec: TRAIN_SPEC, run: async (p, a) => (await import('./commands/train.js')).runTrainCommand(p, a) },
  eval: { summary: 'clean and robust accuracy under an attack suite (worst case per example)', spec: EVAL_SPEC, run: async (p, a) => (await import('./commands/eval.js')).runEvalCommand(p, a) },
  attack: { summary: 'write adversarial examples: PNG grid and raw tensors', spec: ATTACK_SPEC, run: async (p, a) => (await import('./commands/attack.js')).runAttackCommand(p, a) },
  detect: { summary: 'detect adversarial inputs: calibrate, evaluate (incl. adaptive attacks), check files, serve', run: async (a) => (await import('./commands/detect.js')).detectCommand(a) },
  audit: { summary: 'strong attack cascade and gradient-masking diagnostics', spec: AUDIT_SPEC, run: async (p, a) => (await import('./commands/audit.js')).runAuditCommand(p, a) },
  report: { summary: 'self-contained HTML page: charts, examples, findings, reproduce', spec: REPORT_SPEC, run: async (p) => (await import('./commands/report.js')).runReportCommand(p) },
  playground: { summary: 'offline page on 127.0.0.1: attack the models live in the browser', spec: PLAYGROUND_SPEC, run: async (p) => (await import('./commands/playground.js')).runPlaygroundCommand(p) },
  merge: { summary: 'combine the shards of an eval, audit, detect eval or compare run (--shard K/N) into the unsharded result', spec: MERGE_SPEC, run: async (p) => (await import('./commands/merge.js')).runMergeCommand(p) },
  compare: { summary: 'every training method on one time budget, audited side by side', spec: COMPARE_SPEC, run: async (p, a) => (await import('./commands/compare.js')).runCompareCommand(p, a) },
  zoo: {
    summary: 'the packaged robust models (--model zoo:NAME): list, verify against their cards, add a run',
    run: async (a) => {
      const z = parseZoo(a);
      return z === undefined ? 0 : (await import('./commands/zoo.js')).runZooCommand(z.sub, z.p);
    },
  },
};

function usage(): string {
  return [
    'alp — Adversarial Logit Pairing and honest robustness evaluation for TensorFlow.js',
    '',
    'Usage: alp <command> [options]   (alp <command> --help for its options; alp --version)',
    '',
    ...Object.entries(COMMANDS).map(([k, v]) => `  ${k.padEnd(11)}${v.summary}`),
  ].join('\n');
}

async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  if (cmd === '--version' || cmd === '-V' || cmd === 'version') {
    const pkg = createRequire(import.meta.url)('../../package.json') as { version: string };
    process.stdout.write(`alp ${pkg.version}\n`);
    return 0;
  }
  if (cmd === undefined || cmd === '--help' || cmd === '-h' || cmd === 'help') {
    process.stdout.write(usage() + '\n');
    return cmd === undefined ? 2 : 0;
  }
  const c = COMMANDS[cmd];
  if (c === undefined) {
    process.stderr.write(`alp: unknown command '${cmd}' (expected one of ${Object.keys(COMMANDS).join(', ')})\n`);
    return 2;
  }
  if (c.spec === undefined) return (await c.run(rest)) ?? 0;
  const p = parseCommand(rest, c.spec);
  return p === undefined ? 0 : ((await c.run(p, rest)) ?? 0);
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    // Stopped by Ctrl-C/SIGTERM at a safe point: the handler has said what was kept; only the status is left.
    if (e instanceof InterruptedError) {
      process.exitCode = e.code;
      return;
    }
    // Errors the user can act on (bad input, disk full, divergence, …): one line, their own status.
    const known = isUserError(e) ? e : ioErrorOf(e);
    if (known !== undefined) {
      // The library names its options (batchSize); the user typed flags (--batch-size).
      process.stderr.write(`alp: ${optionMessage(known)}\n`);
      process.exitCode = known.code;
    } else {
      process.stderr.write(`alp: internal error (please report): ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
      process.exitCode = EXIT.internal;
    }
  },
);
