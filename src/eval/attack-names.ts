/**
 * The attacks of the suites (./suite.ts builds them) and `alp eval`'s defaults, by name: without tfjs,
 * so options can be checked before it loads.
 *
 * 'apgd-ce' is APGD on cross-entropy; 'apgd-dlr' is AutoAttack's APGD-T (targeted DLR over the 9 most likely
 * wrong classes, one run each: as in AutoAttack the target classes play the part of restarts, so `restarts`
 * does not multiply them). 'apgd-dlr-untargeted' is APGD on the untargeted DLR loss (AutoAttack's APGD-DLR)
 * and 'apgd-cw' APGD on the CW margin: the stand-ins for APGD-T on models with too few classes for it
 * (./few-classes.ts). The APGD attacks are step-size free, so `stepSize` does not apply to them.
 * 'square' is the score-based Square attack with `queries` (default 1000) queries, run once: its query budget
 * is its size (more runs are more queries), so it ignores `steps` and `restarts`.
 */
export const ATTACK_NAMES = ['fgsm', 'pgd-ce', 'pgd-cw', 'apgd-ce', 'apgd-dlr', 'apgd-dlr-untargeted', 'apgd-cw', 'square'] as const;
export type AttackName = (typeof ATTACK_NAMES)[number];

/**
 * `alp eval`'s default suite: the gradient attacks on every correct example, then Square on the examples
 * they all missed (cheap: survivors only), which is what separated `alp eval` from `alp audit` on ALP models.
 * With fewer than 4 classes APGD-T gives way to what the model's classes allow (./few-classes.ts).
 */
export const DEFAULT_EVAL_ATTACKS: readonly AttackName[] = ['fgsm', 'pgd-ce', 'pgd-cw', 'apgd-dlr', 'square'];
export const DEFAULT_SURVIVORS: readonly AttackName[] = ['square'];
export const DEFAULT_EVAL_QUERIES = 1000;
