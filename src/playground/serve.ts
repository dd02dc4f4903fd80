/**
 * Serves the playground's files on 127.0.0.1 (never on other interfaces: the page is a local tool),
 * and writes them as a static folder for any static host.
 */
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { basename, dirname, join, resolve } from 'node:path';
import { makeDir } from '../util/atomic.js';
import { ioErrorOf, OptionError } from '../util/errors.js';
import { MANIFEST_FILE } from './protocol.js';
import { readSiteFile, type PlaygroundSite } from './site.js';

export const PLAYGROUND_HOST = '127.0.0.1';

const TYPES: Record<string, string> = {
  html: 'text/html; charset=utf-8', js: 'text/javascript; charset=utf-8', json: 'application/json',
  wasm: 'application/wasm', bin: 'application/octet-stream', f32: 'application/octet-stream',
};

export function contentType(path: string): string {
  return TYPES[path.slice(path.lastIndexOf('.') + 1)] ?? 'application/octet-stream';
}

export interface PlaygroundServer {
  url: string;
  close(): Promise<void>;
}

function plain(res: ServerResponse, status: number, text: string): void {
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'content-length': Buffer.byteLength(text), 'cache-control': 'no-store' });
  res.end(text);
}

/**
 * The site's file for a request's path, or null for a path no file can have: a malformed
 * percent-escape (`%E0%A4%A`, `%zz`), a NUL, or anything that is not a plain path.
 */
export function sitePath(url: string | undefined): string | null {
  let pathname: string;
  try {
    pathname = decodeURIComponent(new URL(url ?? '/', 'http://x').pathname);
  } catch {
    return null;
  }
  if (pathname.includes('\0')) return null;
  return pathname.replace(/^\/+/, '') || 'index.html';
}

/** One request: 400 for a malformed path, 405 for a method other than GET/HEAD, 404 for no such file. */
function answer(site: PlaygroundSite, req: IncomingMessage, res: ServerResponse): void {
  const path = sitePath(req.url);
  if (path === null) return plain(res, 400, 'bad request: malformed path\n');
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.setHeader('allow', 'GET, HEAD');
    return plain(res, 405, 'method not allowed\n');
  }
  const f = site.files.get(path);
  if (f === undefined) return plain(res, 404, `not found: /${path}\n`);
  const body = readSiteFile(f);
  res.writeHead(200, { 'content-type': contentType(path), 'content-length': body.length, 'cache-control': 'no-store' });
  res.end(req.method === 'HEAD' ? undefined : body);
}

/** Serves `site` on 127.0.0.1:`port` (0: any free port). */
export async function servePlayground(site: PlaygroundSite, port = 0): Promise<PlaygroundServer> {
  const server: Server = createServer((req, res) => {
    try {
      answer(site, req, res);
    } catch {
      // Whatever a request does, it gets an answer and the server keeps serving the next one.
      if (!res.headersSent) plain(res, 500, 'internal error\n');
      else res.destroy();
    }
  });
  // Malformed HTTP (bad request line, oversized headers): 400, and the connection closes; the server stays.
  server.on('clientError', (_e, socket) => {
    if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nconnection: close\r\ncontent-length: 0\r\n\r\n');
    else socket.destroy();
  });
  await new Promise<void>((ok, fail) => {
    server.once('error', (e: NodeJS.ErrnoException) => fail(e.code === 'EADDRINUSE' ? new OptionError(`{port}: ${port} is in use on ${PLAYGROUND_HOST}; pick another (0 = any free port)`) : e));
    server.listen(port, PLAYGROUND_HOST, () => ok());
  });
  const a = server.address() as AddressInfo;
  return {
    url: `http://${PLAYGROUND_HOST}:${a.port}/`,
    close: () => new Promise((ok) => {
      server.closeAllConnections();
      server.close(() => ok());
    }),
  };
}

/**
 * Writes the site into `dir`. An existing non-empty folder is only replaced when it holds an earlier
 * export (its playground.json), so no other files are lost. The export is built in a temporary sibling
 * folder and renamed into place, so `dir` is either the old export or the complete new one: a full disk
 * or a read-only file system leaves nothing that looks complete (one line naming the path, exit 5).
 */
export function exportPlayground(site: PlaygroundSite, dir: string): { files: number; bytes: number } {
  const target = resolve(dir);
  if (existsSync(target)) {
    if (!statSync(target).isDirectory()) throw new OptionError(`{export} ${dir}: expected a folder, found a file`);
    if (readdirSync(target).length > 0 && !existsSync(join(target, MANIFEST_FILE))) {
      throw new OptionError(`{export} ${dir}: the folder is not empty and holds no earlier playground export (${MANIFEST_FILE}); pick an empty or new folder`);
    }
  }
  makeDir(dirname(target));
  const stamp = `${process.pid}-${Date.now()}`;
  const building = join(dirname(target), `.${basename(target)}.export-${stamp}.tmp`);
  const old = join(dirname(target), `.${basename(target)}.old-${stamp}.tmp`);
  let bytes = 0;
  try {
    // Not recursive: a read-only file system then says EROFS, not ENOENT.
    mkdirSync(building);
    for (const [path, f] of site.files) {
      const out = join(building, path);
      mkdirSync(dirname(out), { recursive: true });
      const body = readSiteFile(f);
      writeFileSync(out, body);
      bytes += body.length;
    }
    if (existsSync(target)) renameSync(target, old);
    renameSync(building, target);
  } catch (e) {
    rmSync(building, { recursive: true, force: true });
    if (existsSync(old) && !existsSync(target)) renameSync(old, target);
    throw ioErrorOf(e, dir) ?? e;
  }
  rmSync(old, { recursive: true, force: true });
  return { files: site.files.size, bytes };
}
