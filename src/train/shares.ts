/**
 * How data-parallel training splits one batch across N workers: fixed shares, a function of the batch
 * size, N and the method only, so a run with a given N always splits every batch the same way.
 *
 * Shares are contiguous runs of rows, as equal as possible, the first ones one row longer. Clean logit
 * pairing is the exception: it pairs row i with row i + ⌊B/2⌋ (loss/logit-pairing.ts), so a worker takes
 * the matching runs of both halves, whole pairs, and the unpaired last row of an odd batch goes to the
 * last worker, after its pairs, where the pairing leaves it out just as on the whole batch.
 */
import type { Method } from './config.js';

/** Row positions within the batch, per worker, in worker order. A share may be empty (N > B). */
export function splitShares(method: Method, batchSize: number, workers: number): Int32Array[] {
  if (!Number.isInteger(workers) || workers < 1) throw new Error(`splitShares: workers must be an integer ≥ 1, got ${workers}`);
  if (method !== 'clp') return runs(batchSize, workers).map(([from, to]) => range(from, to));
  const half = Math.floor(batchSize / 2);
  return runs(half, workers).map(([from, to], w) => {
    const rows = [...range(from, to), ...range(half + from, half + to)];
    if (w === workers - 1 && batchSize % 2 === 1) rows.push(batchSize - 1);
    return Int32Array.from(rows);
  });
}

/** [from, to) of each of n near-equal contiguous runs over [0, count). */
function runs(count: number, n: number): Array<[number, number]> {
  const base = Math.floor(count / n), extra = count % n;
  const out: Array<[number, number]> = [];
  let from = 0;
  for (let w = 0; w < n; w++) {
    const size = base + (w < extra ? 1 : 0);
    out.push([from, from + size]);
    from += size;
  }
  return out;
}

function range(from: number, to: number): Int32Array {
  const r = new Int32Array(Math.max(to - from, 0));
  for (let i = 0; i < r.length; i++) r[i] = from + i;
  return r;
}

/** The rows `share` of a batch stored row after row (`row` values each). */
export function takeRows<T extends Float32Array | Int32Array>(values: T, row: number, share: Int32Array): T {
  const out = new (values.constructor as new (n: number) => T)(share.length * row);
  share.forEach((r, j) => out.set(values.subarray(r * row, (r + 1) * row), j * row));
  return out;
}
