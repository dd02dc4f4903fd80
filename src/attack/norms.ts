/** The norms a threat model may use (./threat-model.ts): without tfjs, so options can be checked before it loads. */
export type NormName = 'linf' | 'l2';
export const NORMS: readonly NormName[] = ['linf', 'l2'];
