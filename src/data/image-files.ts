/**
 * Image files to uint8 pixels with sharp (libvips): PNG, JPEG, WebP, GIF (first frame) and TIFF.
 * All images of a dataset must share one size unless a size is given, and one channel count is used
 * for all: grey (1) when every file is grey, else RGB (3); alpha is dropped. A file's pixel count is
 * checked from its header before it is decoded (decompression bombs), and a truncated or corrupt file
 * fails rather than decoding to partly grey pixels.
 */
import type SharpModule from 'sharp';
import { UserError } from '../util/errors.js';
import { DEFAULT_MAX_PIXELS } from './source.js';

export const IMAGE_EXTENSIONS = ['.png', '.jpg', '.jpeg', '.webp', '.gif', '.tif', '.tiff'] as const;

export interface ImageHeader {
  width: number;
  height: number;
  grey: boolean;
}

export interface DecodeOptions {
  /** Resize to [H, W] (sharp's default fit 'cover': scaled and centre-cropped). */
  size?: [number, number];
  channels: 1 | 3;
  maxPixels?: number;
}

let sharpModule: Promise<typeof SharpModule> | undefined;
/** sharp, loaded on first use: commands that read no image files do not pay for the native library. */
function loadSharp(): Promise<typeof SharpModule> {
  sharpModule ??= import('sharp').then((m) => m.default);
  return sharpModule;
}

function reason(e: unknown): string {
  return ((e as Error).message ?? String(e)).split('\n')[0] as string;
}

/** Width, height and whether it is grey, from the file's header only. */
export async function readImageHeader(path: string, maxPixels = DEFAULT_MAX_PIXELS): Promise<ImageHeader> {
  const sharp = await loadSharp();
  const m = await sharp(path, { limitInputPixels: false }).metadata().catch((e: unknown) => {
    throw new UserError(`${path}: not a readable image (${reason(e)})`);
  });
  const { width, height } = m;
  if (width === undefined || height === undefined) throw new UserError(`${path}: not a readable image (no size in its header)`);
  if (width * height > maxPixels) {
    throw new UserError(`${path}: ${width}×${height} = ${width * height} pixels, over the limit of ${maxPixels} (a decompression bomb, or far larger than a classifier needs; resize it first)`);
  }
  return { width, height, grey: m.space === 'b-w' || m.space === 'grey16' || (m.channels ?? 3) <= 2 };
}

/** The image's pixels as HWC uint8 with `o.channels` channels. */
export async function decodeImage(path: string, o: DecodeOptions): Promise<Uint8Array> {
  const sharp = await loadSharp();
  let img = sharp(path, { limitInputPixels: o.maxPixels ?? DEFAULT_MAX_PIXELS, failOn: 'truncated' }).removeAlpha();
  if (o.size !== undefined) img = img.resize(o.size[1], o.size[0]);
  img = o.channels === 1 ? img.toColourspace('b-w') : img.toColourspace('srgb');
  const out = await img.raw({ depth: 'uchar' }).toBuffer({ resolveWithObject: true }).catch((e: unknown) => {
    throw new UserError(`${path}: cannot decode it (${reason(e)})`);
  });
  if (out.info.channels !== o.channels) {
    throw new UserError(`${path}: decoded to ${out.info.channels} channels, expected ${o.channels}`);
  }
  return new Uint8Array(out.data.buffer, out.data.byteOffset, out.data.byteLength);
}

/** Runs `fn` over `items` with at most `limit` calls in flight, results in order. */
export async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T, i: number) => Promise<R>, onDone?: (done: number) => void): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  let done = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i] as T, i);
      onDone?.(++done);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}
