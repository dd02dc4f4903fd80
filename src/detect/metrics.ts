/**
 * Detection metrics. Negatives are clean inputs, positives adversarial ones; higher score = flagged.
 *
 * ROC-AUC is the Mann–Whitney statistic: the probability that a random positive scores above a
 * random negative, ties counting one half (computed from mid-ranks, so ties are exact).
 */

function finite(v: ArrayLike<number>, what: string): void {
  for (let i = 0; i < v.length; i++) {
    if (Number.isNaN(v[i] as number)) throw new Error(`${what}: score ${i} is NaN`);
  }
}

/** ROC-AUC via mid-ranks; NaN when either class is empty. */
export function rocAuc(neg: ArrayLike<number>, pos: ArrayLike<number>): number {
  finite(neg, 'rocAuc negatives');
  finite(pos, 'rocAuc positives');
  const n0 = neg.length, n1 = pos.length;
  if (n0 === 0 || n1 === 0) return NaN;
  const all: Array<{ v: number; p: boolean }> = [];
  for (let i = 0; i < n0; i++) all.push({ v: neg[i] as number, p: false });
  for (let i = 0; i < n1; i++) all.push({ v: pos[i] as number, p: true });
  all.sort((a, b) => a.v - b.v);
  let rankSumPos = 0;
  for (let i = 0; i < all.length;) {
    let j = i;
    while (j + 1 < all.length && (all[j + 1] as { v: number }).v === (all[i] as { v: number }).v) j++;
    const mid = (i + j) / 2 + 1; // 1-based mid-rank of the tie group
    for (let t = i; t <= j; t++) if ((all[t] as { p: boolean }).p) rankSumPos += mid;
    i = j + 1;
  }
  return (rankSumPos - (n1 * (n1 + 1)) / 2) / (n0 * n1);
}

export interface OperatingPoint {
  /** Flag when score > threshold. */
  threshold: number;
  /** Fraction of positives flagged. */
  tpr: number;
  /** Fraction of negatives flagged (≤ the requested FPR). */
  fpr: number;
}

/**
 * The best TPR whose empirical FPR on these negatives does not exceed `fpr`: the threshold is the
 * smallest score with at most ⌊fpr·n⌋ negatives strictly above it. (An oracle operating point: it
 * uses the evaluation negatives themselves; the deployed threshold comes from calibration.)
 */
export function tprAtFpr(neg: ArrayLike<number>, pos: ArrayLike<number>, fpr: number): OperatingPoint {
  if (!(fpr >= 0 && fpr <= 1)) throw new RangeError(`tprAtFpr: fpr must be in [0,1], got ${fpr}`);
  finite(neg, 'tprAtFpr negatives');
  finite(pos, 'tprAtFpr positives');
  const sorted = Float64Array.from(neg).sort();
  const n = sorted.length;
  if (n === 0) return { threshold: NaN, tpr: NaN, fpr: NaN };
  const allowed = Math.floor(fpr * n + 1e-9);
  // With `allowed` negatives above: threshold = the (n − allowed)-th smallest (1-based).
  const threshold = allowed >= n ? -Infinity : (sorted[n - 1 - allowed] as number);
  return { threshold, tpr: rateAbove(pos, threshold), fpr: rateAbove(neg, threshold) };
}

/** Fraction of scores strictly above the threshold (NaN for no scores). */
export function rateAbove(scores: ArrayLike<number>, threshold: number): number {
  if (scores.length === 0) return NaN;
  let c = 0;
  for (let i = 0; i < scores.length; i++) if ((scores[i] as number) > threshold) c++;
  return c / scores.length;
}

export interface RocCurve {
  fpr: number[];
  tpr: number[];
}

/**
 * The ROC curve (every distinct threshold), thinned to at most `maxPoints` points for reports.
 * Starts at (0,0) and ends at (1,1).
 */
export function rocCurve(neg: ArrayLike<number>, pos: ArrayLike<number>, maxPoints = 101): RocCurve {
  const n0 = neg.length, n1 = pos.length;
  if (n0 === 0 || n1 === 0) return { fpr: [], tpr: [] };
  const all: Array<{ v: number; p: boolean }> = [];
  for (let i = 0; i < n0; i++) all.push({ v: neg[i] as number, p: false });
  for (let i = 0; i < n1; i++) all.push({ v: pos[i] as number, p: true });
  all.sort((a, b) => b.v - a.v);
  const fpr = [0], tpr = [0];
  let fp = 0, tp = 0;
  for (let i = 0; i < all.length;) {
    let j = i;
    while (j + 1 < all.length && (all[j + 1] as { v: number }).v === (all[i] as { v: number }).v) j++;
    for (let t = i; t <= j; t++) if ((all[t] as { p: boolean }).p) tp++; else fp++;
    fpr.push(fp / n0);
    tpr.push(tp / n1);
    i = j + 1;
  }
  if (fpr.length <= maxPoints) return { fpr, tpr };
  const keepF: number[] = [], keepT: number[] = [];
  for (let k = 0; k < maxPoints; k++) {
    const idx = Math.round((k * (fpr.length - 1)) / (maxPoints - 1));
    keepF.push(fpr[idx] as number);
    keepT.push(tpr[idx] as number);
  }
  return { fpr: keepF, tpr: keepT };
}

/** Summary statistics of a score sample, for reports and detector.json. */
export interface ScoreStats {
  n: number;
  min: number;
  max: number;
  mean: number;
  std: number;
  p50: number;
  p90: number;
  p95: number;
  p99: number;
}

/** Linear-interpolated quantile of sorted values. */
function quantile(sorted: Float64Array, q: number): number {
  if (sorted.length === 0) return NaN;
  const pos = q * (sorted.length - 1);
  const lo = Math.floor(pos), hi = Math.ceil(pos);
  return (sorted[lo] as number) + ((sorted[hi] as number) - (sorted[lo] as number)) * (pos - lo);
}

export function scoreStats(v: ArrayLike<number>): ScoreStats {
  const s = Float64Array.from(v).sort();
  const n = s.length;
  let m = 0;
  for (const x of s) m += x;
  m /= Math.max(n, 1);
  let q = 0;
  for (const x of s) q += (x - m) * (x - m);
  return {
    n, min: n ? (s[0] as number) : NaN, max: n ? (s[n - 1] as number) : NaN, mean: n ? m : NaN,
    std: n ? Math.sqrt(q / n) : NaN, p50: quantile(s, 0.5), p90: quantile(s, 0.9), p95: quantile(s, 0.95), p99: quantile(s, 0.99),
  };
}
