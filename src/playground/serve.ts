/**
 * Serves the playground's files on 127.0.0.1 (never on other interfaces: the page is a local tool),
 * and writes them as a static folder for any static host.
 */
import { existsSync, mkdirSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname, join } from 'node:path';
import { OptionError } from '../util/errors.js';
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

/** Serves `site` on 127.0.0.1:`port` (0: any free port). */
export async function servePlayground(site: PlaygroundSite, port = 0): Promise<PlaygroundServer> {
  const server: Server = createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname).replace(/^\/+/, '') || 'index.html';
    const f = site.files.get(path);
    if ((req.method !== 'GET' && req.method !== 'HEAD') || f === undefined) {
      res.writeHead(f === undefined ? 404 : 405, { 'content-type': 'text/plain' });
      res.end(f === undefined ? `not found: /${path}\n` : 'method not allowed\n');
      return;
    }
    const body = readSiteFile(f);
    res.writeHead(200, { 'content-type': contentType(path), 'content-length': body.length, 'cache-control': 'no-store' });
    res.end(req.method === 'HEAD' ? undefined : body);
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
 * Writes the site into `dir`. An existing non-empty folder is only overwritten when it holds an
 * earlier export (its playground.json), so no other files are lost.
 */
export function exportPlayground(site: PlaygroundSite, dir: string): { files: number; bytes: number } {
  if (existsSync(dir)) {
    if (!statSync(dir).isDirectory()) throw new OptionError(`{export} ${dir}: expected a folder, found a file`);
    if (readdirSync(dir).length > 0 && !existsSync(join(dir, MANIFEST_FILE))) {
      throw new OptionError(`{export} ${dir}: the folder is not empty and holds no earlier playground export (${MANIFEST_FILE}); pick an empty or new folder`);
    }
  }
  let bytes = 0;
  for (const [path, f] of site.files) {
    const out = join(dir, path);
    mkdirSync(dirname(out), { recursive: true });
    const body = readSiteFile(f);
    writeFileSync(out, body);
    bytes += body.length;
  }
  return { files: site.files.size, bytes };
}
