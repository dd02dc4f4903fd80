/**
 * Options that do not apply to this run are refused, not silently ignored: a word-swap option on an
 * image model, an image attack's setting on a word attack, an option that only means something beside
 * another one. Judged from the command line as typed (a default is never "given").
 */
import { UserError } from '../util/errors.js';

/** The options typed on the command line (`--name` or `--name=value`), by name. */
export function givenOptions(argv: readonly string[]): Set<string> {
  const out = new Set<string>();
  for (const a of argv) {
    if (a === '--') break;
    const m = /^--([a-z][\w-]*)(?:=.*)?$/.exec(a);
    if (m !== null) out.add(m[1] as string);
  }
  return out;
}

/** Refuses the first of `names` that was typed, with `--name: ` + `why` (exit 2). */
export function refuseGiven(argv: readonly string[], names: readonly string[], why: string): void {
  const given = givenOptions(argv);
  const hit = names.find((n) => given.has(n));
  if (hit !== undefined) throw new UserError(`--${hit}: ${why}`);
}
