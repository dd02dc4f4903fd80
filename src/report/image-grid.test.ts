import { test } from 'node:test';
import assert from 'node:assert/strict';
import { inflateSync } from 'node:zlib';
import { cellOrigin, gridLayout, imageGrid, perturbationMap, type Tile } from './image-grid.js';
import { encodePng } from './png.js';
import { GLYPH_H, glyphFor, textWidth } from './font.js';

const px = (g: { width: number; rgba: Uint8Array }, x: number, y: number): number[] => [...g.rgba.subarray((y * g.width + x) * 4, (y * g.width + x) * 4 + 4)];

function grey(h: number, w: number, fill = 0): Float32Array {
  return new Float32Array(h * w).fill(fill);
}

test('grid dimensions follow cells, captions and padding', () => {
  const t = (caption?: string): Tile => ({ pixels: grey(10, 12), h: 10, w: 12, c: 1, ...(caption !== undefined ? { caption } : {}) });
  const rows = [[t('7'), t('ADV 3'), t()], [t(), t(), t('x')]];
  const g = imageGrid(rows, { scale: 3, pad: 2 });
  // cells 36×30, caption band 7 + 2 px (text scale 1), 3 columns, 2 rows.
  assert.equal(g.width, 3 * 36 + 4 * 2);
  assert.equal(g.height, 2 * (30 + 9) + 3 * 2);
  assert.equal(g.rgba.length, g.width * g.height * 4);
  // Without captions there is no caption band.
  const plain = imageGrid([[t(), t()]], { scale: 2, pad: 0 });
  assert.equal(plain.width, 2 * 24);
  assert.equal(plain.height, 20);
  // A caption wider than the tile widens every cell.
  const wide = gridLayout([[t('CLEAN 7'), t()]], { scale: 1, pad: 1 });
  assert.equal(wide.cellW, textWidth('CLEAN 7'));
  assert.equal(wide.width, 2 * textWidth('CLEAN 7') + 3);
});

test('a known pixel lands at the right place, scaled by nearest neighbour', () => {
  const rows: Tile[][] = [[], []];
  for (let r = 0; r < 2; r++) for (let c = 0; c < 3; c++) rows[r]!.push({ pixels: grey(10, 12), h: 10, w: 12, c: 1 });
  const hot = grey(10, 12);
  hot[4 * 12 + 5] = 1;
  rows[1]![2] = { pixels: hot, h: 10, w: 12, c: 1 };
  const rgb = new Float32Array(10 * 12 * 3);
  rgb.set([1, 0.5, 0], (2 * 12 + 3) * 3);
  rows[0]![1] = { pixels: rgb, h: 10, w: 12, c: 3 };
  const g = imageGrid(rows, { scale: 3, pad: 2 });
  const l = gridLayout(rows, { scale: 3, pad: 2 });
  const o = cellOrigin(l, 1, 2);
  assert.deepEqual(o, { x: 2 + 2 * 38, y: 2 + 32 });
  for (let dy = 0; dy < 3; dy++) for (let dx = 0; dx < 3; dx++) {
    assert.deepEqual(px(g, o.x + 15 + dx, o.y + 12 + dy), [255, 255, 255, 255]);
  }
  assert.deepEqual(px(g, o.x + 14, o.y + 12), [0, 0, 0, 255]);
  assert.deepEqual(px(g, o.x + 18, o.y + 14), [0, 0, 0, 255]);
  assert.deepEqual(px(g, o.x + 15, o.y + 15), [0, 0, 0, 255]);
  const o2 = cellOrigin(l, 0, 1);
  assert.deepEqual(px(g, o2.x + 9 + 2, o2.y + 6 + 2), [255, 128, 0, 255]);
  // Padding stays background.
  assert.deepEqual(px(g, 0, 0), [255, 255, 255, 255]);
  assert.deepEqual(px(g, o.x - 1, o.y), [255, 255, 255, 255]);
});

test('caption pixels are drawn inside the caption band', () => {
  const rows: Tile[][] = [[
    { pixels: grey(10, 12, 1), h: 10, w: 12, c: 1, caption: '7' },
    { pixels: grey(10, 12, 1), h: 10, w: 12, c: 1, caption: 'ADV 3' },
  ]];
  const g = imageGrid(rows, { scale: 3, pad: 2 });
  const l = gridLayout(rows, { scale: 3, pad: 2 });
  // Tiles are white, so every dark pixel is caption ink.
  for (let y = 0; y < g.height; y++) for (let x = 0; x < g.width; x++) {
    if (px(g, x, y)[0] === 255) continue;
    const inBand = [0, 1].some((c) => {
      const o = cellOrigin(l, 0, c);
      return x >= o.x && x < o.x + l.cellW && y >= o.y + l.cellH && y < o.y + l.cellH + l.captionH;
    });
    assert.ok(inBand, `ink at (${x},${y}) outside every caption band`);
  }
  // The top row of '7' is a full bar, centred under the first tile.
  const o = cellOrigin(l, 0, 0);
  const tx = o.x + Math.floor((l.cellW - 5) / 2);
  const ty = o.y + l.cellH + 1;
  for (let i = 0; i < 5; i++) assert.deepEqual(px(g, tx + i, ty), [0, 0, 0, 255]);
  assert.deepEqual(px(g, tx - 1, ty), [255, 255, 255, 255]);
  // Each caption has ink.
  for (const c of [0, 1]) {
    const oc = cellOrigin(l, 0, c);
    let ink = 0;
    for (let y = oc.y + l.cellH; y < oc.y + l.cellH + l.captionH; y++) for (let x = oc.x; x < oc.x + l.cellW; x++) if (px(g, x, y)[0] === 0) ink++;
    assert.ok(ink > 10, `caption ${c} has ink`);
  }
});

test('the font covers digits, letters, lowercase and the caption punctuation', () => {
  const unknown = glyphFor('\u0001');
  const chars = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ :/-.>';
  const seen = new Set<string>();
  for (const ch of chars) {
    const g = glyphFor(ch);
    assert.equal(g.length, GLYPH_H);
    if (ch !== '?') assert.notEqual(g, unknown, `glyph for ${JSON.stringify(ch)}`);
    const key = g.map((r) => r.map((b) => (b ? '#' : '.')).join('')).join('/');
    assert.ok(!seen.has(key), `glyph for ${JSON.stringify(ch)} duplicates another`);
    seen.add(key);
  }
  assert.equal(glyphFor('a'), glyphFor('A'));
  assert.equal(glyphFor('z'), glyphFor('Z'));
});

test('perturbationMap: red positive, blue negative, normalised by max |δ|', () => {
  const clean = Float32Array.from([0.5, 0.5, 0.5, 0.5]);
  const adv = Float32Array.from([0.7, 0.4, 0.5, 0.3]);
  const m = perturbationMap(clean, adv, 2, 2, 1);
  const r = (v: number): number => Math.round(v * 1e5) / 1e5;
  assert.deepEqual([...m].map(r), [1, 0, 0, 0, 0, 0.5, 0, 0, 0, 0, 0, 1]);
  // Colour: the channel with the largest change wins, with its sign.
  const c3 = perturbationMap(Float32Array.from([0.5, 0.5, 0.5]), Float32Array.from([0.6, 0.2, 0.5]), 1, 1, 3);
  assert.deepEqual([...c3], [0, 0, 1]);
  assert.deepEqual([...perturbationMap(clean, clean, 2, 2, 1)], new Array(12).fill(0));
  assert.throws(() => perturbationMap(clean, adv, 2, 3, 1), /expected/);
});

test('a grid encodes to a PNG whose pixels round-trip', () => {
  const tiles: Tile[][] = [[{ pixels: Float32Array.from([0, 0.25, 0.5, 1]), h: 2, w: 2, c: 1, caption: 'ok' }]];
  const g = imageGrid(tiles, { scale: 2, pad: 1 });
  const png = encodePng(g.width, g.height, g.rgba);
  const view = new DataView(png.buffer, png.byteOffset);
  const idatLen = view.getUint32(33);
  const raw = inflateSync(png.subarray(41, 41 + idatLen));
  assert.equal(raw.length, g.height * (g.width * 4 + 1));
  for (let y = 0; y < g.height; y++) {
    assert.equal(raw[y * (g.width * 4 + 1)], 0);
    assert.deepEqual([...raw.subarray(y * (g.width * 4 + 1) + 1, (y + 1) * (g.width * 4 + 1))], [...g.rgba.subarray(y * g.width * 4, (y + 1) * g.width * 4)]);
  }
  // Cell is as wide as the caption (11 px); the 4 px tile is centred at offset 3.
  assert.deepEqual(px(g, 1 + 3 + 2, 1 + 0), [64, 64, 64, 255]);
});

test('bad tiles and options are rejected', () => {
  const ok: Tile = { pixels: grey(2, 2), h: 2, w: 2, c: 1 };
  assert.throws(() => imageGrid([[{ ...ok, c: 2 }]]), /c must be 1 or 3/);
  assert.throws(() => imageGrid([[{ ...ok, h: 3 }]]), /values/);
  assert.throws(() => imageGrid([[ok]], { scale: 1.5 }), /scale/);
  assert.throws(() => imageGrid([]), /no rows/);
});
