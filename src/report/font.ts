/**
 * A tiny 5×7 bitmap font for captions: digits, A–Z (lowercase is drawn as uppercase), space and a
 * little punctuation. Glyphs are drawn here as rows of '#' (ink) and '.' (blank); unknown characters
 * draw as '?'.
 */

export const GLYPH_W = 5;
export const GLYPH_H = 7;
/** Blank columns between characters, in font pixels. */
export const GLYPH_GAP = 1;

const ART: Record<string, string> = {
  '0': '.###./#...#/#..##/#.#.#/##..#/#...#/.###.',
  '1': '..#../.##../..#../..#../..#../..#../.###.',
  '2': '.###./#...#/....#/...#./..#../.#.../#####',
  '3': '#####/...#./..#../...#./....#/#...#/.###.',
  '4': '...#./..##./.#.#./#..#./#####/...#./...#.',
  '5': '#####/#..../####./....#/....#/#...#/.###.',
  '6': '..##./.#.../#..../####./#...#/#...#/.###.',
  '7': '#####/....#/...#./..#../.#.../.#.../.#...',
  '8': '.###./#...#/#...#/.###./#...#/#...#/.###.',
  '9': '.###./#...#/#...#/.####/....#/...#./.##..',
  A: '.###./#...#/#...#/#####/#...#/#...#/#...#',
  B: '####./#...#/#...#/####./#...#/#...#/####.',
  C: '.###./#...#/#..../#..../#..../#...#/.###.',
  D: '####./#...#/#...#/#...#/#...#/#...#/####.',
  E: '#####/#..../#..../####./#..../#..../#####',
  F: '#####/#..../#..../####./#..../#..../#....',
  G: '.###./#...#/#..../#.###/#...#/#...#/.####',
  H: '#...#/#...#/#...#/#####/#...#/#...#/#...#',
  I: '.###./..#../..#../..#../..#../..#../.###.',
  J: '..###/...#./...#./...#./...#./#..#./.##..',
  K: '#...#/#..#./#.#../##.../#.#../#..#./#...#',
  L: '#..../#..../#..../#..../#..../#..../#####',
  M: '#...#/##.##/#.#.#/#.#.#/#...#/#...#/#...#',
  N: '#...#/#...#/##..#/#.#.#/#..##/#...#/#...#',
  O: '.###./#...#/#...#/#...#/#...#/#...#/.###.',
  P: '####./#...#/#...#/####./#..../#..../#....',
  Q: '.###./#...#/#...#/#...#/#.#.#/#..#./.##.#',
  R: '####./#...#/#...#/####./#.#../#..#./#...#',
  S: '.####/#..../#..../.###./....#/....#/####.',
  T: '#####/..#../..#../..#../..#../..#../..#..',
  U: '#...#/#...#/#...#/#...#/#...#/#...#/.###.',
  V: '#...#/#...#/#...#/#...#/#...#/.#.#./..#..',
  W: '#...#/#...#/#...#/#.#.#/#.#.#/#.#.#/.#.#.',
  X: '#...#/#...#/.#.#./..#../.#.#./#...#/#...#',
  Y: '#...#/#...#/.#.#./..#../..#../..#../..#..',
  Z: '#####/....#/...#./..#../.#.../#..../#####',
  ' ': '...../...../...../...../...../...../.....',
  ':': '...../..#../..#../...../..#../..#../.....',
  '/': '....#/....#/...#./..#../.#.../#..../#....',
  '-': '...../...../...../#####/...../...../.....',
  '.': '...../...../...../...../...../.##../.##..',
  ',': '...../...../...../...../.##../..#../.#...',
  '>': '.#.../..#../...#./....#/...#./..#../.#...',
  '<': '...#./..#../.#.../#..../.#.../..#../...#.',
  '=': '...../...../#####/...../#####/...../.....',
  '+': '...../..#../..#../#####/..#../..#../.....',
  '%': '##.../##..#/...#./..#../.#.../#..##/...##',
  '(': '...#./..#../.#.../.#.../.#.../..#../...#.',
  ')': '.#.../..#../...#./...#./...#./..#../.#...',
  '_': '...../...../...../...../...../...../#####',
  '?': '.###./#...#/....#/...#./..#../...../..#..',
};

/** Each glyph as GLYPH_H rows of GLYPH_W booleans. */
export const GLYPHS: ReadonlyMap<string, readonly (readonly boolean[])[]> = new Map(
  Object.entries(ART).map(([ch, art]) => {
    const rows = art.split('/');
    if (rows.length !== GLYPH_H || rows.some((r) => r.length !== GLYPH_W || /[^#.]/.test(r))) {
      throw new Error(`font: glyph ${JSON.stringify(ch)} is not ${GLYPH_W}×${GLYPH_H}`);
    }
    return [ch, rows.map((r) => [...r].map((p) => p === '#'))] as const;
  }),
);

/** The glyph drawn for a character: lowercase maps to uppercase, anything unknown to '?'. */
export function glyphFor(ch: string): readonly (readonly boolean[])[] {
  return GLYPHS.get(ch.toUpperCase()) ?? (GLYPHS.get('?') as readonly (readonly boolean[])[]);
}

/** Width in output pixels of `text` drawn at integer `scale`. */
export function textWidth(text: string, scale = 1): number {
  const n = [...text].length;
  return n === 0 ? 0 : (n * (GLYPH_W + GLYPH_GAP) - GLYPH_GAP) * scale;
}

/** Height in output pixels of a line of text at `scale`. */
export function textHeight(scale = 1): number {
  return GLYPH_H * scale;
}

/**
 * Draws `text` into an RGBA buffer of the given width/height with its top-left corner at (x, y),
 * clipping at the buffer's edges.
 */
export function drawText(
  rgba: Uint8Array, width: number, height: number, x: number, y: number, text: string,
  color: readonly [number, number, number] = [0, 0, 0], scale = 1,
): void {
  let cx = x;
  for (const ch of text) {
    const g = glyphFor(ch);
    for (let gy = 0; gy < GLYPH_H; gy++) {
      for (let gx = 0; gx < GLYPH_W; gx++) {
        if (!(g[gy] as readonly boolean[])[gx]) continue;
        for (let sy = 0; sy < scale; sy++) {
          const py = y + gy * scale + sy;
          if (py < 0 || py >= height) continue;
          for (let sx = 0; sx < scale; sx++) {
            const px = cx + gx * scale + sx;
            if (px < 0 || px >= width) continue;
            const o = (py * width + px) * 4;
            rgba[o] = color[0];
            rgba[o + 1] = color[1];
            rgba[o + 2] = color[2];
            rgba[o + 3] = 255;
          }
        }
      }
    }
    cx += (GLYPH_W + GLYPH_GAP) * scale;
  }
}
