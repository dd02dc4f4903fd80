/**
 * Attack options arrive from JavaScript callers and JSON as much as from typed code, so every attack
 * constructor rejects keys it does not know: a misspelt `restart` would otherwise be silently ignored
 * and the attack run with its default.
 */
import { UserError } from '../util/errors.js';

export function rejectUnknownOptions(attack: string, o: object, known: readonly string[]): void {
  for (const k of Object.keys(o)) {
    if (!known.includes(k)) throw new UserError(`${attack} options: unknown option '${k}' (expected one of ${known.join(', ')})`);
  }
}
