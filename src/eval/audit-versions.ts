/** `alp audit`'s budgets and default word-swap counts: without tfjs, so options can be checked before it loads. */
export type AuditVersion = 'quick' | 'standard' | 'thorough';
export const AUDIT_VERSIONS: readonly AuditVersion[] = ['quick', 'standard', 'thorough'];

/** Text models: the audit's word-swap budgets k (./word-audit.ts). */
export const WORD_AUDIT_KS: readonly number[] = [1, 2, 5];
