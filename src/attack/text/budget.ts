/**
 * How many words an attacker may swap in one message: at most k, and optionally at most a fraction of
 * the message's words (rounded down), whichever is smaller. Padding never counts as a word.
 */
import { PAD_ID } from '../../data/text.js';
import { UserError } from '../../util/errors.js';

export interface SwapBudget {
  k: number;
  /** In (0, 1]: at most ⌊fraction · words⌋ swaps. */
  fraction?: number;
}

export function validateBudget(b: SwapBudget, where = 'swap budget'): void {
  if (!Number.isInteger(b.k) || b.k < 1) throw new UserError(`${where}: k must be an integer ≥ 1, found ${b.k}`);
  if (b.fraction !== undefined && !(b.fraction > 0 && b.fraction <= 1)) throw new UserError(`${where}: fraction must be in (0, 1], found ${b.fraction}`);
}

/** Words (non-padding tokens) of one message. */
export function wordCount(ids: ArrayLike<number>): number {
  let n = 0;
  for (let i = 0; i < ids.length; i++) if (ids[i] !== PAD_ID) n++;
  return n;
}

export function maxSwaps(b: SwapBudget, ids: ArrayLike<number>): number {
  const words = wordCount(ids);
  const byFraction = b.fraction === undefined ? Infinity : Math.floor(b.fraction * words);
  return Math.min(b.k, byFraction, words);
}
