#!/usr/bin/env node
/**
 * alp's command line: a thin shell over the library. Errors the user can act on print one line and
 * exit with their own status (util/errors.ts EXIT, README "Exit codes"); anything else is a bug and
 * keeps its stack trace (exit 1).
 */
import { EXIT, ioErrorOf, isUserError } from '../util/errors.js';
import { InterruptedError } from '../util/interrupt.js';
import { createRequire } from 'node:module';
import { optionMessage } from './args.js';
import { attackCommand } from './commands/attack.js';
import { auditCommand } from './commands/audit.js';
import { demoCommand } from './commands/demo.js';
import { evalCommand } from './commands/eval.js';
import { trainCommand } from './commands/train.js';

const COMMANDS: Record<string, { run: (argv: string[]) => Promise<number | void>; summary: string }> = {
  demo: { run: demoCommand, summary: 'train a standard and an ALP model on MNIST, attack both, compare' },
  train: { run: trainCommand, summary: 'train with alp, pgd-at, trades, clp, lsq, fgsm-rs or standard' },
  eval: { run: evalCommand, summary: 'clean and robust accuracy under an attack suite (worst case per example)' },
  attack: { run: attackCommand, summary: 'write adversarial examples: PNG grid and raw tensors' },
  detect: { run: async (a) => (await import('./commands/detect.js')).detectCommand(a), summary: 'detect adversarial inputs: calibrate, evaluate (incl. adaptive attacks), check files, serve' },
  audit: { run: auditCommand, summary: 'strong attack cascade and gradient-masking diagnostics' },
  report: { run: async (a) => (await import('./commands/report.js')).reportCommand(a), summary: 'self-contained HTML page: charts, examples, findings, reproduce' },
  playground: { run: async (a) => (await import('./commands/playground.js')).playgroundCommand(a), summary: 'offline page on 127.0.0.1: attack the models live in the browser' },
  merge: { run: async (a) => (await import('./commands/merge.js')).mergeCommand(a), summary: 'combine the shards of an eval or audit run (--shard K/N) into the unsharded result' },
  compare: { run: async (a) => (await import('./commands/compare.js')).compareCommand(a), summary: 'every training method on one time budget, audited side by side' },
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
  return (await c.run(rest)) ?? 0;
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
