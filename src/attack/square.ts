/**
 * The Square attack (Andriushchenko, Croce, Flammarion & Hein 2020, "Square Attack: a query-efficient
 * black-box adversarial attack via random search"). Score-based: it only ever asks the model for logits
 * (no gradients), so gradient masking cannot hide a model's weakness from it. Random search: propose a
 * change of the perturbation on a random square window and keep it only if the margin loss
 * z_y − max_{j≠y} z_j (targeted: max_{j≠t} z_j − z_t) goes down.
 *
 *  - L∞: vertical-stripe start (each column and channel gets ±ε), then each proposal sets an s×s window
 *    (all channels) to a fresh ±ε per channel; on a signal of one row (audio, [1, samples]) the window is
 *    a segment covering the same fraction of it.
 *  - L2: a start of ±pseudo-Gaussian bumps on a grid of small squares scaled to ‖δ‖ = ε; each proposal
 *    moves the mass of a second random window into the first one, adds a new ±pseudo-Gaussian bump there,
 *    and rescales the whole perturbation back to ‖δ‖ = ε.
 *
 * The window side s follows the paper's schedule for the fraction p of pixels changed (p_init halved at
 * fixed fractions of the query budget, or at fixed iteration counts as in AutoAttack's standard version). Every query is one forward pass; each iteration queries only the
 * examples not yet fooled, and an example is fooled only when its prediction says so.
 * Inputs must be images: [B,H,W,C] or [B,H,W].
 */
import * as tf from '@tensorflow/tfjs';
import type { LogitsFn } from '../model/classifier.js';
import { UserError } from '../util/errors.js';
import { Rng } from '../util/rng.js';
import { rejectUnknownOptions } from './options.js';
import type { Attack, RunContext, SearchAttack, SingleRun } from './attack.js';
import type { AttackResult } from './gradient-attack.js';
import { searchWithRestarts } from './runner.js';
import { boundsOf, type Bounds, type ThreatModel } from './threat-model.js';

export interface SquareOptions {
  threat: ThreatModel;
  /** Forward passes per example per restart, the starting point's included. Default 1000. */
  queries?: number;
  /** Initial fraction of pixels a window covers. Default 0.8 (AutoAttack; the paper's MNIST setting). */
  pInit?: number;
  /**
   * Stretch p's schedule over the query budget (default, the paper's code) or keep it at fixed iteration
   * counts, as AutoAttack's standard version does (`resc_schedule=False`; see squareP).
   */
  rescaleSchedule?: boolean;
  /** Independent runs from fresh random starts, each only on examples still not fooled. Default 1. */
  restarts?: number;
  seed?: number;
}

/**
 * The piecewise-constant schedule for p at proposal `it` (counted from 0) of a budget of `queries`: p_init
 * is halved once the iteration passes 10, 50, 200, 500, 1000, 2000, 4000, 6000 and 8000. With `rescale`
 * the iteration is first mapped onto 10 000 (`floor(it / queries · 10000)`), so every budget runs the
 * whole schedule; without it the counts are absolute. This is `p_selection` of fra31/auto-attack
 * (autoattack/square.py, read 2026-12-06): same thresholds, halved strictly after each, p_init/512
 * from 8000 on.
 */
export function squareP(pInit: number, it: number, queries: number, rescale = true): number {
  const t = rescale ? Math.floor((it / queries) * 10000) : it;
  const bounds = [10, 50, 200, 500, 1000, 2000, 4000, 6000, 8000];
  let halvings = 0;
  for (const b of bounds) if (t > b) halvings++;
  return pInit / 2 ** halvings;
}

/**
 * A rows×cols block of nested rectangles centred at (rows/2, cols/2): entry (i,j) at Chebyshev distance d
 * from the centre gets Σ_{c=d}^{M−1} 1/(c+1)², M = max(rows/2, cols/2)+1 (integer halves); unit L2 norm.
 */
function rectangleBump(rows: number, cols: number): Float32Array {
  const out = new Float32Array(rows * cols);
  const ci = Math.floor(rows / 2), cj = Math.floor(cols / 2);
  const levels = Math.max(ci, cj) + 1;
  let sq = 0;
  for (let i = 0; i < rows; i++) {
    for (let j = 0; j < cols; j++) {
      const d = Math.max(Math.abs(i - ci), Math.abs(j - cj));
      let v = 0;
      for (let c = d; c < levels; c++) v += 1 / (c + 1) ** 2;
      out[i * cols + j] = v;
      sq += v * v;
    }
  }
  const norm = Math.sqrt(sq) || 1;
  for (let i = 0; i < out.length; i++) out[i] = (out[i] as number) / norm;
  return out;
}

/**
 * The L2 update pattern on an s×s window: a bump on the top half and a negated bump on the bottom half,
 * unit L2 norm, transposed with probability 1/2.
 */
export function squareL2Pattern(s: number, rng: Rng): Float32Array {
  const out = new Float32Array(s * s);
  const top = Math.floor(s / 2);
  if (top > 0) out.set(rectangleBump(top, s), 0);
  const bottom = rectangleBump(s - top, s);
  for (let i = 0; i < bottom.length; i++) out[top * s + i] = -(bottom[i] as number);
  let sq = 0;
  for (const v of out) sq += v * v;
  const norm = Math.sqrt(sq) || 1;
  for (let i = 0; i < out.length; i++) out[i] = (out[i] as number) / norm;
  if (rng.next() < 0.5) {
    const t = new Float32Array(s * s);
    for (let i = 0; i < s; i++) for (let j = 0; j < s; j++) t[j * s + i] = out[i * s + j] as number;
    return t;
  }
  return out;
}

/** Clipping to the threat model's box (identity when it has none). */
function boxClip(b: Bounds): (v: number) => number {
  if (b === null) return (v) => v;
  const [lo, hi] = b;
  return (v) => (v < lo ? lo : v > hi ? hi : v);
}

export class Square implements Attack, SearchAttack {
  readonly name: string;
  readonly threat: ThreatModel;
  private readonly clip: (v: number) => number;
  readonly queries: number;
  readonly pInit: number;
  readonly rescaleSchedule: boolean;
  readonly restarts: number;
  readonly seed: number;

  constructor(o: SquareOptions) {
    rejectUnknownOptions('Square', o, ['threat', 'queries', 'pInit', 'rescaleSchedule', 'restarts', 'seed']);
    this.threat = o.threat;
    this.clip = boxClip(boundsOf(o.threat));
    this.queries = o.queries ?? 1000;
    this.pInit = o.pInit ?? 0.8;
    this.rescaleSchedule = o.rescaleSchedule ?? true;
    this.restarts = o.restarts ?? 1;
    this.seed = o.seed ?? 0;
    if (this.threat.norm !== 'linf' && this.threat.norm !== 'l2') throw new UserError(`Square: unsupported norm '${String(this.threat.norm)}'`);
    if (!Number.isInteger(this.queries) || this.queries < 1) throw new UserError(`Square queries: expected an integer ≥ 1, got ${this.queries}`);
    if (!(this.pInit > 0 && this.pInit <= 1)) throw new UserError(`Square p_init: expected a number in (0,1], got ${this.pInit}`);
    if (!Number.isInteger(this.restarts) || this.restarts < 1) throw new UserError(`Square restarts: expected an integer ≥ 1, got ${this.restarts}`);
    this.name = `square-${this.threat.norm}-${this.queries}q${this.restarts > 1 ? `x${this.restarts}` : ''}`;
  }

  /** @internal Unverified: run it with `runAttack`. */
  run(f: LogitsFn, x: tf.Tensor, labels: tf.Tensor1D, targets?: tf.Tensor1D, ids?: readonly number[]): AttackResult {
    this.checkShape(x);
    return searchWithRestarts(this, f, x, labels, { targets, ids });
  }

  runs(): number {
    return this.restarts;
  }

  private checkShape(x: tf.Tensor): void {
    if (x.rank !== 3 && x.rank !== 4) throw new UserError(`Square attack: expected images [B,H,W,C] or [B,H,W], got shape [${x.shape.join(',')}]`);
  }

  /**
   * One run from a fresh random start: every query is handed to the runner, which keeps the first point
   * that fools each example; examples it reports fooled are not queried again. Returns the current point
   * per example, scored by minus its margin loss.
   */
  single(f: LogitsFn, x: tf.Tensor, labels: tf.Tensor1D, targets: tf.Tensor1D | undefined, ctx: RunContext): SingleRun {
    this.checkShape(x);
    const m = x.shape[0] as number;
    const h = x.shape[1] as number, w = x.shape[2] as number, c = x.rank === 4 ? (x.shape[3] as number) : 1;
    const d = h * w * c;
    const targeted = targets !== undefined;
    const cls = Int32Array.from((targets ?? labels).dataSync());
    const rowShape = x.shape.slice(1);
    // One stream per example, seeded by the runner from its dataset index: independent of the batch.
    const rngs = Array.from(ctx.seeds, (sd) => new Rng(sd));

    /** One query per row of a packed batch: the margin loss (to minimise) and the predicted class. */
    const query = (rows: Float32Array, goal: Int32Array): { loss: Float32Array; pred: Int32Array } => {
      const q = goal.length;
      const z = tf.tidy(() => f(tf.tensor(rows, [q, ...rowShape])).dataSync() as Float32Array);
      const k = z.length / q;
      const loss = new Float32Array(q);
      const pred = new Int32Array(q);
      for (let j = 0; j < q; j++) {
        const t = goal[j] as number;
        let arg = 0, other = -Infinity;
        for (let o = 0; o < k; o++) {
          const v = z[j * k + o] as number;
          if (v > (z[j * k + arg] as number)) arg = o;
          if (o !== t && v > other) other = v;
        }
        const zt = z[j * k + t] as number;
        loss[j] = targeted ? other - zt : zt - other;
        pred[j] = arg;
      }
      return { loss, pred };
    };

    const xs = Float32Array.from(x.dataSync() as Float32Array);
    const cur = new Float32Array(m * d);
    for (let j = 0; j < m; j++) {
      const start = this.threat.norm === 'linf' ? this.linfStart(h, w, c, rngs[j] as Rng) : this.l2Start(h, w, c, rngs[j] as Rng);
      for (let p = 0; p < d; p++) cur[j * d + p] = this.clip((xs[j * d + p] as number) + (start[p] as number));
    }
    const first = query(cur, cls);
    const loss = first.loss;
    let fooled = ctx.record(() => cur, first.pred);

    for (let it = 1; it < this.queries; it++) {
      const alive: number[] = [];
      for (let j = 0; j < m; j++) if (!fooled[j]) alive.push(j);
      if (alive.length === 0) break;
      // Fixed counts: AutoAttack's loop index of this proposal is it − 1 (its start is not an iteration).
      // Rescaled: `it`, the alignment every earlier alp audit used, kept so their numbers reproduce.
      const p = this.rescaleSchedule ? squareP(this.pInit, it, this.queries) : squareP(this.pInit, it - 1, this.queries, false);
      const cand = new Float32Array(alive.length * d);
      alive.forEach((j, a) => {
        const xr = xs.subarray(j * d, (j + 1) * d);
        const br = cur.subarray(j * d, (j + 1) * d);
        const out = cand.subarray(a * d, (a + 1) * d);
        const rng = rngs[j] as Rng;
        if (this.threat.norm === 'linf') this.linfProposal(xr, br, out, h, w, c, p, rng);
        else this.l2Proposal(xr, br, out, h, w, c, p, rng);
      });
      const res = query(cand, Int32Array.from(alive, (j) => cls[j] as number));
      fooled = ctx.record(() => cand, res.pred, alive);
      alive.forEach((j, a) => {
        if (fooled[j] || (res.loss[a] as number) < (loss[j] as number)) {
          loss[j] = res.loss[a] as number;
          cur.set(cand.subarray(a * d, (a + 1) * d), j * d);
        }
      });
    }
    return { adversarial: tf.tensor(cur, x.shape), score: loss.map((v) => -v) };
  }

  /** Vertical stripes: ±ε per (column, channel), the same down each column. */
  private linfStart(h: number, w: number, c: number, rng: Rng): Float32Array {
    const eps = this.threat.eps;
    const out = new Float32Array(h * w * c);
    const signs = Float32Array.from({ length: w * c }, () => (rng.next() < 0.5 ? -eps : eps));
    for (let i = 0; i < h; i++) out.set(signs, i * w * c);
    return out;
  }

  /** Side of the square window for the fraction p of the image. */
  private side(h: number, w: number, p: number, min: number): number {
    const s = Math.round(Math.sqrt(p * h * w));
    return Math.max(1, Math.min(Math.max(s, min), Math.min(h, w) - 1));
  }

  /**
   * The window of a proposal, rows × columns: a square covering the fraction p of an image; on a signal
   * (one row or one column: an audio clip is [1, samples]) a segment covering the fraction p of it, since
   * a square there would be a single sample whatever p is.
   */
  private window(h: number, w: number, p: number): [number, number] {
    if (h > 1 && w > 1) {
      const s = this.side(h, w, p, 1);
      return [s, s];
    }
    const n = h * w;
    const len = Math.max(1, Math.min(Math.round(p * n), n - 1));
    return h === 1 ? [1, len] : [len, 1];
  }

  /** x + δ where δ is δ_best with one window reset to ±ε per channel (redrawn until it changes the input). */
  private linfProposal(xr: Float32Array, br: Float32Array, out: Float32Array, h: number, w: number, c: number, p: number, rng: Rng): void {
    const eps = this.threat.eps;
    const [sh, sw] = this.window(h, w, p);
    const r0 = rng.int(h - sh + 1), c0 = rng.int(w - sw + 1);
    const signs = new Float32Array(c);
    for (let tries = 0; tries < 100; tries++) {
      for (let ch = 0; ch < c; ch++) signs[ch] = rng.next() < 0.5 ? -eps : eps;
      let changes = false;
      for (let i = r0; i < r0 + sh && !changes; i++) {
        for (let j = c0; j < c0 + sw && !changes; j++) {
          for (let ch = 0; ch < c; ch++) {
            const q = (i * w + j) * c + ch;
            if (Math.abs(this.clip((xr[q] as number) + (signs[ch] as number)) - (br[q] as number)) >= 1e-7) {
              changes = true;
              break;
            }
          }
        }
      }
      if (changes) break;
    }
    out.set(br);
    for (let i = r0; i < r0 + sh; i++) {
      for (let j = c0; j < c0 + sw; j++) {
        for (let ch = 0; ch < c; ch++) {
          const q = (i * w + j) * c + ch;
          out[q] = this.clip((xr[q] as number) + (signs[ch] as number));
        }
      }
    }
  }

  /** ±pseudo-Gaussian bumps on a centred grid of squares of side ⌊h/5⌋, scaled to ‖δ‖₂ = ε. */
  private l2Start(h: number, w: number, c: number, rng: Rng): Float32Array {
    const eps = this.threat.eps;
    const out = new Float32Array(h * w * c);
    const s = Math.max(1, Math.floor(Math.min(h, w) / 5));
    const nh = Math.floor(h / s), nw = Math.floor(w / s);
    const oh = Math.floor((h - nh * s) / 2), ow = Math.floor((w - nw * s) / 2);
    for (let a = 0; a < nh; a++) {
      for (let b = 0; b < nw; b++) {
        const pat = squareL2Pattern(s, rng);
        for (let ch = 0; ch < c; ch++) {
          const sign = rng.next() < 0.5 ? -1 : 1;
          for (let i = 0; i < s; i++) {
            for (let j = 0; j < s; j++) out[((oh + a * s + i) * w + ow + b * s + j) * c + ch] = sign * (pat[i * s + j] as number);
          }
        }
      }
    }
    let sq = 0;
    for (const v of out) sq += v * v;
    const scale = eps / (Math.sqrt(sq) + 1e-12);
    for (let i = 0; i < out.length; i++) out[i] = (out[i] as number) * scale;
    return out;
  }

  /**
   * The L2 proposal: window 2 is emptied and its mass (plus the budget left below ε) moves to window 1,
   * which gets its old direction plus a new ±pseudo-Gaussian bump per channel; then ‖δ‖ is reset to ε.
   */
  private l2Proposal(xr: Float32Array, br: Float32Array, out: Float32Array, h: number, w: number, c: number, p: number, rng: Rng): void {
    const eps = this.threat.eps;
    let s = this.side(h, w, p, 3);
    if (s % 2 === 0 && s + 1 <= Math.min(h, w) - 1) s += 1;
    const r1 = rng.int(h - s + 1), c1 = rng.int(w - s + 1);
    const r2 = rng.int(h - s + 1), c2 = rng.int(w - s + 1);
    const d = h * w * c;
    const delta = new Float32Array(d);
    let imgSq = 0;
    for (let q = 0; q < d; q++) {
      const v = (br[q] as number) - (xr[q] as number);
      delta[q] = v;
      imgSq += v * v;
    }
    const in1 = (i: number, j: number): boolean => i >= r1 && i < r1 + s && j >= c1 && j < c1 + s;
    const in2 = (i: number, j: number): boolean => i >= r2 && i < r2 + s && j >= c2 && j < c2 + s;
    const pat = squareL2Pattern(s, rng);
    for (let ch = 0; ch < c; ch++) {
      let w1Sq = 0, unionSq = 0;
      for (let i = 0; i < h; i++) {
        for (let j = 0; j < w; j++) {
          const a = in1(i, j), b = in2(i, j);
          if (!a && !b) continue;
          const v = delta[(i * w + j) * c + ch] as number;
          if (a) w1Sq += v * v;
          unionSq += v * v;
        }
      }
      const w1Norm = Math.sqrt(w1Sq);
      const sign = rng.next() < 0.5 ? -1 : 1;
      const upd = new Float32Array(s * s);
      let updSq = 0;
      for (let i = 0; i < s; i++) {
        for (let j = 0; j < s; j++) {
          const v = sign * (pat[i * s + j] as number) + (delta[((r1 + i) * w + c1 + j) * c + ch] as number) / (1e-10 + w1Norm);
          upd[i * s + j] = v;
          updSq += v * v;
        }
      }
      const target = Math.sqrt(Math.max(eps * eps - imgSq, 0) / c + unionSq);
      const scale = target / (Math.sqrt(updSq) + 1e-12);
      for (let i = r2; i < r2 + s; i++) for (let j = c2; j < c2 + s; j++) delta[(i * w + j) * c + ch] = 0;
      for (let i = 0; i < s; i++) for (let j = 0; j < s; j++) delta[((r1 + i) * w + c1 + j) * c + ch] = (upd[i * s + j] as number) * scale;
    }
    let sq = 0;
    for (const v of delta) sq += v * v;
    const scale = eps / (Math.sqrt(sq) + 1e-12);
    for (let q = 0; q < d; q++) out[q] = this.clip((xr[q] as number) + (delta[q] as number) * scale);
  }

  describe(): Record<string, unknown> {
    return { attack: 'square', norm: this.threat.norm, eps: this.threat.eps, queries: this.queries, pInit: this.pInit, ...(this.rescaleSchedule ? {} : { schedule: 'fixed' }), restarts: this.restarts, seed: this.seed, loss: 'margin' };
  }
}
