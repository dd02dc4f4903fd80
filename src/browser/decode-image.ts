/**
 * An image file to a model input in the browser, with the browser's own decoder (createImageBitmap):
 * PNG, JPEG, WebP, GIF (first frame) and whatever else the browser reads. It follows what the Node
 * loader does with sharp (data/image-files.ts) so a user's file gives the model what training gave it:
 * resized to cover H×W and centre-cropped, alpha dropped, values v/255 in HWC order. Grey (C = 1) is
 * the file's own value when R = G = B, else BT.709 luminance in linear light encoded back to sRGB, as
 * libvips converts (up to a grey level of rounding). The browser's resampling is not libvips', so a resized image is close
 * to, not equal to, the Node loader's; an image already H×W is decoded exactly (PNG, lossless WebP).
 */

type Canvas2D = OffscreenCanvasRenderingContext2D | CanvasRenderingContext2D;

function canvas2d(w: number, h: number): Canvas2D {
  if (typeof OffscreenCanvas !== 'undefined') {
    const ctx = new OffscreenCanvas(w, h).getContext('2d', { willReadFrequently: true });
    if (ctx !== null) return ctx;
  }
  const c = document.createElement('canvas');
  c.width = w;
  c.height = h;
  const ctx = c.getContext('2d', { willReadFrequently: true });
  if (ctx === null) throw new Error('decodeImage: this browser gives no 2D canvas');
  return ctx;
}

async function bitmapOf(file: Blob, name: string): Promise<ImageBitmap> {
  try {
    // No colour-space conversion and no premultiplication: the file's own sRGB values, as libvips reads them.
    return await createImageBitmap(file, { colorSpaceConversion: 'none', premultiplyAlpha: 'none' });
  } catch (e) {
    throw new Error(`${name}: not an image this browser can decode (${(e as Error).message ?? String(e)})`);
  }
}

/**
 * Decodes `file` and returns it as [H, W, C] values in [0,1] (C = 1 or 3), resized to cover H×W and
 * centre-cropped when its size differs. `name` is used in errors.
 */
export async function decodeImageFile(file: Blob, shape: readonly [number, number, number], name = 'image'): Promise<Float32Array> {
  const [h, w, c] = shape;
  if (c !== 1 && c !== 3) throw new Error(`${name}: the model takes ${c}-channel inputs; images give 1 (grey) or 3 (RGB)`);
  const bmp = await bitmapOf(file, name);
  try {
    // 'cover': scale so both sides reach H×W, crop the middle (sharp's default fit).
    const scale = Math.max(w / bmp.width, h / bmp.height);
    const sw = w / scale, sh = h / scale;
    const ctx = canvas2d(w, h);
    ctx.imageSmoothingQuality = 'high';
    ctx.drawImage(bmp, (bmp.width - sw) / 2, (bmp.height - sh) / 2, sw, sh, 0, 0, w, h);
    return toUnit(ctx.getImageData(0, 0, w, h).data, c);
  } finally {
    bmp.close();
  }
}

/** RGBA bytes → HWC values v/255 with `c` channels (alpha dropped). */
export function toUnit(rgba: Uint8ClampedArray | Uint8Array, c: 1 | 3): Float32Array {
  const n = rgba.length / 4;
  const out = new Float32Array(n * c);
  for (let p = 0; p < n; p++) {
    const r = rgba[p * 4] as number, g = rgba[p * 4 + 1] as number, b = rgba[p * 4 + 2] as number;
    if (c === 3) {
      out[p * 3] = r / 255;
      out[p * 3 + 1] = g / 255;
      out[p * 3 + 2] = b / 255;
    } else out[p] = (r === g && g === b ? r : greyOf(r, g, b)) / 255;
  }
  return out;
}

const toLinear = (v: number): number => {
  const u = v / 255;
  return u <= 0.04045 ? u / 12.92 : ((u + 0.055) / 1.055) ** 2.4;
};

/** Grey level of an sRGB colour as libvips makes it: BT.709 luminance in linear light, encoded back to sRGB. */
function greyOf(r: number, g: number, b: number): number {
  const y = 0.2126 * toLinear(r) + 0.7152 * toLinear(g) + 0.0722 * toLinear(b);
  return Math.round(255 * (y <= 0.0031308 ? 12.92 * y : 1.055 * y ** (1 / 2.4) - 0.055));
}
