/** Named attack suites built from a threat model, so CLI, demo and tests describe attacks the same way. */
import type { Attack } from '../attack/attack.js';
import { Fgsm } from '../attack/fgsm.js';
import { Pgd } from '../attack/pgd.js';
import type { ThreatModel } from '../attack/threat-model.js';
import { UserError } from '../util/errors.js';

export const ATTACK_NAMES = ['fgsm', 'pgd-ce', 'pgd-cw'] as const;
export type AttackName = (typeof ATTACK_NAMES)[number];

export interface SuiteSpec {
  threat: ThreatModel;
  attacks: readonly string[];
  steps: number;
  restarts: number;
  seed: number;
  stepSize?: number;
}

export function buildSuite(s: SuiteSpec): Attack[] {
  return s.attacks.map((name, i) => {
    const seed = s.seed + 1000 * i;
    const common = { threat: s.threat, steps: s.steps, restarts: s.restarts, seed, ...(s.stepSize !== undefined ? { stepSize: s.stepSize } : {}) };
    switch (name) {
      case 'fgsm':
        return new Fgsm(s.threat, 'ce');
      case 'pgd-ce':
        return new Pgd({ ...common, loss: 'ce' });
      case 'pgd-cw':
        return new Pgd({ ...common, loss: 'cw' });
      default:
        throw new UserError(`--attacks: expected names from ${ATTACK_NAMES.join(', ')}, got '${name}'`);
    }
  });
}
