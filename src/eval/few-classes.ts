/**
 * Suites for models with few classes. The DLR losses read ranked logits: targeted DLR (APGD-T) divides by
 * z_π1 − (z_π3 + z_π4)/2 and needs 4 classes, untargeted DLR divides by z_π1 − z_π3 and needs 3. A default
 * suite therefore steps down as the class count does, in the spirit of AutoAttack's own checks:
 *
 *   ≥ 4 classes   APGD-T (apgd-dlr) as asked
 *     3 classes   APGD on the untargeted DLR loss (apgd-dlr-untargeted)
 *     2 classes   APGD on the CW margin (apgd-cw): with one wrong class the margin is the only logit
 *                 difference there is, and, as DLR does, it keeps its gradient where a saturated softmax
 *                 leaves CE none (APGD's sign steps and loss comparisons ignore its scale)
 *
 * A stand-in the suite already holds is not run twice. An attack the user named explicitly is never
 * swapped: it is refused with the reason (`refuseUnfit`).
 *
 * No tfjs here, so options can be checked before it loads.
 */
import { UserError } from '../util/errors.js';
import type { AttackName } from './attack-names.js';

/** One attack of a requested suite that the class count does not allow, and what runs instead (null: nothing, the stand-in is already there). */
export interface Replacement {
  attack: AttackName;
  by: AttackName | null;
  reason: string;
}

/** The fewest classes an attack of the suites can run on; `targeted` for an explicit target class. */
export function minClasses(name: AttackName, targeted = false): number {
  if (name === 'apgd-dlr') return 4;
  // With a given target the untargeted DLR attack runs the targeted DLR loss (attack/apgd.ts).
  if (name === 'apgd-dlr-untargeted') return targeted ? 4 : 3;
  return 2;
}

/** Stand-ins in order of preference: the first one the class count allows is taken. */
const STAND_INS: Partial<Record<AttackName, AttackName[]>> = {
  'apgd-dlr': ['apgd-dlr-untargeted', 'apgd-cw'],
  'apgd-dlr-untargeted': ['apgd-cw'],
};

function why(name: AttackName, classes: number): string {
  const what = name === 'apgd-dlr' ? 'APGD-T\'s targeted DLR loss reads the 1st, 3rd and 4th largest logits and needs 4 classes'
    : 'the untargeted DLR loss reads the 1st and 3rd largest logits and needs 3 classes';
  return `${what}; the model has ${classes}`;
}

function standInReason(by: AttackName): string {
  return by === 'apgd-dlr-untargeted'
    ? 'APGD on the untargeted DLR loss instead (AutoAttack\'s APGD-DLR), still invariant to shifting and scaling the logits'
    : 'APGD on the CW margin max_{j≠y} z_j − z_y instead, which like DLR keeps its gradient where the softmax saturates';
}

/**
 * The suite `attacks` fitted to `classes`: attacks that need more classes replaced by their stand-ins
 * (or dropped where the stand-in is already in the suite), survivors renamed alike, and the record of it.
 */
export function fitSuiteToClasses(
  attacks: readonly AttackName[], classes: number, survivors: readonly string[] = [],
): { attacks: AttackName[]; survivors: string[]; replaced: Replacement[] } {
  if (!Number.isInteger(classes) || classes < 2) throw new UserError(`the model has ${classes} classes; alp needs at least 2`);
  const out: AttackName[] = [];
  const replaced: Replacement[] = [];
  const renamed = new Map<string, string | null>();
  for (const a of attacks) {
    if (minClasses(a) <= classes) {
      out.push(a);
      continue;
    }
    const by = (STAND_INS[a] ?? []).find((s) => minClasses(s) <= classes) ?? null;
    if (by === null) throw new Error(`fitSuiteToClasses: no stand-in for ${a} with ${classes} classes`);
    const present = out.includes(by) || attacks.includes(by);
    replaced.push({ attack: a, by: present ? null : by, reason: `${why(a, classes)}; ${present ? `${by} is already in the suite` : standInReason(by)}` });
    renamed.set(a, present ? null : by);
    if (!present) out.push(by);
  }
  const surv = survivors.flatMap((s) => {
    const r = renamed.has(s) ? renamed.get(s) : s;
    return r === null || r === undefined ? [] : [r];
  });
  return { attacks: out, survivors: [...new Set(surv)], replaced };
}

/** Throws a UserError naming `flag` when an attack the user asked for cannot run on `classes` classes. */
export function refuseUnfit(attacks: readonly AttackName[], classes: number, flag: string, targeted = false): void {
  for (const a of attacks) {
    const need = minClasses(a, targeted);
    if (need <= classes) continue;
    const alt = (STAND_INS[a] ?? ['apgd-cw']).filter((s) => minClasses(s, targeted) <= classes);
    const reason = targeted && a === 'apgd-dlr-untargeted' ? `with a target class it runs the targeted DLR loss, which needs 4 classes; the model has ${classes}` : why(a, classes);
    throw new UserError(`${flag}: ${a} cannot run on this model: ${reason} (use ${[...alt, 'apgd-ce'].join(' or ')})`);
  }
}

/** One line per replacement, for the command's output. */
export function replacementLines(replaced: readonly Replacement[]): string[] {
  return replaced.map((r) => `${r.attack} ${r.by !== null ? `replaced by ${r.by}` : 'left out'}: ${r.reason}`);
}
