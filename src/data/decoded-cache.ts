/**
 * Decoded image folders, kept as uint8 so the next command skips decoding: one `<key>.u8` (pixels) and
 * `<key>.json` (resolved loader options, shape, labels) per split under `$XDG_CACHE_HOME/alp/images`
 * (default `~/.cache/alp/images`). The key is a SHA-256 of every file's path, size and modification time
 * in every split, the class names, the options given and the split, so a changed, added or removed file
 * (or other options) misses. `ALP_DATA_CACHE=0` turns the cache off. A damaged entry is a miss; a cache
 * that cannot be written is skipped (the data was read correctly either way).
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { makeDir, writeFileAtomic, writeJsonAtomic } from '../util/atomic.js';
import type { LoaderOptions } from './source.js';

/** Bump when decoding changes (another library, other conversions), so old entries are not reused. */
const CACHE_VERSION = 1;

export interface CachedSplit {
  /** Loader options as resolved when the entry was written (size, channels). */
  options: LoaderOptions;
  shape: [number, number, number];
  labels: Int32Array;
  pixels: Uint8Array;
}

/** The cache folder, or undefined when ALP_DATA_CACHE=0. */
export function imageCacheDir(): string | undefined {
  if (/^(0|false|no|off)$/i.test(process.env['ALP_DATA_CACHE'] ?? '')) return undefined;
  return join(process.env['XDG_CACHE_HOME'] ?? join(homedir(), '.cache'), 'alp', 'images');
}

/** The key of one split of a folder: every file of every split (path, size, mtime), classes, options given. */
export function cacheKey(splits: Record<string, ReadonlyArray<{ path: string; label: number }>>, classNames: string[], given: LoaderOptions, split: string): string {
  const h = createHash('sha256');
  h.update(JSON.stringify({ v: CACHE_VERSION, classNames, given, split }));
  for (const [name, files] of Object.entries(splits)) {
    h.update(`\n#${name}\n`);
    for (const f of files) {
      const st = statSync(f.path);
      h.update(`${f.path}\0${f.label}\0${st.size}\0${st.mtimeMs}\n`);
    }
  }
  return h.digest('hex').slice(0, 32);
}

export function readCachedSplit(dir: string, key: string): CachedSplit | undefined {
  const meta = join(dir, `${key}.json`);
  const data = join(dir, `${key}.u8`);
  if (!existsSync(meta) || !existsSync(data)) return undefined;
  try {
    const m = JSON.parse(readFileSync(meta, 'utf8')) as { version: number; options: LoaderOptions; shape: [number, number, number]; labels: number[] };
    const buf = readFileSync(data);
    // A view on the file's buffer, not a copy: the split is read once, at 1 byte per pixel.
    const pixels = new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
    const row = m.shape[0] * m.shape[1] * m.shape[2];
    if (m.version !== CACHE_VERSION || !Array.isArray(m.labels) || pixels.length !== m.labels.length * row) return undefined;
    return { options: m.options, shape: m.shape, labels: Int32Array.from(m.labels), pixels };
  } catch {
    return undefined;
  }
}

/** Writes an entry; false (and nothing half-written) when the folder is not writable. */
export function writeCachedSplit(dir: string, key: string, s: CachedSplit): boolean {
  try {
    makeDir(dir);
    writeFileAtomic(join(dir, `${key}.u8`), s.pixels);
    writeJsonAtomic(join(dir, `${key}.json`), { version: CACHE_VERSION, options: s.options, shape: s.shape, labels: Array.from(s.labels) });
    return true;
  } catch {
    return false;
  }
}
