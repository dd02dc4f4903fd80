/**
 * A word-substitution attack: given one message's token ids, the goal, how many words it may swap and
 * which words may replace which, it returns new token ids. It is trusted with nothing else: the runner
 * (verify.ts) checks the budget and every substitution and decides success by running the model on the
 * returned ids.
 */
import type { CandidateSet } from './candidates.js';
import type { WordGoal, WordModel } from './word-model.js';

export type WordAttackName = 'hotflip' | 'synonym' | 'greedy-swap';
export const WORD_ATTACK_NAMES: readonly WordAttackName[] = ['hotflip', 'synonym', 'greedy-swap'];

export interface WordAttackInput {
  /** The original message, `length` ids. */
  ids: Int32Array;
  goal: WordGoal;
  maxSwaps: number;
  candidates: CandidateSet;
  /**
   * The message's index in the dataset: a search's random choices are seeded from it and the run seed
   * (`exampleSeed`), so a message's result does not depend on which messages are attacked with it.
   */
  example: number;
}

export interface WordAttackOutput {
  ids: Int32Array;
  /** Forward passes (messages) the search spent. */
  queries: number;
}

export interface WordAttack {
  name: WordAttackName;
  run(m: WordModel, x: WordAttackInput): WordAttackOutput;
}

/** Positions of `orig` that may still be swapped in `cur`: words (not padding) not yet swapped. */
export function openPositions(orig: Int32Array, cur: Int32Array, set: CandidateSet): number[] {
  const out: number[] = [];
  for (let i = 0; i < orig.length; i++) {
    if (orig[i] === 0 || cur[i] !== orig[i]) continue;
    const c = set.of(orig[i] as number);
    if (c === null || c.length > 0) out.push(i);
  }
  return out;
}
