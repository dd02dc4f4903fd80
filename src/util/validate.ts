import { UserError } from './errors.js';

/**
 * Inputs must be finite and inside the box the threat model assumes ([0,1] unless told otherwise;
 * null for none, as for embeddings); a NaN would otherwise propagate silently into "0% robust" or
 * "100% robust".
 */
export function assertValidInputs(values: ArrayLike<number>, where: string, bounds: readonly [number, number] | null = [0, 1]): void {
  const box = bounds === null ? 'finite numbers' : `finite numbers in [${bounds[0]},${bounds[1]}]`;
  for (let i = 0; i < values.length; i++) {
    const v = values[i] as number;
    if (!Number.isFinite(v)) throw new UserError(`${where}: input value at flat index ${i} is ${v}; inputs must be ${box}`);
    if (bounds !== null && (v < bounds[0] || v > bounds[1])) {
      throw new UserError(`${where}: input value at flat index ${i} is ${v}; inputs must be scaled to [${bounds[0]},${bounds[1]}]`);
    }
  }
}
