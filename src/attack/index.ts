export type { Attack } from './attack.js';
export { Fgsm } from './fgsm.js';
export { Pgd, type PgdOptions } from './pgd.js';
export { gradientAttack, gradientAscent, type AttackResult, type GradientAttackConfig } from './gradient-attack.js';
export { margin, objective, isSuccess, OBJECTIVES, type ObjectiveName } from './objectives.js';
export { LINF, L2, NORMS, normOf, projectToThreat, validateThreatModel, type Norm, type NormName, type ThreatModel } from './threat-model.js';
