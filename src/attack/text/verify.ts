/**
 * The word-level counterpart of runAttack: runs a word attack message by message and trusts none of
 * what it returns. Each adversarial message must differ from its original in at most the budget's
 * swaps, each a legal substitution from the candidate set (a violation is a bug in the attack and
 * throws); success is then decided by one fresh forward pass of the model on the returned token ids.
 * With a `signal` it stops before the next message once the signal is aborted (InterruptedError): one
 * message's search takes up to seconds, a whole set minutes.
 */
import { maxSwaps, validateBudget, type SwapBudget } from './budget.js';
import type { CandidateSet } from './candidates.js';
import type { WordAttack } from './word-attack.js';
import { checkpointInterrupt } from '../../util/interrupt.js';
import { reached, type WordGoal, type WordModel } from './word-model.js';

export interface WordRunOptions {
  budget: SwapBudget;
  candidates: CandidateSet;
  /** Targeted: per message, the class to reach. */
  targets?: Int32Array;
  /** Each message's index in the dataset (seeds its search); by default its row, 0 … n−1. */
  indices?: ArrayLike<number>;
  onMessage?: (done: number) => void;
  /** Aborting it stops the run before the next message with InterruptedError (nothing is returned). */
  signal?: AbortSignal;
}

export interface VerifiedWordResult {
  /** The adversarial messages, n·L ids. */
  adversarial: Int32Array;
  /** 1 where the goal holds on the model's prediction for the adversarial ids. */
  success: Uint8Array;
  /** The model's prediction on the original and on the adversarial ids. */
  cleanPred: Int32Array;
  pred: Int32Array;
  /** Words swapped per message, and the budget each had. */
  swaps: Int32Array;
  allowed: Int32Array;
  queries: number;
}

export async function runWordAttack(attack: WordAttack, m: WordModel, ids: Int32Array, labels: Int32Array, o: WordRunOptions): Promise<VerifiedWordResult> {
  validateBudget(o.budget);
  const L = m.length, C = m.numClasses;
  const n = labels.length;
  if (ids.length !== n * L) throw new Error(`runWordAttack: ${ids.length} ids for ${n} messages of ${L} tokens`);
  if (o.targets !== undefined && o.targets.length !== n) throw new Error(`runWordAttack: ${o.targets.length} targets for ${n} messages`);
  if (o.indices !== undefined && o.indices.length !== n) throw new Error(`runWordAttack: ${o.indices.length} dataset indices for ${n} messages`);
  const adversarial = new Int32Array(n * L);
  const swaps = new Int32Array(n), allowed = new Int32Array(n);
  let queries = 0;
  for (let r = 0; r < n; r++) {
    // A safe point between messages: lets a Ctrl-C handler run, and stops once it has.
    if (o.signal !== undefined) await checkpointInterrupt(o.signal);
    const orig = ids.subarray(r * L, (r + 1) * L);
    const goal: WordGoal = { label: labels[r] as number, ...(o.targets !== undefined ? { target: o.targets[r] as number } : {}) };
    const budget = maxSwaps(o.budget, orig);
    const out = attack.run(m, { ids: orig.slice(), goal, maxSwaps: budget, candidates: o.candidates, example: o.indices?.[r] ?? r });
    if (out.ids.length !== L) throw new Error(`${attack.name}: message ${r}: returned ${out.ids.length} ids, expected ${L}`);
    let changed = 0;
    for (let i = 0; i < L; i++) {
      if (out.ids[i] === orig[i]) continue;
      changed++;
      if (!o.candidates.allows(orig[i] as number, out.ids[i] as number)) {
        throw new Error(`${attack.name}: message ${r}, position ${i}: ${out.ids[i]} is not a legal ${o.candidates.kind} substitute for ${orig[i]}`);
      }
    }
    if (changed > budget) throw new Error(`${attack.name}: message ${r}: ${changed} words swapped, the budget allows ${budget}`);
    adversarial.set(out.ids, r * L);
    swaps[r] = changed;
    allowed[r] = budget;
    queries += out.queries;
    o.onMessage?.(r + 1);
  }
  const argmax = (logits: Float32Array): Int32Array => Int32Array.from({ length: n }, (_, r) => {
    let best = 0;
    for (let j = 1; j < C; j++) if ((logits[r * C + j] as number) > (logits[r * C + best] as number)) best = j;
    return best;
  });
  const advLogits = m.logits(adversarial, n);
  const success = Uint8Array.from({ length: n }, (_, r) => Number(reached(advLogits, r, C, { label: labels[r] as number, ...(o.targets !== undefined ? { target: o.targets[r] as number } : {}) })));
  return { adversarial, success, cleanPred: argmax(m.logits(ids, n)), pred: argmax(advLogits), swaps, allowed, queries };
}

/**
 * Robust accuracy under swaps: the fraction of messages classified correctly both as written and after
 * the attack (an untargeted run's failures on correctly classified messages).
 */
export function robustAccuracy(r: VerifiedWordResult, labels: Int32Array): number {
  let ok = 0;
  for (let i = 0; i < labels.length; i++) if (r.cleanPred[i] === labels[i] && r.pred[i] === labels[i]) ok++;
  return labels.length === 0 ? 0 : ok / labels.length;
}
