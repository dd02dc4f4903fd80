/**
 * A small HTTP endpoint for a guarded model, listening on 127.0.0.1 only (put a real server in front
 * of it to expose it).
 *
 *   GET  /health   → 200 {ok, inputShape, numClasses, detector, threshold, fprTarget, limits}
 *   POST /check    → 200 {results: [{prediction, confidence, suspicion, threshold, flagged, decision}]}
 *        body: application/json {"inputs": [image, ...]} (each image H·W·C numbers in [0,1], NHWC,
 *              flat or nested) or {"input": image}; or application/octet-stream: raw little-endian
 *              float32, N·H·W·C values.
 *
 * Bodies over `maxBodyBytes` get 413, more than `maxBatch` images or malformed input 400 with a
 * one-line {"error"}. Requests are handled one at a time.
 */
import { createServer, type IncomingMessage, type Server as HttpServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { isUserError } from '../util/errors.js';
import type { Guard } from './guard.js';

export const SERVE_HOST = '127.0.0.1';

export interface ServeOptions {
  /** 0 (default) picks a free port. */
  port?: number;
  /** Default 8 MiB. */
  maxBodyBytes?: number;
  /** Most images per request; default 64. */
  maxBatch?: number;
  /** One line per request (method, path, status, ms); default none. */
  log?: (line: string) => void;
}

export interface GuardServer {
  url: string;
  port: number;
  close(): Promise<void>;
}

class HttpError extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
  }
}

function send(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body) + '\n';
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text), 'x-content-type-options': 'nosniff', ...headers });
  res.end(text);
}

/**
 * The client went away before its request was complete: nothing to answer and nothing wrong with the
 * server, so it is logged as one line, never as a 500 with a stack trace (that would be a log flood on
 * demand).
 */
class ClientAbort extends Error {
  constructor(readonly received: number) {
    super('client closed the connection mid-request');
  }
}

function readBody(req: IncomingMessage, max: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers['content-length']);
    if (Number.isFinite(declared) && declared > max) {
      reject(new HttpError(413, `request body of ${declared} bytes exceeds the limit of ${max} bytes`));
      return;
    }
    const parts: Buffer[] = [];
    let total = 0;
    let failed = false;
    req.on('data', (chunk: Buffer) => {
      if (failed) return;
      total += chunk.length;
      if (total > max) {
        failed = true;
        reject(new HttpError(413, `request body exceeds the limit of ${max} bytes`));
        return;
      }
      parts.push(chunk);
    });
    req.on('end', () => {
      if (!failed) resolve(Buffer.concat(parts));
    });
    req.on('error', (e) => {
      if (failed) return;
      failed = true;
      reject(req.complete ? e : new ClientAbort(total));
    });
    req.on('close', () => {
      if (failed || req.complete) return;
      failed = true;
      reject(new ClientAbort(total));
    });
  });
}

function flattenNumbers(v: unknown, out: number[], where: string, depth = 0): void {
  if (depth > 6) throw new HttpError(400, `${where}: nested more than 6 levels deep`);
  if (Array.isArray(v)) {
    for (const e of v) flattenNumbers(e, out, where, depth + 1);
    return;
  }
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new HttpError(400, `${where}: expected finite numbers in [0,1], found ${JSON.stringify(v)?.slice(0, 40)}`);
  out.push(v);
}

/** The request's images as one flat Float32Array (validated for count and size). */
function parseInputs(req: IncomingMessage, body: Buffer, size: number, maxBatch: number): Float32Array {
  const type = (req.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
  let values: Float32Array;
  if (type === 'application/octet-stream') {
    if (body.length === 0 || body.length % 4 !== 0) throw new HttpError(400, `octet-stream body: expected raw float32 values (a multiple of 4 bytes), got ${body.length} bytes`);
    values = new Float32Array(body.length / 4);
    const view = new DataView(body.buffer, body.byteOffset, body.byteLength);
    for (let i = 0; i < values.length; i++) values[i] = view.getFloat32(4 * i, true);
  } else if (type === 'application/json' || type === '') {
    let json: unknown;
    try {
      json = JSON.parse(body.toString('utf8'));
    } catch (e) {
      throw new HttpError(400, `body: expected JSON, could not parse it: ${(e as Error).message}`);
    }
    if (typeof json !== 'object' || json === null || Array.isArray(json)) throw new HttpError(400, 'body: expected a JSON object {"inputs": [image, ...]} or {"input": image}');
    const r = json as Record<string, unknown>;
    const images = r['inputs'] !== undefined ? r['inputs'] : r['input'] !== undefined ? [r['input']] : undefined;
    if (!Array.isArray(images) || images.length === 0) throw new HttpError(400, 'body: expected a non-empty array "inputs" (or one image as "input")');
    if (images.length > maxBatch) throw new HttpError(400, `inputs: ${images.length} images exceed the limit of ${maxBatch} per request`);
    const flat: number[] = [];
    images.forEach((img, i) => {
      const before = flat.length;
      flattenNumbers(img, flat, `inputs[${i}]`);
      if (flat.length - before !== size) throw new HttpError(400, `inputs[${i}]: expected ${size} values (H·W·C), got ${flat.length - before}`);
    });
    values = Float32Array.from(flat);
  } else {
    throw new HttpError(415, `content-type ${type}: expected application/json or application/octet-stream`);
  }
  if (values.length % size !== 0) throw new HttpError(400, `expected a multiple of ${size} values (H·W·C per image), got ${values.length}`);
  if (values.length / size > maxBatch) throw new HttpError(400, `${values.length / size} images exceed the limit of ${maxBatch} per request`);
  for (let i = 0; i < values.length; i++) {
    const v = values[i] as number;
    if (!Number.isFinite(v) || v < 0 || v > 1) throw new HttpError(400, `value at flat index ${i} is ${v}; inputs must be finite numbers in [0,1]`);
  }
  return values;
}

export function serveGuard(g: Guard, o: ServeOptions = {}): Promise<GuardServer> {
  const maxBody = o.maxBodyBytes ?? 8 * 1024 * 1024;
  const maxBatch = o.maxBatch ?? 64;
  const [h, w, c] = g.inputShape;
  const size = h * w * c;
  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const t0 = Date.now();
    const path = (req.url ?? '/').split('?')[0];
    let status = 200;
    try {
      if (path === '/health') {
        if (req.method !== 'GET') throw new HttpError(405, 'use GET /health');
        send(res, 200, {
          ok: true, inputShape: g.inputShape, numClasses: g.numClasses, detector: g.detector, threshold: g.threshold, fprTarget: g.fprTarget,
          limits: { maxBodyBytes: maxBody, maxBatch },
        });
      } else if (path === '/check') {
        if (req.method !== 'POST') throw new HttpError(405, 'use POST /check');
        const body = await readBody(req, maxBody);
        const values = parseInputs(req, body, size, maxBatch);
        send(res, 200, { results: g.check(values) });
      } else {
        throw new HttpError(404, `no route ${path}; use GET /health or POST /check`);
      }
    } catch (e) {
      if (e instanceof ClientAbort) {
        // 499: nginx's "client closed request"; nothing is sent, the socket is gone.
        o.log?.(`${req.method ?? '?'} ${path} 499 client closed the connection after ${e.received} bytes of the body, ${Date.now() - t0}ms`);
        return;
      }
      if (e instanceof HttpError) status = e.status;
      else if (isUserError(e)) status = 400;
      else status = 500;
      const message = status === 500 ? 'internal error' : (e as Error).message.split('\n')[0];
      if (status === 500) o.log?.(`error: ${(e as Error).stack ?? String(e)}`);
      const headers: Record<string, string> = status === 405 ? { allow: path === '/health' ? 'GET' : 'POST' } : {};
      if (status === 413) headers['connection'] = 'close';
      send(res, status, { error: message }, headers);
      // Stop reading an oversized upload.
      if (status === 413) req.resume();
    }
    o.log?.(`${req.method ?? '?'} ${path} ${status} ${Date.now() - t0}ms`);
  };
  const server: HttpServer = createServer((req, res) => {
    void handle(req, res);
  });
  server.requestTimeout = 30_000;
  server.headersTimeout = 10_000;
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.port ?? 0, SERVE_HOST, () => {
      const port = (server.address() as AddressInfo).port;
      resolve({
        url: `http://${SERVE_HOST}:${port}`,
        port,
        close: () => new Promise<void>((res, rej) => {
          server.close((e) => (e ? rej(e) : res()));
          server.closeAllConnections();
        }),
      });
    });
  });
}
