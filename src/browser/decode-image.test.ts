/**
 * The browser bundle's image decoder in Chromium, against the Node loader (sharp) on the same files:
 * PNGs of the model's size (RGB, grey, with alpha; written by alp's own PNG writer, not by sharp) give
 * the very same values; a larger PNG is resized to cover and centre-cropped close to sharp's; a JPEG is
 * close; a file that is no image is refused naming it. Skips where Debian's chromium is not installed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { encodePng } from '../report/png.js';
import { decodeImage } from '../data/image-files.js';
import { DIST } from './build-bundle.js';

const CHROMIUM = '/usr/bin/chromium';

/** h×w RGBA bytes: a smooth pattern (resamplers agree on it) with per-pixel detail; grey when `grey`. */
function pattern(h: number, w: number, grey: boolean, alpha = 255): Uint8Array {
  const out = new Uint8Array(h * w * 4);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const p = (y * w + x) * 4;
      const r = (40 + 12 * x + 9 * y) & 255, g = (200 - 7 * x + 5 * y) & 255, b = (90 + 3 * x * y) & 255;
      out.set(grey ? [r, r, r, alpha] : [r, g, b, alpha], p);
    }
  }
  return out;
}

test('decodeImageFile in Chromium gives what the Node loader gives', { timeout: 120_000 }, async (t) => {
  if (!existsSync(CHROMIUM)) {
    t.skip(`${CHROMIUM} not found; the browser decoder is not checked. To check it: apt-get install chromium`);
    return;
  }
  const dir = mkdtempSync(join(tmpdir(), 'alp-decode-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'rgb.png'), encodePng(8, 6, pattern(6, 8, false)));
  writeFileSync(join(dir, 'grey.png'), encodePng(8, 6, pattern(6, 8, true)));
  writeFileSync(join(dir, 'alpha.png'), encodePng(8, 6, pattern(6, 8, false, 255)));
  writeFileSync(join(dir, 'large.png'), encodePng(16, 24, pattern(24, 16, false)));
  await sharp(Buffer.from(pattern(6, 8, false)), { raw: { width: 8, height: 6, channels: 4 } }).removeAlpha().jpeg({ quality: 95 }).toFile(join(dir, 'photo.jpg'));
  writeFileSync(join(dir, 'broken.png'), Buffer.from('not a png at all'));
  writeFileSync(join(dir, 'index.html'), '<!doctype html><title>decode</title>');
  const files: Record<string, string> = { '/alp.js': join(DIST, 'browser', 'alp.js') };
  const server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    const file = files[path] ?? join(dir, path.slice(1));
    if (!existsSync(file)) return void res.writeHead(404).end();
    res.writeHead(200, { 'content-type': file.endsWith('.js') ? 'text/javascript' : file.endsWith('.html') ? 'text/html' : 'application/octet-stream' }).end(readFileSync(file));
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  t.after(() => server.close());
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;

  const { chromium } = await import('playwright-core');
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'] });
  t.after(() => browser.close());
  const page = await browser.newPage();
  await page.goto(`${base}index.html`);
  const inBrowser = (file: string, shape: [number, number, number]): Promise<number[] | string> => page.evaluate(async ({ file, shape }) => {
    const alp = (await import('/alp.js' as string)) as { decodeImageFile: (b: Blob, s: [number, number, number], n: string) => Promise<Float32Array> };
    const blob = await (await fetch(`/${file}`)).blob();
    return alp.decodeImageFile(blob, shape, file).then((v) => Array.from(v), (e: Error) => e.message);
  }, { file, shape });
  const inNode = async (file: string, shape: [number, number, number]): Promise<number[]> =>
    Array.from(await decodeImage(join(dir, file), { size: [shape[0], shape[1]], channels: shape[2] as 1 | 3 }), (v) => Math.fround(v / 255));
  const maxDiff = (a: number[], b: number[]): number => Math.max(...a.map((v, i) => Math.abs(v - (b[i] as number))));

  // The model's size: exact, value for value.
  for (const [file, shape] of [['rgb.png', [6, 8, 3]], ['grey.png', [6, 8, 1]], ['alpha.png', [6, 8, 3]], ['rgb.png', [6, 8, 1]]] as Array<[string, [number, number, number]]>) {
    const b = await inBrowser(file, shape);
    assert.ok(Array.isArray(b), `${file}: ${String(b)}`);
    assert.equal(b.length, shape[0] * shape[1] * shape[2]);
    const n = await inNode(file, shape);
    // RGB and grey-stored files decode exactly; a colour file made grey differs by the grey formula at most a level.
    assert.ok(maxDiff(b, n) <= (file === 'rgb.png' && shape[2] === 1 ? 1.5 / 255 : 0), `${file} as ${shape.join('×')}: max difference ${maxDiff(b, n) * 255} levels`);
  }
  // Resized (cover + centre crop) and JPEG: the same image, up to resampling and IDCT rounding.
  for (const [file, tol] of [['large.png', 0.06], ['photo.jpg', 0.08]] as const) {
    const b = await inBrowser(file, [6, 8, 3]);
    assert.ok(Array.isArray(b), `${file}: ${String(b)}`);
    const n = await inNode(file, [6, 8, 3]);
    const mean = b.reduce((s, v, i) => s + Math.abs(v - (n[i] as number)), 0) / b.length;
    assert.ok(mean < tol, `${file}: mean difference ${mean}`);
  }
  assert.match(String(await inBrowser('broken.png', [6, 8, 3])), /^broken\.png: not an image this browser can decode/);
  assert.match(String(await inBrowser('rgb.png', [6, 8, 2])), /^rgb\.png: the model takes 2-channel inputs/);
});
