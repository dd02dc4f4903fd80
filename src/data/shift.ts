/**
 * Deterministic distribution shifts of an image dataset, to measure how a model's clean accuracy holds up
 * off the training distribution (the generalisation ALP's authors also claim). Every shifted value stays in
 * [0,1]; each example's randomness comes from (seed, its position in the dataset) alone, so a dataset and a
 * seed always give the same shifted copy, however it is later batched.
 */
import { UserError, optionRef } from '../util/errors.js';
import { Rng } from '../util/rng.js';
import type { Dataset } from './dataset.js';

export type ShiftKind = 'noise' | 'rotate' | 'translate' | 'contrast';
export const SHIFT_KINDS: readonly ShiftKind[] = ['noise', 'rotate', 'translate', 'contrast'];

/**
 * One shift and its strength: `noise` σ of additive Gaussian noise; `rotate` degrees (each image turned by
 * ±level, the sign drawn per example); `translate` pixels (each image moved by `level` pixels in one of the
 * eight compass directions, drawn per example); `contrast` the factor c in x ↦ m + c·(x − m), m the image's
 * mean (c < 1 lowers contrast).
 */
export interface ShiftSpec {
  kind: ShiftKind;
  level: number;
}

/** The shifts the method comparison reports: mild and strong of each kind. */
export const DEFAULT_SHIFTS: readonly ShiftSpec[] = [
  { kind: 'noise', level: 0.1 },
  { kind: 'noise', level: 0.3 },
  { kind: 'rotate', level: 10 },
  { kind: 'rotate', level: 25 },
  { kind: 'translate', level: 2 },
  { kind: 'translate', level: 4 },
  { kind: 'contrast', level: 0.5 },
  { kind: 'contrast', level: 0.2 },
];

export function shiftLabel(s: ShiftSpec): string {
  switch (s.kind) {
    case 'noise': return `noise σ=${s.level}`;
    case 'rotate': return `rotate ±${s.level}°`;
    case 'translate': return `shift ${s.level}px`;
    case 'contrast': return `contrast ×${s.level}`;
  }
}

/** Parses `noise:0.1,rotate:15` (the CLI form); names the bad entry otherwise. */
export function parseShifts(text: string, option = 'shifts'): ShiftSpec[] {
  return text.split(',').map((part) => {
    const [kind, level] = part.trim().split(':');
    const s = { kind: kind as ShiftKind, level: Number(level) };
    validateShift(s, `${optionRef(option)}: '${part.trim()}'`);
    return s;
  });
}

function validateShift(s: ShiftSpec, where: string): void {
  if (!SHIFT_KINDS.includes(s.kind)) throw new UserError(`${where}: expected a kind among ${SHIFT_KINDS.join(', ')}, got '${s.kind}'`);
  const ok = Number.isFinite(s.level) && (s.kind === 'contrast' ? s.level > 0 : s.level >= 0);
  if (!ok) throw new UserError(`${where}: expected a ${s.kind === 'contrast' ? 'factor > 0' : 'level ≥ 0'}, got ${s.level}`);
  if (s.kind === 'rotate' && s.level > 180) throw new UserError(`${where}: expected at most 180 degrees, got ${s.level}`);
}

/** A 32-bit seed for example `i` of a stream seeded `seed` (splitmix-style mixing). */
function exampleSeed(seed: number, i: number): number {
  let h = (Math.imul(seed >>> 0, 0x9e3779b1) ^ Math.imul(i + 1, 0x85ebca6b)) >>> 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x7feb352d) >>> 0;
  h ^= h >>> 15;
  h = Math.imul(h, 0x846ca68b) >>> 0;
  return (h ^ (h >>> 16)) >>> 0;
}

const clip01 = (v: number): number => (v < 0 ? 0 : v > 1 ? 1 : v);

/** Standard normal draws by Box–Muller. */
function gaussian(rng: Rng): number {
  const u = 1 - rng.next();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rng.next());
}

/** Bilinear sample of channel c at real coordinates (y, x); 0 outside the image (the background of MNIST-like data). */
function sample(img: Float32Array, off: number, h: number, w: number, ch: number, y: number, x: number, c: number): number {
  const y0 = Math.floor(y), x0 = Math.floor(x);
  const fy = y - y0, fx = x - x0;
  let v = 0;
  for (const [dy, wy] of [[0, 1 - fy], [1, fy]] as const) {
    const yy = y0 + dy;
    if (wy === 0 || yy < 0 || yy >= h) continue;
    for (const [dx, wx] of [[0, 1 - fx], [1, fx]] as const) {
      const xx = x0 + dx;
      if (wx === 0 || xx < 0 || xx >= w) continue;
      v += wy * wx * (img[off + (yy * w + xx) * ch + c] as number);
    }
  }
  return v;
}

const DIRECTIONS: ReadonlyArray<[number, number]> = [[-1, -1], [-1, 0], [-1, 1], [0, -1], [0, 1], [1, -1], [1, 0], [1, 1]];

/** Writes the shifted copy of the example at `off` into `out` (same layout). */
function shiftOne(src: Float32Array, out: Float32Array, off: number, shape: [number, number, number], s: ShiftSpec, rng: Rng): void {
  const [h, w, ch] = shape;
  const size = h * w * ch;
  switch (s.kind) {
    case 'noise':
      for (let k = 0; k < size; k++) out[off + k] = clip01((src[off + k] as number) + s.level * gaussian(rng));
      return;
    case 'contrast': {
      let mean = 0;
      for (let k = 0; k < size; k++) mean += src[off + k] as number;
      mean /= size;
      for (let k = 0; k < size; k++) out[off + k] = clip01(mean + s.level * ((src[off + k] as number) - mean));
      return;
    }
    case 'rotate': {
      const a = ((rng.next() < 0.5 ? -1 : 1) * s.level * Math.PI) / 180;
      const cos = Math.cos(a), sin = Math.sin(a);
      const cy = (h - 1) / 2, cx = (w - 1) / 2;
      // Inverse mapping: each output pixel reads the source point that the rotation carries onto it.
      for (let y = 0; y < h; y++) {
        for (let x = 0; x < w; x++) {
          const sy = cy + (y - cy) * cos - (x - cx) * sin;
          const sx = cx + (y - cy) * sin + (x - cx) * cos;
          for (let c = 0; c < ch; c++) out[off + (y * w + x) * ch + c] = clip01(sample(src, off, h, w, ch, sy, sx, c));
        }
      }
      return;
    }
    case 'translate': {
      const [dy, dx] = DIRECTIONS[rng.int(DIRECTIONS.length)] as [number, number];
      const ty = dy * Math.round(s.level), tx = dx * Math.round(s.level);
      for (let y = 0; y < h; y++) {
        for (let x = 0; x < w; x++) {
          const sy = y - ty, sx = x - tx;
          const inside = sy >= 0 && sy < h && sx >= 0 && sx < w;
          for (let c = 0; c < ch; c++) out[off + (y * w + x) * ch + c] = inside ? (src[off + (sy * w + sx) * ch + c] as number) : 0;
        }
      }
      return;
    }
  }
}

/**
 * A copy of `ds` with every example shifted; labels unchanged. Text datasets (token ids) and, for the
 * geometric shifts, one-row inputs such as audio are refused with a clear error.
 */
export function shiftDataset(ds: Dataset, s: ShiftSpec, seed: number): Dataset {
  validateShift(s, `shift ${s.kind}`);
  if (ds.vocabulary !== undefined) throw new UserError(`${ds.name}: shifts apply to images, not token ids (a text dataset)`);
  const [h, w] = ds.shape;
  if ((s.kind === 'rotate' || s.kind === 'translate') && (h < 2 || w < 2)) {
    throw new UserError(`${ds.name}: a ${s.kind} shift needs 2-D images, found inputs of shape [${ds.shape.join(',')}]`);
  }
  const size = ds.shape[0] * ds.shape[1] * ds.shape[2];
  const images = new Float32Array(ds.images.length);
  for (let i = 0; i < ds.count; i++) shiftOne(ds.images, images, i * size, ds.shape, s, new Rng(exampleSeed(seed, i)));
  return { ...ds, name: `${ds.name} (${shiftLabel(s)})`, images };
}
