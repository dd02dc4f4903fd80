/** `alp zoo`'s subcommands and their options: no tfjs here (see cli/options.ts), so they are checked before a command loads it. */
import { UserError } from '../../util/errors.js';
import { get, OUTPUT_OPTIONS, parseCommand, type CommandSpec, type Parsed } from '../args.js';
import { COMMON_OPTIONS } from '../options.js';

export type ZooSubcommand = 'list' | 'verify' | 'add';
export const ZOO_SUBCOMMANDS: readonly ZooSubcommand[] = ['list', 'verify', 'add'];

const LIST: CommandSpec = {
  name: 'zoo list',
  summary: "the packaged robust models: name, data, threat model, clean and audited accuracy, size",
  usage: 'alp zoo list [--json]',
  options: [...OUTPUT_OPTIONS],
  examples: ['alp zoo list', 'alp zoo list --json'],
};

const VERIFY: CommandSpec = {
  name: 'zoo verify',
  summary: "check a zoo model's weights against its card's SHA-256, then rerun the card's audit and compare the clean and audited numbers",
  usage: 'alp zoo verify NAME [--workers N]',
  positionals: 'NAME',
  options: [
    { name: 'workers', type: 'int', metavar: 'N', help: 'worker threads for the audit (default: as alp audit)' },
    { name: 'weights-only', type: 'boolean', help: 'check the SHA-256 only (seconds; no audit)' },
    ...COMMON_OPTIONS,
  ],
  examples: ['alp zoo verify mnist-alp', 'alp zoo verify mnist-alp --weights-only'],
  check: (p) => {
    if (p._.length !== 1) throw new UserError(`alp zoo verify: expected one model NAME, got ${p._.length} (see alp zoo list)`);
  },
};

const ADD: CommandSpec = {
  name: 'zoo add',
  summary: 'package a trained run as zoo model NAME: model, weights, train.json, its audit, and a card (card.json + README.md) written from them',
  usage: 'alp zoo add RUN_DIR --name NAME --audit AUDIT_JSON [--summary TEXT]',
  positionals: 'RUN_DIR',
  options: [
    { name: 'name', type: 'string', metavar: 'NAME', help: 'zoo name (lower-case letters, digits, -)' },
    { name: 'audit', type: 'string', metavar: 'FILE', help: "the audit.json of this run's weights (alp audit); its examples.f32 comes along" },
    { name: 'summary', type: 'string', metavar: 'TEXT', help: 'one paragraph for the card: what the model is' },
    { name: 'tolerance', type: 'number', default: 0.005, help: 'how far (fraction) alp zoo verify may find a number from the card' },
    { name: 'independent', type: 'string', metavar: 'ACC:BY:COMMAND', help: 'an independent evaluation: accuracy (fraction), who/what measured it, its command' },
    { name: 'force', type: 'boolean', help: 'replace zoo model NAME' },
    ...OUTPUT_OPTIONS,
  ],
  examples: ['alp zoo add runs/zoo/mnist-alp --name mnist-alp --audit runs/zoo/mnist-alp/audit.json --summary "…"'],
  check: (p) => {
    if (p._.length !== 1) throw new UserError(`alp zoo add: expected one RUN_DIR, got ${p._.length}`);
    if (get.str(p, 'name') === undefined) throw new UserError('alp zoo add: --name is required');
    if (get.str(p, 'audit') === undefined) throw new UserError('alp zoo add: --audit is required (the audit.json of these weights)');
    const t = get.num(p, 'tolerance') as number;
    if (!(t >= 0 && t < 1)) throw new UserError(`alp zoo add: --tolerance expects a fraction in [0,1), got ${t}`);
  },
};

export const ZOO_SPECS: Record<ZooSubcommand, CommandSpec> = { list: LIST, verify: VERIFY, add: ADD };

export function zooUsage(): string {
  return ['alp zoo — robust models packaged with alp, usable as --model zoo:NAME', '', 'Usage: alp zoo <list|verify|add> [options]   (alp zoo <subcommand> --help)', '',
    ...ZOO_SUBCOMMANDS.map((s) => `  ${s.padEnd(8)}${ZOO_SPECS[s].summary}`)].join('\n');
}

/** `alp zoo SUB ARGS` parsed and checked, or undefined when help was printed. */
export function parseZoo(argv: string[]): { sub: ZooSubcommand; p: Parsed } | undefined {
  const [sub, ...rest] = argv;
  if (sub === undefined || sub === '--help' || sub === '-h' || sub === 'help') {
    process.stdout.write(zooUsage() + '\n');
    if (sub === undefined) throw new UserError(`alp zoo: expected a subcommand (${ZOO_SUBCOMMANDS.join(', ')})`);
    return undefined;
  }
  if (!(ZOO_SUBCOMMANDS as readonly string[]).includes(sub)) throw new UserError(`alp zoo: unknown subcommand '${sub}' (expected one of ${ZOO_SUBCOMMANDS.join(', ')})`);
  const p = parseCommand(rest, ZOO_SPECS[sub as ZooSubcommand]);
  return p === undefined ? undefined : { sub: sub as ZooSubcommand, p };
}
