import { UserError } from './errors.js';

/**
 * Inputs must be finite and inside the [0,1] box that every threat model assumes; a NaN would
 * otherwise propagate silently into "0% robust" or "100% robust".
 */
export function assertValidInputs(values: ArrayLike<number>, where: string): void {
  for (let i = 0; i < values.length; i++) {
    const v = values[i] as number;
    if (!Number.isFinite(v)) throw new UserError(`${where}: input value at flat index ${i} is ${v}; inputs must be finite numbers in [0,1]`);
    if (v < 0 || v > 1) throw new UserError(`${where}: input value at flat index ${i} is ${v}; inputs must be scaled to [0,1]`);
  }
}
