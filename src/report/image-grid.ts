/**
 * Lays out small images (HWC float pixels in [0,1], 1 or 3 channels) in a grid on a white background,
 * scaled up by an integer factor with nearest-neighbour sampling, each with an optional caption
 * drawn in a built-in bitmap font beneath it. The result feeds encodePng.
 *
 * Layout: every cell is as wide as the widest scaled tile or caption and as tall as the tallest scaled
 * tile; when any tile has a caption, every cell gets a caption band below it. Cells are separated (and
 * the grid surrounded) by `pad` pixels. Tiles and captions are centred horizontally in their cell,
 * tiles sit at the top of their cell.
 */
import { drawText, textHeight, textWidth } from './font.js';

export interface Tile {
  /** Row-major HWC values in [0,1]; values outside are clamped, NaN draws as 0. */
  pixels: Float32Array;
  h: number;
  w: number;
  /** 1 (grey) or 3 (RGB). */
  c: number;
  caption?: string;
}

export interface GridOptions {
  /** Integer upscaling factor for tiles (nearest neighbour). Default 1. */
  scale?: number;
  /** Pixels between cells and around the grid. Default 2. */
  pad?: number;
  /** Integer scale of caption text (5×7 font). Default max(1, floor(scale / 2)). */
  textScale?: number;
}

export interface GridImage {
  width: number;
  height: number;
  /** width × height × 4 bytes, row-major. */
  rgba: Uint8Array;
}

export interface GridLayout {
  cols: number;
  cellW: number;
  cellH: number;
  /** Height of the caption band below each cell (0 when no tile has a caption). */
  captionH: number;
  pad: number;
  scale: number;
  textScale: number;
  width: number;
  height: number;
}

const BACKGROUND = 255;
const TEXT: readonly [number, number, number] = [0, 0, 0];

function checkInt(name: string, v: number, min: number): number {
  if (!Number.isInteger(v) || v < min) throw new RangeError(`imageGrid: ${name} must be an integer ≥ ${min}, got ${v}`);
  return v;
}

function checkTile(t: Tile, r: number, i: number): void {
  const where = `imageGrid: tile [${r}][${i}]`;
  if (!Number.isInteger(t.h) || t.h < 1 || !Number.isInteger(t.w) || t.w < 1) throw new RangeError(`${where}: h and w must be positive integers, got ${t.h}×${t.w}`);
  if (t.c !== 1 && t.c !== 3) throw new RangeError(`${where}: c must be 1 or 3, got ${t.c}`);
  if (t.pixels.length !== t.h * t.w * t.c) {
    throw new RangeError(`${where}: expected ${t.h}×${t.w}×${t.c} = ${t.h * t.w * t.c} values, got ${t.pixels.length}`);
  }
}

/** The geometry imageGrid uses for `rows` and `opts`; exported so callers and tests can locate tiles. */
export function gridLayout(rows: Tile[][], opts: GridOptions = {}): GridLayout {
  const scale = checkInt('scale', opts.scale ?? 1, 1);
  const pad = checkInt('pad', opts.pad ?? 2, 0);
  const textScale = checkInt('textScale', opts.textScale ?? Math.max(1, Math.floor(scale / 2)), 1);
  if (rows.length === 0) throw new RangeError('imageGrid: no rows to lay out');
  const cols = Math.max(...rows.map((r) => r.length));
  if (cols === 0) throw new RangeError('imageGrid: no tiles to lay out');
  let cellW = 0;
  let cellH = 0;
  let anyCaption = false;
  rows.forEach((row, r) => row.forEach((t, i) => {
    checkTile(t, r, i);
    cellW = Math.max(cellW, t.w * scale);
    cellH = Math.max(cellH, t.h * scale);
    if (t.caption !== undefined && t.caption !== '') {
      anyCaption = true;
      cellW = Math.max(cellW, textWidth(t.caption, textScale));
    }
  }));
  // One text-pixel margin above and below the text.
  const captionH = anyCaption ? textHeight(textScale) + 2 * textScale : 0;
  return {
    cols, cellW, cellH, captionH, pad, scale, textScale,
    width: cols * cellW + (cols + 1) * pad,
    height: rows.length * (cellH + captionH) + (rows.length + 1) * pad,
  };
}

/** Top-left corner of cell (row, col) in the grid image. */
export function cellOrigin(l: GridLayout, row: number, col: number): { x: number; y: number } {
  return { x: l.pad + col * (l.cellW + l.pad), y: l.pad + row * (l.cellH + l.captionH + l.pad) };
}

function toByte(v: number): number {
  if (!(v > 0)) return 0; // also NaN
  if (v >= 1) return 255;
  return Math.round(v * 255);
}

export function imageGrid(rows: Tile[][], opts: GridOptions = {}): GridImage {
  const l = gridLayout(rows, opts);
  const { width, height, scale } = l;
  const rgba = new Uint8Array(width * height * 4).fill(BACKGROUND);
  rows.forEach((row, r) => row.forEach((t, col) => {
    const o = cellOrigin(l, r, col);
    const x0 = o.x + Math.floor((l.cellW - t.w * scale) / 2);
    const y0 = o.y;
    for (let y = 0; y < t.h; y++) {
      for (let x = 0; x < t.w; x++) {
        const p = (y * t.w + x) * t.c;
        const red = toByte(t.pixels[p] as number);
        const green = t.c === 3 ? toByte(t.pixels[p + 1] as number) : red;
        const blue = t.c === 3 ? toByte(t.pixels[p + 2] as number) : red;
        for (let sy = 0; sy < scale; sy++) {
          let q = ((y0 + y * scale + sy) * width + x0 + x * scale) * 4;
          for (let sx = 0; sx < scale; sx++, q += 4) {
            rgba[q] = red;
            rgba[q + 1] = green;
            rgba[q + 2] = blue;
            rgba[q + 3] = 255;
          }
        }
      }
    }
    if (t.caption !== undefined && t.caption !== '') {
      const tx = o.x + Math.floor((l.cellW - textWidth(t.caption, l.textScale)) / 2);
      const ty = o.y + l.cellH + l.textScale;
      drawText(rgba, width, height, tx, ty, t.caption, TEXT, l.textScale);
    }
  }));
  return { width, height, rgba };
}

/**
 * An RGB picture of adv − clean: red where the perturbation is positive, blue where negative, black
 * where zero, with intensity |δ| / max|δ| over the image. For colour inputs each pixel shows the
 * channel whose change is largest in magnitude (with its sign). Output is h × w × 3 values in [0,1].
 */
export function perturbationMap(clean: Float32Array, adv: Float32Array, h: number, w: number, c: number): Float32Array {
  const n = h * w * c;
  if (clean.length !== n || adv.length !== n) {
    throw new RangeError(`perturbationMap: expected ${h}×${w}×${c} = ${n} values, got ${clean.length} clean and ${adv.length} adversarial`);
  }
  const delta = new Float32Array(h * w);
  let maxAbs = 0;
  for (let i = 0; i < h * w; i++) {
    let best = 0;
    for (let k = 0; k < c; k++) {
      const d = (adv[i * c + k] as number) - (clean[i * c + k] as number);
      if (Math.abs(d) > Math.abs(best)) best = d;
    }
    delta[i] = best;
    maxAbs = Math.max(maxAbs, Math.abs(best));
  }
  const out = new Float32Array(h * w * 3);
  if (!(maxAbs > 0) || !Number.isFinite(maxAbs)) return out;
  for (let i = 0; i < h * w; i++) {
    const d = (delta[i] as number) / maxAbs;
    out[i * 3] = d > 0 ? d : 0;
    out[i * 3 + 2] = d < 0 ? -d : 0;
  }
  return out;
}
