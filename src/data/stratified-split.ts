/**
 * The validation split: `size` examples held out of a training split, each class contributing in
 * proportion to its share (largest remainders, ties to the lower class), the examples of a class drawn
 * by a seeded shuffle. Taking the last N rows instead gives one class when the files are sorted by class.
 *
 * A pure function of (labels, size, seed): a resumed run and every worker of a run derive the same split,
 * and `splitDigest` names it in train.json.
 */
import { createHash } from 'node:crypto';
import { Rng, exampleSeed } from '../util/rng.js';
import { UserError } from '../util/errors.js';

export interface StratifiedSplit {
  /** Indices of the held-out examples, ascending. */
  val: Int32Array;
  /** The other indices, ascending (the data's own order). */
  train: Int32Array;
  /** Held-out examples per class. */
  perClass: number[];
}

/** Per class, how many of `size` held-out examples it gives: proportional to `counts`, summing to `size`. */
export function classQuotas(counts: readonly number[], size: number): number[] {
  const total = counts.reduce((a, b) => a + b, 0);
  if (!Number.isInteger(size) || size < 0 || size > total) throw new UserError(`validation size: expected an integer in [0, ${total}], found ${size}`);
  if (total === 0) return counts.map(() => 0);
  const exact = counts.map((n) => (size * n) / total);
  const quota = exact.map(Math.floor);
  let left = size - quota.reduce((a, b) => a + b, 0);
  // Largest remainders first; equal remainders go to the lower class, so the result is deterministic.
  const order = exact.map((e, k) => k).sort((a, b) => (exact[b] as number) - Math.floor(exact[b] as number) - ((exact[a] as number) - Math.floor(exact[a] as number)) || a - b);
  for (const k of order) {
    if (left === 0) break;
    if ((quota[k] as number) < (counts[k] as number)) {
      quota[k] = (quota[k] as number) + 1;
      left--;
    }
  }
  return quota;
}

/** The split of examples with `labels` (in [0, numClasses)) that holds out `size` of them, seeded by `seed`. */
export function stratifiedSplit(labels: Int32Array, numClasses: number, size: number, seed: number): StratifiedSplit {
  const byClass: number[][] = Array.from({ length: numClasses }, () => []);
  labels.forEach((y, i) => {
    if (!(y >= 0 && y < numClasses)) throw new UserError(`labels: example ${i}: expected a class in [0, ${numClasses - 1}], found ${y}`);
    (byClass[y] as number[]).push(i);
  });
  const perClass = classQuotas(byClass.map((c) => c.length), size);
  const held = new Uint8Array(labels.length);
  byClass.forEach((members, k) => {
    // One stream per class: a class's draw does not depend on how many examples the others have.
    const order = new Rng(exampleSeed(seed, 0x5a17, k)).permutation(members.length);
    for (let j = 0; j < (perClass[k] as number); j++) held[members[order[j] as number] as number] = 1;
  });
  const val = new Int32Array(size);
  const train = new Int32Array(labels.length - size);
  let v = 0, t = 0;
  for (let i = 0; i < labels.length; i++) {
    if (held[i]) val[v++] = i;
    else train[t++] = i;
  }
  return { val, train, perClass };
}

/** sha256 of the held-out indices (little-endian int32): the split's name in train.json. */
export function splitDigest(val: Int32Array): string {
  return createHash('sha256').update(new Uint8Array(val.buffer, val.byteOffset, val.byteLength)).digest('hex');
}
