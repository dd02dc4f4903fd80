/**
 * Command lines that reproduce a run, rebuilt from what its files recorded: `alp train` from the
 * training config (every option spelled out, so a later change of defaults cannot change the run),
 * `alp eval` from the attack configs in eval.json, `alp audit` from audit.json.
 */
import { optionText } from '../train/config-argv.js';
import type { AuditData, EvalData, Obj } from './runs.js';

/**
 * Training config field → `alp train` option: the field in kebab case (batchSize → --batch-size),
 * except where the option is named otherwise. Given the options `alp train` accepts (the CLI passes
 * them; the report does not import the CLI), a field with no such option is left off the command line
 * rather than spelled as an option `alp train` would reject.
 */
const OPTION_EXCEPTIONS: Readonly<Record<string, string>> = { dataset: 'data' };

export function trainOptionOf(field: string, known?: ReadonlySet<string>): string | null {
  const name = OPTION_EXCEPTIONS[field] ?? field.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
  return (known === undefined || known.has(name)) && !['out', 'model', 'preset', 'resume'].includes(name) ? name : null;
}

/** Quotes a word for a POSIX shell when it needs it. */
export function shellQuote(word: string): string {
  if (word !== '' && /^[A-Za-z0-9_\-.,/:=@%+]+$/.test(word)) return word;
  return `'${word.replace(/'/g, `'\\''`)}'`;
}

export function commandLine(words: string[]): string {
  return words.map(shellQuote).join(' ');
}

export interface Rebuilt {
  argv: string[];
  /** Config fields the command line cannot express (shown beside it). */
  unmapped: string[];
}

/** `alp train ...` for a training config; `out` is the output folder. */
export function trainArgv(config: Obj, out: string, fineTunedFrom: string | null = null, known?: ReadonlySet<string>): Rebuilt {
  const argv = ['alp', 'train'];
  const unmapped: string[] = [];
  for (const [key, value] of Object.entries(config)) {
    const opt = trainOptionOf(key, known);
    const v = optionText(value);
    if (opt === null || v === null) {
      unmapped.push(key);
      continue;
    }
    argv.push(`--${opt}`, v);
  }
  if (fineTunedFrom !== null) argv.push('--model', fineTunedFrom);
  argv.push('--out', out);
  return { argv, unmapped };
}

/** Name in `--attacks` for an attack config written by the eval suite, or null if it has none. */
function suiteName(c: Obj | null): string | null {
  if (c === null) return null;
  if (c['attack'] === 'fgsm') return 'fgsm';
  if (c['attack'] === 'pgd' && (c['loss'] === 'ce' || c['loss'] === 'cw')) return `pgd-${c['loss']}`;
  return null;
}

/**
 * `alp eval ...` for an eval.json. A version-2 file records its suite spec, which gives the exact
 * command for every attack; an older file only has attack configs, from which FGSM/PGD suites are
 * rebuilt (null for any other attack).
 */
export function evalArgv(ev: EvalData, modelFolder: string, dataset: string | null): string[] | null {
  if (ev.suite !== null && ev.threat !== null) {
    const s = ev.suite;
    const argv = ['alp', 'eval', '--model', modelFolder];
    if (dataset !== null) argv.push('--data', dataset);
    if (ev.examples !== null) argv.push('--n', String(ev.examples));
    argv.push('--norm', ev.threat.norm, '--eps', String(ev.threat.eps), '--attacks', s.attacks.join(','),
      '--steps', String(s.steps), '--restarts', String(s.restarts), '--seed', String(s.seed));
    if (s.stepSize !== null) argv.push('--step-size', String(s.stepSize));
    if (s.queries !== null) argv.push('--queries', String(s.queries));
    // Spelled out either way, so a later change of the default cannot change what the command runs.
    argv.push('--survivors', s.survivors.length > 0 ? s.survivors.join(',') : 'none');
    if (ev.epsSweep.length > 0) argv.push('--eps-sweep', ev.epsSweep.map((p) => p.eps).join(','));
    return argv;
  }
  return legacyEvalArgv(ev, modelFolder, dataset);
}

/** Files written before eval.json recorded its suite: the suite seeded attack i with seed + 1000·i. */
function legacyEvalArgv(ev: EvalData, modelFolder: string, dataset: string | null): string[] | null {
  const names = ev.attacks.map((a) => suiteName(a.config));
  if (names.length === 0 || names.some((n) => n === null) || ev.threat === null) return null;
  const argv = ['alp', 'eval', '--model', modelFolder];
  if (dataset !== null) argv.push('--data', dataset);
  if (ev.examples !== null) argv.push('--n', String(ev.examples));
  argv.push('--norm', ev.threat.norm, '--eps', String(ev.threat.eps), '--attacks', names.join(','));
  const i = names.findIndex((n) => n !== 'fgsm');
  const pgd = i >= 0 ? ev.attacks[i]?.config ?? null : null;
  if (pgd !== null) {
    const steps = pgd['steps'];
    const restarts = pgd['restarts'];
    const seed = pgd['seed'];
    const stepSize = pgd['stepSize'];
    if (typeof steps === 'number') argv.push('--steps', String(steps));
    if (typeof restarts === 'number') argv.push('--restarts', String(restarts));
    if (typeof steps === 'number' && typeof stepSize === 'number' && Math.abs(stepSize - (2.5 * ev.threat.eps) / Math.max(steps, 1)) > 1e-12) {
      argv.push('--step-size', String(stepSize));
    }
    if (typeof seed === 'number') argv.push('--seed', String(seed - 1000 * i));
  }
  if (ev.epsSweep.length > 0) argv.push('--eps-sweep', ev.epsSweep.map((p) => p.eps).join(','));
  return argv;
}

/** `alp audit ...` from audit.json. */
export function auditArgv(a: AuditData, modelFolder: string, dataset: string | null): string[] | null {
  if (a.threat === null) return null;
  const argv = ['alp', 'audit', '--model', modelFolder];
  if (dataset !== null) argv.push('--data', dataset);
  if (a.examples !== null) argv.push('--n', String(a.examples));
  argv.push('--norm', a.threat.norm, '--eps', String(a.threat.eps));
  if (a.version !== null) argv.push('--budget', a.version);
  if (a.seed !== null) argv.push('--seed', String(a.seed));
  return argv;
}
