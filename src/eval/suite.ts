/** Named attack suites built from a threat model, so CLI, demo and tests describe attacks the same way. */
import type { Attack } from '../attack/attack.js';
import { Fgsm } from '../attack/fgsm.js';
import { Pgd } from '../attack/pgd.js';
import { Apgd } from '../attack/apgd.js';
import { Square } from '../attack/square.js';
import type { ThreatModel } from '../attack/threat-model.js';
import { OptionError } from '../util/errors.js';

import type { Replacement } from './few-classes.js';
import { ATTACK_NAMES, DEFAULT_EVAL_ATTACKS, DEFAULT_EVAL_QUERIES, DEFAULT_SURVIVORS, type AttackName } from './attack-names.js';

export { ATTACK_NAMES, DEFAULT_EVAL_ATTACKS, DEFAULT_EVAL_QUERIES, DEFAULT_SURVIVORS, type AttackName };

export interface SuiteSpec {
  threat: ThreatModel;
  attacks: readonly AttackName[];
  steps: number;
  restarts: number;
  seed: number;
  stepSize?: number;
  /** Query budget of the Square attack (default 1000). */
  queries?: number;
  /** The Square attack's p_init and schedule (defaults: 0.8, rescaled to the budget; ../attack/square.ts). */
  square?: { pInit?: number; rescaleSchedule?: boolean };
  /**
   * Attacks (by name) that run only on the examples every earlier attack of the suite failed to fool, as
   * in an AutoAttack cascade: a slow attack late in the suite then costs only the survivors, and its robust
   * accuracy is the one left after it and all before it.
   */
  survivors?: readonly string[];
  /**
   * Attacks of the requested suite that this model's class count does not allow, and what runs instead
   * (./few-classes.ts). A record for the result files; building the suite does not read it.
   */
  replaced?: readonly Replacement[];
}

/** Per attack of the suite, whether it runs on the survivors of the attacks before it only. */
export function survivorsMask(s: SuiteSpec): boolean[] {
  const names = s.survivors ?? [];
  const unknown = names.filter((n) => !(s.attacks as readonly string[]).includes(n));
  if (unknown.length > 0) throw new OptionError(`{survivors}: expected names among the suite's attacks (${s.attacks.join(', ')}), got '${unknown.join(', ')}'`);
  return s.attacks.map((a) => names.includes(a));
}

export function buildSuite(s: SuiteSpec): Attack[] {
  return s.attacks.map((name, i) => {
    const seed = s.seed + 1000 * i;
    const common = { threat: s.threat, steps: s.steps, restarts: s.restarts, seed, ...(s.stepSize !== undefined ? { stepSize: s.stepSize } : {}) };
    switch (name) {
      case 'fgsm':
        return new Fgsm({ threat: s.threat, loss: 'ce' });
      case 'pgd-ce':
        return new Pgd({ ...common, loss: 'ce' });
      case 'pgd-cw':
        return new Pgd({ ...common, loss: 'cw' });
      case 'apgd-ce':
        return new Apgd({ threat: s.threat, steps: s.steps, restarts: s.restarts, seed, loss: 'ce' });
      case 'apgd-dlr':
        return new Apgd({ threat: s.threat, steps: s.steps, restarts: 1, seed, loss: 'dlr-targeted', targetClasses: 9 });
      case 'apgd-dlr-untargeted':
        return new Apgd({ threat: s.threat, steps: s.steps, restarts: s.restarts, seed, loss: 'dlr' });
      case 'apgd-cw':
        return new Apgd({ threat: s.threat, steps: s.steps, restarts: s.restarts, seed, loss: 'cw' });
      case 'square':
        return new Square({ threat: s.threat, queries: s.queries ?? 1000, restarts: 1, seed, ...s.square });
      default:
        throw new OptionError(`{attacks}: expected names from ${ATTACK_NAMES.join(', ')}, got '${name}'`);
    }
  });
}
