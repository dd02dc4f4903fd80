/**
 * Attacking the test rows of a detection evaluation and scoring what fooled the classifier. Every
 * attack runs through the runner (clipped to the threat model, success on a fresh forward pass), and
 * every adversarial input that fools the classifier is scored again here with the real detector —
 * plain and adaptive attacks alike, as the text evaluation does: what an attack reports about its own
 * points is never used.
 */
import * as tf from '@tensorflow/tfjs';
import type { Attack } from '../attack/attack.js';
import { attackRows, gatherRows, runAttack } from '../attack/runner.js';
import type { Dataset } from '../data/dataset.js';
import type { LogitsFn } from '../model/classifier.js';
import { scoreDataset } from './calibrate.js';
import type { Detector } from './detector.js';

/** Runs a non-adaptive attack on `ids` through the runner; returns the fooled ids and their adversarial rows. */
export async function runPlainAttack(f: LogitsFn, ds: Dataset, ids: number[], attack: Attack, batchSize: number, signal: AbortSignal | undefined): Promise<{ fooledIds: number[]; adv: Float32Array }> {
  const row = ds.shape[0] * ds.shape[1] * ds.shape[2];
  const fooledIds: number[] = [];
  const chunks: Float32Array[] = [];
  await attackRows(f, ds, ids, attack, {
    batchSize,
    ...(signal !== undefined ? { signal } : {}),
    onBatch: (b) => {
      b.ids.forEach((id, j) => {
        if (!b.success[j]) return;
        fooledIds.push(id);
        chunks.push(b.data.slice(j * row, (j + 1) * row));
      });
    },
  });
  const adv = new Float32Array(fooledIds.length * row);
  chunks.forEach((ch, j) => adv.set(ch, j * row));
  return { fooledIds, adv };
}

/** `ids` (ascending) grouped by the group of `size` rows from `start` they fall in; empty groups left out. */
export function rowGroups(ids: readonly number[], start: number, size: number): number[][] {
  const out: number[][] = [];
  let key = -1;
  for (const id of ids) {
    const k = Math.floor((id - start) / size);
    if (k !== key) {
      out.push([]);
      key = k;
    }
    (out[out.length - 1] as number[]).push(id);
  }
  return out;
}

/** The real scores of flat rows of images of shape `shape`, in batches. */
export function scoreRows(det: Detector, f: LogitsFn, rows: Float32Array, shape: [number, number, number], batchSize: number): Float32Array {
  const n = rows.length / (shape[0] * shape[1] * shape[2]);
  return scoreDataset(det, f, { name: 'adversarial inputs', images: rows, labels: new Int32Array(n), count: n, shape, numClasses: 0 }, 0, n, batchSize);
}


/** A detector's adaptive attack on one group of rows: the rows it fooled (ascending), their real scores, and per strategy the rows it broke. */
export interface AdaptiveRows {
  fooledIds: number[];
  scores: Float32Array;
  perStrategy: Record<string, number>;
}

/**
 * Runs `attack`, a detector's adaptive attack, on rows `ids` of `ds` through the runner, whose criterion
 * (the attack's own: misclassified and undetected by the real detector) drives its search. The returned
 * inputs that fool the classifier on a fresh pass are scored with `detector`; a row is broken when that
 * score is ≤ `threshold`, and counted for the strategy (`strategyNames[run]`) whose run found it.
 */
export function runAdaptiveAttack(
  f: LogitsFn, ds: Dataset, ids: readonly number[], attack: Attack, detector: Detector, threshold: number, strategyNames: readonly string[], batchSize: number,
): AdaptiveRows {
  const row = ds.shape[0] * ds.shape[1] * ds.shape[2];
  const { x, y } = gatherRows(ds, ids);
  try {
    const r = runAttack(attack, f, x, y, { ids });
    const data = r.adversarial.dataSync() as Float32Array;
    r.adversarial.dispose();
    const fooled: number[] = [];
    ids.forEach((id, j) => {
      if (r.pred[j] !== ds.labels[id]) fooled.push(j);
    });
    const adv = new Float32Array(fooled.length * row);
    fooled.forEach((j, k) => adv.set(data.subarray(j * row, (j + 1) * row), k * row));
    const scores = scoreRows(detector, f, adv, ds.shape, batchSize);
    const foundIn = (r.detail as { foundIn?: Int32Array }).foundIn;
    // Per run, broken rows; the last slot: rows the search did not claim (its fallback point passed the real detector anyway).
    const broken = new Array<number>(strategyNames.length + 1).fill(0);
    fooled.forEach((j, k) => {
      if ((scores[k] as number) > threshold) return;
      const run = foundIn?.[j] ?? -1;
      const slot = run >= 0 && run < strategyNames.length ? run : strategyNames.length;
      broken[slot] = (broken[slot] as number) + 1;
    });
    const perStrategy: Record<string, number> = {};
    [...strategyNames, 'unclaimed'].forEach((name, r) => {
      if ((broken[r] as number) > 0) perStrategy[name] = broken[r] as number;
    });
    return { fooledIds: fooled.map((j) => ids[j] as number), scores, perStrategy };
  } finally {
    tf.dispose([x, y]);
  }
}
