/**
 * Audio examples as pictures and sound: one-row inputs [1, T, 1] (waveforms mapped to the [0,1] box,
 * see data/audio.ts) are drawn as waveform tiles (min/max envelope per pixel column) instead of
 * 1-pixel-high images, and encoded as WAV data: URIs so the report can play clean and adversarial
 * clips side by side.
 */
import { encodeWav } from '../data/wav.js';
import { unitToWave } from '../data/audio.js';
import type { Tile } from './image-grid.js';

const BG: [number, number, number] = [1, 1, 1];
const AXIS: [number, number, number] = [0.85, 0.86, 0.88];

/**
 * A w×h RGB tile of signal `x` (any range): one min–max bar per column, vertically scaled so that
 * ±`range` fills the tile, in `colour`.
 */
export function waveformTile(x: Float32Array, range: number, colour: [number, number, number], w = 240, h = 60, caption?: string): Tile {
  const px = new Float32Array(w * h * 3);
  const put = (r: number, c: number, rgb: [number, number, number]): void => {
    const i = (r * w + c) * 3;
    px[i] = rgb[0];
    px[i + 1] = rgb[1];
    px[i + 2] = rgb[2];
  };
  for (let r = 0; r < h; r++) for (let c = 0; c < w; c++) put(r, c, BG);
  const mid = Math.floor(h / 2);
  for (let c = 0; c < w; c++) put(mid, c, AXIS);
  const rowOf = (v: number): number => Math.max(0, Math.min(h - 1, Math.round(mid - (v / (range || 1)) * (h / 2 - 1))));
  const per = x.length / w;
  for (let c = 0; c < w; c++) {
    const a = Math.floor(c * per);
    const b = Math.max(a + 1, Math.floor((c + 1) * per));
    let lo = Infinity;
    let hi = -Infinity;
    for (let i = a; i < b && i < x.length; i++) {
      const v = x[i] as number;
      if (v < lo) lo = v;
      if (v > hi) hi = v;
    }
    if (lo === Infinity) continue;
    for (let r = rowOf(hi); r <= rowOf(lo); r++) put(r, c, colour);
  }
  return caption !== undefined ? { pixels: px, h, w, c: 3, caption } : { pixels: px, h, w, c: 3 };
}

/** The waveform strip for one example: the adversarial clip, and its perturbation magnified to fill the tile. */
export function audioTiles(clean: Float32Array | null, adv: Float32Array, caption = 'ADVERSARIAL'): Tile[] {
  const a = unitToWave(adv);
  let peak = 0;
  for (const v of a) peak = Math.max(peak, Math.abs(v));
  const tiles = [waveformTile(a, peak, [0.13, 0.4, 0.75], 240, 60, caption)];
  if (clean !== null) {
    const d = new Float32Array(a.length);
    let m = 0;
    for (let i = 0; i < a.length; i++) {
      // In waveform units: twice the difference in the box.
      d[i] = 2 * ((adv[i] as number) - (clean[i] as number));
      m = Math.max(m, Math.abs(d[i] as number));
    }
    const gain = m > 0 ? peak / m : 1;
    tiles.push(waveformTile(d, m, [0.81, 0.13, 0.18], 240, 60, `PERTURBATION X${Math.round(gain)}`));
  }
  return tiles;
}

/** A WAV data: URI of a one-row input in the [0,1] box. */
export function wavUri(unit: Float32Array, sampleRate: number): string {
  return `data:audio/wav;base64,${Buffer.from(encodeWav({ samples: unitToWave(unit), sampleRate })).toString('base64')}`;
}
