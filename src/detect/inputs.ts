/**
 * Reading images to classify and check: the raw float32 tensors `alp attack` writes (adversarial.f32,
 * shape from the attack.json beside it), IDX files (uint8 scaled by 1/255, or float), and PNG files.
 * Every problem is a UserError naming the file and saying what was expected.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { gunzipSync, inflateSync } from 'node:zlib';
import { isGzip, parseIdx } from '../data/idx.js';
import { crc32 } from '../util/crc32.js';
import { OptionError, UserError } from '../util/errors.js';
import { assertValidInputs } from '../util/validate.js';

export interface InputBatch {
  source: string;
  format: 'f32' | 'idx' | 'png';
  /** count × H × W × C values in [0,1], NHWC. */
  images: Float32Array;
  count: number;
  shape: [number, number, number];
  /** True labels when the file says (attack.json next to an .f32). */
  labels?: Int32Array;
}

/** Files larger than this are refused (1 GiB). */
export const MAX_INPUT_BYTES = 1 << 30;

function readBytes(path: string): Buffer {
  if (!existsSync(path)) throw new UserError(`${path}: no such file`);
  const st = statSync(path);
  if (!st.isFile()) throw new UserError(`${path}: expected a file, found a folder or special file`);
  if (st.size > MAX_INPUT_BYTES) throw new UserError(`${path}: ${st.size} bytes is larger than the ${MAX_INPUT_BYTES}-byte limit for inputs`);
  return readFileSync(path);
}

const PNG_MAGIC = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

function isPng(b: Uint8Array): boolean {
  return b.length >= 8 && PNG_MAGIC.every((v, i) => b[i] === v);
}

function isIdx(b: Uint8Array): boolean {
  return b.length >= 4 && b[0] === 0 && b[1] === 0 && [0x08, 0x09, 0x0b, 0x0c, 0x0d, 0x0e].includes(b[2] as number) && (b[3] as number) >= 1 && (b[3] as number) <= 4;
}

function shapeStr(s: readonly number[]): string {
  return `[${s.join(',')}]`;
}

/**
 * Reads one input file of images shaped `want` = [H, W, C]. `shape` overrides the shape of a raw .f32
 * file ([N,H,W,C] or [H,W,C]); otherwise it comes from attack.json beside it, or from the file size.
 */
export function readInputs(path: string, want: readonly [number, number, number], o: { shape?: number[] } = {}): InputBatch {
  const bytes = readBytes(path);
  let batch: InputBatch;
  if (isPng(bytes)) batch = pngInput(path, bytes, want);
  else if (isGzip(bytes) || isIdx(bytes)) batch = idxInput(path, bytes, want);
  else if (/\.(f32|raw|bin)$/i.test(path)) batch = f32Input(path, bytes, want, o.shape);
  else {
    throw new UserError(`${path}: unrecognised input: expected a PNG image, an IDX file (magic 00 00 type rank), or raw float32 values in a file named *.f32`);
  }
  assertValidInputs(batch.images, path);
  return batch;
}

// ---------------------------------------------------------------------------------------------------
// Raw float32 (alp attack's adversarial.f32)

interface AttackJson {
  tensor?: { file?: unknown; shape?: unknown; dtype?: unknown };
  labels?: unknown;
}

function f32Input(path: string, bytes: Buffer, want: readonly [number, number, number], given?: number[]): InputBatch {
  const [h, w, c] = want;
  const size = h * w * c;
  if (bytes.length % 4 !== 0) throw new UserError(`${path}: ${bytes.length} bytes is not a whole number of float32 values (4 bytes each)`);
  const values = bytes.length / 4;
  let shape: number[] | undefined = given;
  let labels: Int32Array | undefined;
  let from = 'the given {shape}';
  const meta = join(dirname(path), 'attack.json');
  if (existsSync(meta)) {
    let j: AttackJson | undefined;
    try {
      j = JSON.parse(readFileSync(meta, 'utf8')) as AttackJson;
    } catch (e) {
      throw new UserError(`${meta}: expected the JSON that alp attack writes, could not parse it: ${(e as Error).message}`);
    }
    if (j?.tensor?.file === basename(path)) {
      if (shape === undefined) {
        if (!Array.isArray(j.tensor.shape) || j.tensor.shape.some((d) => !Number.isInteger(d) || (d as number) < 1)) {
          throw new UserError(`${meta}: tensor.shape: expected an array of positive integers, found ${JSON.stringify(j.tensor.shape)}`);
        }
        shape = j.tensor.shape as number[];
        from = `${meta} tensor.shape`;
      }
      if (j.tensor.dtype !== undefined && j.tensor.dtype !== 'float32') throw new UserError(`${meta}: tensor.dtype: expected 'float32', found ${JSON.stringify(j.tensor.dtype)}`);
      if (Array.isArray(j.labels) && j.labels.every((v) => Number.isInteger(v))) labels = Int32Array.from(j.labels as number[]);
    }
  }
  if (shape === undefined) {
    if (values === 0 || values % size !== 0) {
      throw new OptionError(`${path}: ${values} float32 values are not a whole number of ${h}×${w}×${c} images (${size} values each); give its {shape} N,H,W,C`);
    }
    shape = [values / size, h, w, c];
    from = 'the file size';
  }
  if (shape.length === 3) shape = [1, ...shape];
  if (shape.length !== 4) throw new OptionError(`${path}: shape ${shapeStr(shape)} (from ${from}): expected [N,H,W,C] or [H,W,C]`);
  const [n, sh, sw, sc] = shape as [number, number, number, number];
  if (sh !== h || sw !== w || sc !== c) throw new OptionError(`${path}: images are ${shapeStr([sh, sw, sc])} (from ${from}), the model expects ${shapeStr(want)}`);
  if (n * size !== values) {
    throw new OptionError(`${path}: shape ${shapeStr(shape)} (from ${from}) needs ${n * size} float32 values (${n * size * 4} bytes), the file holds ${values} (${bytes.length} bytes)`);
  }
  const images = new Float32Array(values);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let i = 0; i < values; i++) images[i] = view.getFloat32(4 * i, true);
  if (labels !== undefined && labels.length !== n) labels = undefined;
  return { source: path, format: 'f32', images, count: n, shape: [h, w, c], ...(labels !== undefined ? { labels } : {}) };
}

// ---------------------------------------------------------------------------------------------------
// IDX

function idxInput(path: string, raw: Buffer, want: readonly [number, number, number]): InputBatch {
  let bytes: Uint8Array = raw;
  if (isGzip(raw)) {
    try {
      bytes = gunzipSync(raw);
    } catch (e) {
      throw new UserError(`${path}: starts with the gzip magic 1f 8b but does not decompress (${(e as Error).message})`);
    }
  }
  const arr = parseIdx(bytes, path);
  const [h, w, c] = want;
  let s = arr.shape;
  // Accept [N,H,W,C], [N,H,W] (C = 1), [H,W,C] and [H,W] (one image).
  if (s.length === 2 || (s.length === 3 && c > 1 && s[2] === c && s[0] === h && s[1] === w)) s = [1, ...s];
  if (s.length === 3) s = [...s, 1];
  if (s.length !== 4 || s[1] !== h || s[2] !== w || s[3] !== c) {
    throw new UserError(`${path}: IDX shape ${shapeStr(arr.shape)} does not hold ${shapeStr(want)} images (expected [N,H,W], [N,H,W,C] or one image)`);
  }
  const n = s[0] as number;
  const images = new Float32Array(arr.data.length);
  if (arr.dtype === 'uint8') for (let i = 0; i < images.length; i++) images[i] = (arr.data[i] as number) / 255;
  else if (arr.dtype === 'float32' || arr.dtype === 'float64') for (let i = 0; i < images.length; i++) images[i] = arr.data[i] as number;
  else throw new UserError(`${path}: IDX type ${arr.dtype}: expected uint8 pixels (scaled by 1/255) or float32/float64 values in [0,1]`);
  return { source: path, format: 'idx', images, count: n, shape: [h, w, c] };
}

// ---------------------------------------------------------------------------------------------------
// PNG

/** Largest image accepted (pixels), so a hostile header cannot make us allocate gigabytes. */
export const MAX_PNG_PIXELS = 1 << 24;

export interface DecodedPng {
  width: number;
  height: number;
  /** 1 (grey), 3 (RGB); alpha is dropped, palettes are expanded. */
  channels: 1 | 3;
  /** width × height × channels values in [0,1], row-major, top row first. */
  pixels: Float32Array;
}

/** Decodes a non-interlaced PNG (all colour types, bit depths 1–16). */
export function decodePng(bytes: Uint8Array, where = 'PNG'): DecodedPng {
  if (!isPng(bytes)) throw new UserError(`${where}: not a PNG file (wrong signature)`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let off = 8;
  let ihdr: Uint8Array | undefined;
  let palette: Uint8Array | undefined;
  const idat: Uint8Array[] = [];
  let ended = false;
  while (off < bytes.length) {
    if (off + 12 > bytes.length) throw new UserError(`${where}: truncated PNG: a chunk header at byte ${off} runs past the end`);
    const len = view.getUint32(off);
    const type = String.fromCharCode(...bytes.subarray(off + 4, off + 8));
    if (off + 12 + len > bytes.length) throw new UserError(`${where}: truncated PNG: chunk ${type} needs ${len} bytes, the file ends first`);
    const data = bytes.subarray(off + 8, off + 8 + len);
    const crc = view.getUint32(off + 8 + len);
    if (crc32(bytes, off + 4, off + 8 + len) !== crc) throw new UserError(`${where}: corrupt PNG: CRC mismatch in chunk ${type}`);
    if (type === 'IHDR') ihdr = data;
    else if (type === 'PLTE') palette = data;
    else if (type === 'IDAT') idat.push(data);
    else if (type === 'IEND') {
      ended = true;
      break;
    }
    off += 12 + len;
  }
  if (ihdr === undefined || ihdr.length !== 13) throw new UserError(`${where}: PNG without a valid IHDR chunk`);
  if (!ended) throw new UserError(`${where}: truncated PNG: no IEND chunk`);
  const hv = new DataView(ihdr.buffer, ihdr.byteOffset, 13);
  const width = hv.getUint32(0), height = hv.getUint32(4);
  const depth = ihdr[8] as number, ctype = ihdr[9] as number, interlace = ihdr[12] as number;
  if (width < 1 || height < 1 || width * height > MAX_PNG_PIXELS) throw new UserError(`${where}: PNG size ${width}×${height} is outside 1 … ${MAX_PNG_PIXELS} pixels`);
  if (interlace !== 0) throw new UserError(`${where}: interlaced (Adam7) PNGs are not supported; save it without interlacing`);
  const samplesPer: Record<number, number> = { 0: 1, 2: 3, 3: 1, 4: 2, 6: 4 };
  const spp = samplesPer[ctype];
  const okDepth: Record<number, number[]> = { 0: [1, 2, 4, 8, 16], 2: [8, 16], 3: [1, 2, 4, 8], 4: [8, 16], 6: [8, 16] };
  if (spp === undefined || !(okDepth[ctype] as number[]).includes(depth)) throw new UserError(`${where}: unsupported PNG colour type ${ctype} with bit depth ${depth}`);
  if (ctype === 3 && (palette === undefined || palette.length % 3 !== 0)) throw new UserError(`${where}: palette PNG without a valid PLTE chunk`);
  let raw: Buffer;
  try {
    raw = inflateSync(Buffer.concat(idat));
  } catch (e) {
    throw new UserError(`${where}: corrupt PNG: image data does not decompress (${(e as Error).message})`);
  }
  const bitsPerPixel = spp * depth;
  const stride = Math.ceil((width * bitsPerPixel) / 8);
  const bpp = Math.max(1, bitsPerPixel / 8);
  if (raw.length < (stride + 1) * height) throw new UserError(`${where}: corrupt PNG: ${raw.length} bytes of image data, ${width}×${height} needs ${(stride + 1) * height}`);
  const cur = new Uint8Array(stride);
  const prev = new Uint8Array(stride);
  const outCh = ctype === 0 || ctype === 4 ? 1 : 3;
  const pixels = new Float32Array(width * height * outCh);
  const maxv = (1 << depth) - 1;
  for (let y = 0; y < height; y++) {
    const base = y * (stride + 1);
    const filter = raw[base] as number;
    for (let i = 0; i < stride; i++) {
      const x = raw[base + 1 + i] as number;
      const a = i >= bpp ? (cur[i - bpp] as number) : 0;
      const b = prev[i] as number;
      const c = i >= bpp ? (prev[i - bpp] as number) : 0;
      let v: number;
      switch (filter) {
        case 0: v = x; break;
        case 1: v = x + a; break;
        case 2: v = x + b; break;
        case 3: v = x + ((a + b) >> 1); break;
        case 4: {
          const p = a + b - c, pa = Math.abs(p - a), pb = Math.abs(p - b), pc = Math.abs(p - c);
          v = x + (pa <= pb && pa <= pc ? a : pb <= pc ? b : c);
          break;
        }
        default:
          throw new UserError(`${where}: corrupt PNG: unknown filter type ${filter} on row ${y}`);
      }
      cur[i] = v & 0xff;
    }
    const sample = (idx: number): number => {
      if (depth === 8) return cur[idx] as number;
      if (depth === 16) return ((cur[2 * idx] as number) << 8) | (cur[2 * idx + 1] as number);
      const bit = idx * depth;
      return ((cur[bit >> 3] as number) >> (8 - depth - (bit & 7))) & maxv;
    };
    for (let x = 0; x < width; x++) {
      const o = (y * width + x) * outCh;
      if (ctype === 3) {
        const p = sample(x);
        if (3 * p + 2 >= (palette as Uint8Array).length) throw new UserError(`${where}: corrupt PNG: palette index ${p} outside the ${(palette as Uint8Array).length / 3}-entry palette`);
        for (let k = 0; k < 3; k++) pixels[o + k] = ((palette as Uint8Array)[3 * p + k] as number) / 255;
      } else {
        for (let k = 0; k < outCh; k++) pixels[o + k] = sample(x * spp + k) / maxv;
      }
    }
    prev.set(cur);
  }
  return { width, height, channels: outCh as 1 | 3, pixels };
}

function pngInput(path: string, bytes: Uint8Array, want: readonly [number, number, number]): InputBatch {
  const img = decodePng(bytes, path);
  const [h, w, c] = want;
  if (img.width !== w || img.height !== h) {
    throw new UserError(`${path}: image is ${img.width}×${img.height} pixels, the model expects ${w}×${h} (width×height); images are not resized`);
  }
  if (c !== 1 && c !== 3) throw new UserError(`${path}: the model expects ${c} channels; PNG inputs work for 1 (grey) or 3 (RGB)`);
  const images = new Float32Array(h * w * c);
  for (let p = 0; p < h * w; p++) {
    if (c === img.channels) for (let k = 0; k < c; k++) images[p * c + k] = img.pixels[p * c + k] as number;
    else if (c === 1) {
      // RGB → grey with the ITU-R BT.601 luma weights.
      images[p] = 0.299 * (img.pixels[3 * p] as number) + 0.587 * (img.pixels[3 * p + 1] as number) + 0.114 * (img.pixels[3 * p + 2] as number);
    } else for (let k = 0; k < 3; k++) images[3 * p + k] = img.pixels[p] as number;
  }
  for (let i = 0; i < images.length; i++) images[i] = Math.min(1, Math.max(0, images[i] as number));
  return { source: path, format: 'png', images, count: 1, shape: [h, w, c] };
}
