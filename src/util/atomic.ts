import { existsSync, mkdirSync, renameSync, rmSync, writeFileSync, openSync, fsyncSync, closeSync } from 'node:fs';
import { dirname, join, basename, resolve } from 'node:path';
import { ioErrorOf } from './errors.js';

/**
 * mkdir -p that fails with the real reason: Node's recursive mkdir reports a read-only file system as
 * ENOENT, so on ENOENT the first missing folder is created alone to surface EROFS / EACCES / ENOTDIR.
 */
export function makeDir(dir: string): void {
  try {
    mkdirSync(dir, { recursive: true });
  } catch (e) {
    let cause: unknown = e;
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') {
      let first = resolve(dir);
      while (!existsSync(dirname(first)) && dirname(first) !== first) first = dirname(first);
      try {
        mkdirSync(first);
      } catch (e2) {
        cause = e2;
      }
    }
    throw ioErrorOf(cause, dir) ?? cause;
  }
}

/**
 * Writes a file so that readers see either the old content or the complete new one, never a
 * truncated file: write a sibling temp file, fsync it, rename over the target.
 */
export function writeFileAtomic(path: string, data: string | Uint8Array): void {
  makeDir(dirname(path));
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.${Date.now()}.tmp`);
  try {
    writeFileSync(tmp, data);
    const fd = openSync(tmp, 'r');
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, path);
  } catch (e) {
    rmSync(tmp, { force: true });
    // Disk full, read-only, a folder where the file should go: one line naming the file, exit 5.
    throw ioErrorOf(e, path) ?? e;
  }
}

/** JSON with a trailing newline, written atomically. */
export function writeJsonAtomic(path: string, value: unknown): void {
  writeFileAtomic(path, JSON.stringify(value, null, 2) + '\n');
}
