/**
 * Training-time augmentation of clean images, before the attack sees them: the standard CIFAR-10 recipe
 * of a random crop after zero-padding by `crop` pixels on every side (a shift of up to `crop` pixels, the
 * uncovered border black), and a horizontal flip with probability 1/2.
 *
 * Each example's draws come from (seed, epoch, its index in the training set) alone, so a resumed run
 * sees exactly the images it would have seen, and data-parallel workers (which receive the batch already
 * augmented) train on the same ones as a single thread.
 *
 * No tfjs here: the CLI checks `--augment` before it loads.
 */
import { OptionError, UserError } from '../util/errors.js';
import { exampleSeed, Rng } from '../util/rng.js';

export interface Augment {
  /** Pad by this many pixels on each side, then crop back to H×W at a random offset (0 = no crop). */
  crop: number;
  /** Mirror left–right with probability 1/2. */
  flip: boolean;
}

/** Keeps augmentation draws apart from the attack's random starts, which are keyed on (seed, step, example). */
const AUGMENT_STREAM = 0x61756721;

/** `--augment crop:4,flip` (items in any order; `none` for nothing) → the spec, or undefined for none. */
export function parseAugment(items: readonly string[], flag = '--augment'): Augment | undefined {
  if (items.length === 1 && items[0] === 'none') return undefined;
  const a: Augment = { crop: 0, flip: false };
  const seen = new Set<string>();
  for (const item of items) {
    const [name, arg, ...rest] = item.split(':');
    if (name === undefined || seen.has(name)) throw new UserError(`${flag}: '${item}' given twice`);
    seen.add(name);
    if (name === 'flip' && arg === undefined) a.flip = true;
    else if (name === 'crop' && arg !== undefined && rest.length === 0 && /^\d+$/.test(arg) && Number(arg) >= 1) a.crop = Number(arg);
    else throw new UserError(`${flag}: expected items crop:P (P an integer ≥ 1, the padding in pixels) and flip, or none; got '${item}'`);
  }
  if (seen.size === 0) throw new UserError(`${flag}: expected crop:P, flip or both (e.g. crop:4,flip), or none`);
  return a;
}

/** The spec as `--augment` writes it. */
export function augmentText(a: Augment): string {
  return [...(a.crop > 0 ? [`crop:${a.crop}`] : []), ...(a.flip ? ['flip'] : [])].join(',');
}

/** Checks a spec from a config (train.json): `{augment}` names the field. */
export function checkAugment(a: unknown): Augment {
  const o = a as Partial<Augment> | null;
  if (typeof o !== 'object' || o === null || !Number.isInteger(o.crop) || (o.crop as number) < 0 || typeof o.flip !== 'boolean') {
    throw new OptionError(`{augment}: expected {crop: an integer ≥ 0, flip: true|false}, got ${JSON.stringify(a)}`);
  }
  return { crop: o.crop as number, flip: o.flip };
}

/** Refuses augmentation where it means nothing: token ids, waveforms, or a crop as large as the image. */
export function checkAugmentFits(a: Augment, ds: { name: string; shape: readonly [number, number, number]; vocabulary?: unknown; sampleRate?: unknown }): void {
  if (ds.vocabulary !== undefined) throw new OptionError(`{augment}: not for text data (${ds.name} holds token ids; cropping and mirroring a message make no sense)`);
  if (ds.sampleRate !== undefined) throw new OptionError(`{augment}: not for audio data (${ds.name} holds waveforms; a mirrored clip plays backwards)`);
  const [h, w] = ds.shape;
  if (a.crop >= Math.min(h, w)) throw new OptionError(`{augment}: crop:${a.crop} pads by at least the image size ${h}×${w}; expected a padding < ${Math.min(h, w)}`);
}

/** One example's draws: crop offsets in [0, 2·crop] and the flip. */
export function augmentDraws(a: Augment, seed: number, epoch: number, example: number): { dy: number; dx: number; flip: boolean } {
  const r = new Rng(exampleSeed((seed ^ AUGMENT_STREAM) >>> 0, epoch, example));
  const dy = a.crop > 0 ? r.int(2 * a.crop + 1) : 0;
  const dx = a.crop > 0 ? r.int(2 * a.crop + 1) : 0;
  const flip = a.flip && r.next() < 0.5;
  return { dy, dx, flip };
}

/**
 * One image (H×W×C, NHWC row) augmented into `out`: out[y][x] = in[y + dy − crop][x' + dx − crop] with
 * x' = W−1−x when flipped, else x; 0 outside the image (the zero padding).
 */
export function augmentImage(src: Float32Array, out: Float32Array, shape: readonly [number, number, number], crop: number, d: { dy: number; dx: number; flip: boolean }): void {
  const [h, w, c] = shape;
  for (let y = 0; y < h; y++) {
    const sy = y + d.dy - crop;
    for (let x = 0; x < w; x++) {
      const sx = (d.flip ? w - 1 - x : x) + d.dx - crop;
      const o = (y * w + x) * c;
      if (sy < 0 || sy >= h || sx < 0 || sx >= w) out.fill(0, o, o + c);
      else out.set(src.subarray((sy * w + sx) * c, (sy * w + sx + 1) * c), o);
    }
  }
}

/** A batch's images (rows of `ids`, the examples' training-set indices) augmented for `epoch`: a new array. */
export function augmentBatch(x: Float32Array, ids: Int32Array, shape: readonly [number, number, number], a: Augment, seed: number, epoch: number): Float32Array {
  const row = shape[0] * shape[1] * shape[2];
  const out = new Float32Array(x.length);
  for (let j = 0; j < ids.length; j++) {
    augmentImage(x.subarray(j * row, (j + 1) * row), out.subarray(j * row, (j + 1) * row), shape, a.crop, augmentDraws(a, seed, epoch, ids[j] as number));
  }
  return out;
}
