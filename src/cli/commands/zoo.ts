/** `alp zoo list | verify | add`: the packaged models (model/zoo-paths.ts, model/zoo-card.ts, artifacts/zoo.ts). */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { addToZoo, cardAuditArgs } from '../../artifacts/zoo.js';
import { checkZooWeights, compareWithCard, listZoo, readCard } from '../../model/zoo-card.js';
import { ZOO_RUNS, zooModelDir, zooRoot } from '../../model/zoo-paths.js';
import { EXIT, UserError } from '../../util/errors.js';
import { get, parseCommand, type Parsed } from '../args.js';
import { emit, pct, table } from '../common.js';
import { say } from '../progress.js';
import { AUDIT_SPEC } from '../specs/audit.js';
import type { ZooSubcommand } from '../specs/zoo.js';

export const ZOO_LIST_SCHEMA = 'alp.zoo-list/1';

const mib = (bytes: number): string => `${(bytes / 1048576).toFixed(2)} MiB`;

function list(p: Parsed): number {
  const models = listZoo();
  const total = models.reduce((a, m) => a + m.bytes, 0);
  const rows = [['name', 'data', 'threat model', 'method', 'clean', 'audited', 'word swaps', 'budget (examples)', 'size'],
    ...models.map((m) => [m.name, m.dataset, m.threat, m.method, pct(m.clean), pct(m.audited),
      m.wordSwaps !== undefined ? m.wordSwaps.map((pt) => `k≤${pt.k} ${pct(pt.accuracy)}`).join(', ') : '—', `${m.budget} (${m.examples})`, mib(m.bytes)])];
  emit(p, { schema: ZOO_LIST_SCHEMA, root: zooRoot(), totalBytes: total, models },
    models.length === 0 ? `the zoo (${zooRoot()}) is empty` : `${table(rows)}\n\n${models.length} models, ${mib(total)} in ${zooRoot()}; use one as --model zoo:NAME`);
  return EXIT.ok;
}

async function verify(p: Parsed): Promise<number> {
  const name = p._[0] as string;
  const dir = zooModelDir(name);
  const card = readCard(dir);
  const quiet = get.bool(p, 'quiet') || get.bool(p, 'json');
  checkZooWeights(dir, card);
  say(quiet, `zoo:${name}: weights match the card's SHA-256 (${card.weights.sha256.slice(0, 16)}…)`);
  if (get.bool(p, 'weights-only')) {
    emit(p, { name, weights: 'ok', sha256: card.weights.sha256 }, `zoo:${name}: weights ok`);
    return EXIT.ok;
  }
  // The card's own audit command, results under runs/zoo/NAME/verify (never beside the packaged model).
  const out = join(ZOO_RUNS, name, 'verify');
  const workers = get.num(p, 'workers');
  const backend = get.str(p, 'backend');
  const args = [...cardAuditArgs(card, dir), '--out', out, '--force', '--fresh', ...(quiet ? ['--quiet'] : []),
    ...(workers !== undefined ? ['--workers', String(workers)] : []), ...(backend !== undefined ? ['--backend', backend] : [])];
  say(quiet, `zoo:${name}: ${card.numbers.audit.command}`);
  const audit = parseCommand(args, AUDIT_SPEC) as Parsed;
  const { runAuditCommand } = await import('./audit.js');
  // With --quiet/--json the audit's own table would bury the verdict (or break the JSON): it is not printed.
  const write = process.stdout.write.bind(process.stdout);
  if (quiet) process.stdout.write = ((): boolean => true) as typeof process.stdout.write;
  try {
    await runAuditCommand(audit, args);
  } finally {
    process.stdout.write = write;
  }
  const j = JSON.parse(readFileSync(join(out, 'audit.json'), 'utf8')) as { cleanAccuracy: number; worstCaseAccuracy: number; wordSwaps?: { points: Array<{ k: number; worstCaseAccuracy: number }> } };
  const wordSwaps = j.wordSwaps?.points.map((pt) => ({ k: pt.k, accuracy: pt.worstCaseAccuracy }));
  const checks = compareWithCard(card, { clean: j.cleanAccuracy, audited: j.worstCaseAccuracy, ...(wordSwaps !== undefined ? { wordSwaps } : {}) });
  const ok = checks.every((c) => c.ok);
  const rows = [['', 'card', 'measured', ''], ...checks.map((c) => [c.field, pct(c.card), pct(c.measured), c.ok ? 'ok' : `differs by more than ${(100 * card.tolerance).toFixed(1)} points`])];
  emit(p, { name, weights: 'ok', tolerance: card.tolerance, checks, ok, audit: join(out, 'audit.json') },
    `\n${table(rows)}\nzoo:${name}: ${ok ? 'the card reproduces' : 'the card does NOT reproduce'} (audit in ${join(out, 'audit.json')})`);
  return ok ? EXIT.ok : EXIT.gate;
}

function add(p: Parsed): number {
  const name = get.str(p, 'name') as string;
  const ind = get.str(p, 'independent');
  let independent = null;
  if (ind !== undefined) {
    const [acc, by, ...cmd] = ind.split(':');
    const a = Number(acc);
    if (!(a >= 0 && a <= 1) || by === undefined || by === '' || cmd.length === 0) throw new UserError(`--independent: expected ACC:BY:COMMAND with ACC a fraction, got '${ind}'`);
    independent = { accuracy: a, by, command: cmd.join(':') };
  }
  const r = addToZoo(p._[0] as string, get.str(p, 'audit') as string, {
    name, summary: get.str(p, 'summary') ?? `${name}.`, tolerance: get.num(p, 'tolerance') as number, independent, force: get.bool(p, 'force'),
  });
  emit(p, { dir: r.dir, card: r.card }, `zoo:${name} written to ${r.dir}: clean ${pct(r.card.numbers.clean)}, audited ${pct(r.card.numbers.audited)} (${r.card.numbers.audit.budget}); check it with alp zoo verify ${name}`);
  return EXIT.ok;
}

/** `alp zoo SUB` on arguments parsed and checked against its spec (cli/specs/zoo.ts). */
export async function runZooCommand(sub: ZooSubcommand, p: Parsed): Promise<number> {
  if (sub === 'list') return list(p);
  if (sub === 'verify') return verify(p);
  return add(p);
}
