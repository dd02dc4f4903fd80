// Loading a user's image folder: first load (decode with sharp, cache written), cached load, peak RSS.
// Each load runs in its own process, so peak RSS is that load's own. See docs/your-own-data.md.
//
//   node bench/own-data-load.mjs [--n 50000] [--size 32] [--dir /tmp/alp-bench-pngs]
//
// Writes N random-ish H×W×3 PNGs in 10 class folders (split 80/20 by --test-fraction) once, then times
// `train` split loads with an empty cache and with the cache. Imports alp from ../dist: build first.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : dflt;
};

if (args[0] === '--child') {
  // One load, in a fresh process: seconds and peak RSS as JSON on stdout.
  const { loadSource } = await import('../dist/data/resolve.js');
  const { parseDataSource } = await import('../dist/data/source.js');
  const t0 = performance.now();
  const r = await loadSource(parseDataSource(args[1]), 'train');
  const seconds = (performance.now() - t0) / 1000;
  process.stdout.write(JSON.stringify({ seconds, examples: r.ds.count, shape: r.ds.shape, peakRssMiB: process.resourceUsage().maxRSS / 1024 }) + '\n');
  process.exit(0);
}

const n = Number(opt('n', '50000'));
const size = Number(opt('size', '32'));
const dir = opt('dir', path.join(os.tmpdir(), `alp-bench-pngs-${n}-${size}`));
const sharp = (await import('sharp')).default;
if (!existsSync(path.join(dir, '.complete'))) {
  rmSync(dir, { recursive: true, force: true });
  const t0 = performance.now();
  for (let c = 0; c < 10; c++) mkdirSync(path.join(dir, `class${c}`), { recursive: true });
  const px = Buffer.alloc(size * size * 3);
  for (let i = 0; i < n; i++) {
    for (let k = 0; k < px.length; k++) px[k] = (k * 31 + i * 17 + ((k * i) % 7) * 5) & 255;
    await sharp(px, { raw: { width: size, height: size, channels: 3 } }).png().toFile(path.join(dir, `class${i % 10}`, `${String(i).padStart(6, '0')}.png`));
  }
  (await import('node:fs')).writeFileSync(path.join(dir, '.complete'), '');
  console.error(`wrote ${n} PNGs in ${((performance.now() - t0) / 1000).toFixed(0)} s → ${dir}`);
}
const cache = mkdtempSync(path.join(os.tmpdir(), 'alp-bench-cache-'));
const self = fileURLToPath(import.meta.url);
const run = () => {
  const r = spawnSync(process.execPath, [self, '--child', dir], { encoding: 'utf8', env: { ...process.env, XDG_CACHE_HOME: cache } });
  if (r.status !== 0) throw new Error(r.stderr);
  return JSON.parse(r.stdout);
};
const first = run();
const cached = run();
rmSync(cache, { recursive: true, force: true });
console.log(JSON.stringify({ n, size, cores: os.cpus().length, loadAverage: os.loadavg().map((v) => Number(v.toFixed(2))), first, cached }, null, 2));
