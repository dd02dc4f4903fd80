/**
 * Detection results per test row, computed in parts (fixed groups of rows, in this thread or in
 * workers) and joined in row order into what one part over all the rows would hold.
 */
import { UserError } from '../util/errors.js';

/** What every detection part holds (images and text): the test rows [start, end) and their clean results. */
export interface RowPart {
  start: number;
  end: number;
  /** The model's prediction on each clean row. */
  pred: Int32Array;
  /** Per detector: the clean score of each row; and the seconds that scoring took. */
  clean: Float32Array[];
  cleanSeconds: number[];
}

/** The arrays one after the other. */
export function concatF32(parts: readonly Float32Array[]): Float32Array {
  const out = new Float32Array(parts.reduce((a, p) => a + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** The sum. */
export function sumOf(xs: readonly number[]): number {
  return xs.reduce((a, b) => a + b, 0);
}

/**
 * Parts covering contiguous ranges, in row order, and their shared fields joined (what one part over
 * all the rows would hold, timings added). Shared with the text evaluation.
 */
export function joinRowParts<P extends RowPart>(parts: readonly P[], what: string): { sorted: P[]; first: P; rows: RowPart } {
  const sorted = [...parts].sort((a, b) => a.start - b.start);
  const first = sorted[0];
  if (first === undefined) throw new UserError(`${what}: no examples`);
  sorted.forEach((p, i) => {
    const prev = sorted[i - 1];
    if (prev !== undefined && p.start !== prev.end) throw new Error(`${what} parts: rows ${prev.end}…${p.start - 1} are missing or overlap`);
  });
  return {
    sorted, first,
    rows: {
      start: first.start, end: (sorted[sorted.length - 1] as P).end, pred: concatI32(sorted.map((p) => p.pred)),
      clean: first.clean.map((_, d) => concatF32(sorted.map((p) => p.clean[d] as Float32Array))),
      cleanSeconds: first.cleanSeconds.map((_, d) => sumOf(sorted.map((p) => p.cleanSeconds[d] as number))),
    },
  };
}

function concatI32(parts: readonly Int32Array[]): Int32Array {
  const out = new Int32Array(parts.reduce((a, p) => a + p.length, 0));
  parts.reduce((at, p) => (out.set(p, at), at + p.length), 0);
  return out;
}

/** Per-strategy counts added up. */
export function addCounts(counts: ReadonlyArray<Record<string, number>>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const c of counts) for (const [s, v] of Object.entries(c)) out[s] = (out[s] ?? 0) + v;
  return out;
}

