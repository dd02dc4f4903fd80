export type { Attack } from './attack.js';
export { Fgsm, type FgsmOptions } from './fgsm.js';
export { Pgd, type PgdOptions } from './pgd.js';
export { gradientAttack, gradientAscent, type AttackResult, type GradientAttackConfig, type LossHook } from './gradient-attack.js';
export { margin, objective, isSuccess, OBJECTIVES, type ObjectiveName } from './objectives.js';
export { LINF, L2, NORMS, UNIT_BOX, boundsOf, normOf, projectToThreat, validateThreatModel, type Bounds, type Norm, type NormName, type ThreatModel } from './threat-model.js';
export { Apgd, APGD_LOSSES, apgdCheckpoints, apgdCheckpointFractions, type ApgdLoss, type ApgdOptions } from './apgd.js';
export { dlr, dlrTargeted } from './dlr.js';
export { Square, squareP, squareL2Pattern, type SquareOptions } from './square.js';
export { Transfer, type TransferOptions } from './transfer.js';
export {
  runAttack, attackRows, gatherRows, predictDataset, misclassified, targetHit, undetected, allOf,
  type Criterion, type CriterionInput, type AttackRunOptions, type VerifiedResult, type BatchOutcome,
} from './runner.js';
