import { connect } from 'node:net';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { deflateSync } from 'node:zlib';
import * as tf from '@tensorflow/tfjs';
import { fitQuick, toyDataset, useBackend } from '../testing/setup.js';
import { buildArch } from '../model/architectures.js';
import { encodeIdx } from '../data/idx.js';
import { encodePng, pngChunk, PNG_SIGNATURE } from '../report/png.js';
import { calibrateDetector } from './calibrate.js';
import { MarginDetector } from './baselines.js';
import { guard, type Guard } from './guard.js';
import { decodePng, readInputs } from './inputs.js';
import { serveGuard } from './serve.js';

const tmp = mkdtempSync(join(tmpdir(), 'alp-guard-'));
process.on('exit', () => rmSync(tmp, { recursive: true, force: true }));

let g: Guard | undefined;
async function theGuard(): Promise<Guard> {
  await useBackend();
  if (g === undefined) {
    const m = buildArch('mlp', { inputShape: [6, 6, 1], numClasses: 4, seed: 2 });
    fitQuick(m, toyDataset(256, 1), 60, 0.02);
    g = guard(m, calibrateDetector(new MarginDetector(), m, toyDataset(200, 5), { fpr: 0.05 }));
  }
  return g;
}

/** A grey 8-bit PNG whose rows use filter types 0..4 in turn (exercises the unfiltering). */
function greyPng(w: number, h: number, px: Uint8Array): Uint8Array {
  const raw: number[] = [];
  for (let y = 0; y < h; y++) {
    const t = y % 5;
    raw.push(t);
    for (let x = 0; x < w; x++) {
      const v = px[y * w + x] as number;
      const a = x > 0 ? (px[y * w + x - 1] as number) : 0;
      const b = y > 0 ? (px[(y - 1) * w + x] as number) : 0;
      const c = x > 0 && y > 0 ? (px[(y - 1) * w + x - 1] as number) : 0;
      const p = a + b - c;
      const pred = t === 0 ? 0 : t === 1 ? a : t === 2 ? b : t === 3 ? (a + b) >> 1 : Math.abs(p - a) <= Math.abs(p - b) && Math.abs(p - a) <= Math.abs(p - c) ? a : Math.abs(p - b) <= Math.abs(p - c) ? b : c;
      raw.push((v - pred) & 0xff);
    }
  }
  const ihdr = new Uint8Array(13);
  new DataView(ihdr.buffer).setUint32(0, w);
  new DataView(ihdr.buffer).setUint32(4, h);
  ihdr[8] = 8;
  ihdr[9] = 0;
  const parts = [PNG_SIGNATURE, pngChunk('IHDR', ihdr), pngChunk('IDAT', deflateSync(Uint8Array.from(raw))), pngChunk('IEND', new Uint8Array(0))];
  return Buffer.concat(parts);
}

test('guard returns prediction, suspicion and decision; validates inputs', async () => {
  const gd = await theGuard();
  const ds = toyDataset(8, 9);
  const out = gd.check(ds.images);
  assert.equal(out.length, 8);
  for (const d of out) {
    assert.ok(d.prediction >= 0 && d.prediction < 4);
    assert.equal(d.flagged, d.suspicion > d.threshold);
    assert.equal(d.decision, d.flagged ? 'reject' : 'accept');
  }
  // The guard's predictions are the model's.
  assert.deepEqual(out.map((d) => d.prediction), Array.from(ds.labels));
  assert.throws(() => gd.check(new Float32Array(35)), /expected a multiple of 6×6×1 = 36 values/);
  assert.throws(() => gd.check(new Float32Array(36).fill(NaN)), /guard input: input value at flat index 0 is NaN/);
  assert.throws(() => gd.check(new Float32Array(36).fill(3)), /inputs must be scaled to \[0,1\]/);
  const wrong = tf.zeros([1, 5, 5, 1]);
  assert.throws(() => gd.check(wrong), /expected inputs of shape \[N, 6, 6, 1\]/);
  wrong.dispose();
});

test('input files: alp attack .f32 with attack.json, IDX, PNG; clear errors for bad ones', async () => {
  const want = [6, 6, 1] as const;
  const ds = toyDataset(3, 2);
  const dir = join(tmp, 'adv');
  rmSync(dir, { recursive: true, force: true });
  const f32 = join(tmp, 'x.f32');
  writeFileSync(f32, new Uint8Array(ds.images.buffer, ds.images.byteOffset, ds.images.byteLength));
  const b = readInputs(f32, want);
  assert.equal(b.count, 3);
  assert.deepEqual(Array.from(b.images), Array.from(ds.images));
  // With attack.json beside it, the shape and labels come from there.
  const { mkdirSync } = await import('node:fs');
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'adversarial.f32'), new Uint8Array(ds.images.buffer, ds.images.byteOffset, ds.images.byteLength));
  writeFileSync(join(dir, 'attack.json'), JSON.stringify({ tensor: { file: 'adversarial.f32', dtype: 'float32', shape: [3, 6, 6, 1] }, labels: Array.from(ds.labels) }));
  assert.deepEqual(Array.from(readInputs(join(dir, 'adversarial.f32'), want).labels ?? []), Array.from(ds.labels));
  writeFileSync(join(dir, 'attack.json'), JSON.stringify({ tensor: { file: 'adversarial.f32', shape: [2, 6, 6, 1] } }));
  assert.throws(() => readInputs(join(dir, 'adversarial.f32'), want), /shape \[2,6,6,1\] \(from .*attack.json tensor.shape\) needs 72 float32 values/);
  writeFileSync(join(tmp, 'odd.f32'), new Uint8Array(7));
  assert.throws(() => readInputs(join(tmp, 'odd.f32'), want), /7 bytes is not a whole number of float32 values/);
  writeFileSync(join(tmp, 'short.f32'), new Uint8Array(4 * 40));
  assert.throws(() => readInputs(join(tmp, 'short.f32'), want), /40 float32 values are not a whole number of 6×6×1 images/);
  const nan = new Float32Array(36).fill(0.5);
  nan[7] = NaN;
  writeFileSync(join(tmp, 'nan.f32'), new Uint8Array(nan.buffer));
  assert.throws(() => readInputs(join(tmp, 'nan.f32'), want), /nan.f32: input value at flat index 7 is NaN/);
  assert.throws(() => readInputs(join(tmp, 'missing.f32'), want), /no such file/);
  writeFileSync(join(tmp, 'what.txt'), 'hello');
  assert.throws(() => readInputs(join(tmp, 'what.txt'), want), /unrecognised input/);

  // IDX: uint8 [N,H,W] scaled by 1/255.
  const bytes = Uint8Array.from(ds.images, (v) => Math.round(v * 255));
  writeFileSync(join(tmp, 'x.idx'), encodeIdx({ dtype: 'uint8', shape: [3, 6, 6], data: bytes }));
  const idx = readInputs(join(tmp, 'x.idx'), want);
  assert.equal(idx.count, 3);
  assert.ok(Math.abs((idx.images[10] as number) - (bytes[10] as number) / 255) < 1e-7);
  writeFileSync(join(tmp, 'bad.idx'), encodeIdx({ dtype: 'uint8', shape: [3, 5, 5], data: new Uint8Array(75) }));
  assert.throws(() => readInputs(join(tmp, 'bad.idx'), want), /IDX shape \[3,5,5\] does not hold \[6,6,1\] images/);

  // PNG: grey with every filter type, and RGBA converted to grey.
  const px = Uint8Array.from({ length: 36 }, (_, i) => (i * 37) % 256);
  const grey = greyPng(6, 6, px);
  const dec = decodePng(grey);
  assert.deepEqual(Array.from(dec.pixels, (v) => Math.round(v * 255)), Array.from(px));
  writeFileSync(join(tmp, 'g.png'), grey);
  assert.equal(readInputs(join(tmp, 'g.png'), want).count, 1);
  const rgba = new Uint8Array(36 * 4);
  for (let i = 0; i < 36; i++) rgba.set([px[i] as number, px[i] as number, px[i] as number, 255], 4 * i);
  writeFileSync(join(tmp, 'c.png'), encodePng(6, 6, rgba));
  const c = readInputs(join(tmp, 'c.png'), want);
  assert.ok(Math.abs((c.images[5] as number) - (px[5] as number) / 255) < 1e-6);
  writeFileSync(join(tmp, 'big.png'), encodePng(7, 6, new Uint8Array(7 * 6 * 4)));
  assert.throws(() => readInputs(join(tmp, 'big.png'), want), /image is 7×6 pixels, the model expects 6×6/);
  const corrupt = Uint8Array.from(grey);
  corrupt[40] = (corrupt[40] as number) ^ 0xff;
  writeFileSync(join(tmp, 'corrupt.png'), corrupt);
  assert.throws(() => readInputs(join(tmp, 'corrupt.png'), want), /corrupt PNG: CRC mismatch|truncated PNG/);
});

test('HTTP endpoint on 127.0.0.1: checks inputs, enforces limits, closes', async () => {
  const gd = await theGuard();
  const server = await serveGuard(gd, { port: 0, maxBatch: 4, maxBodyBytes: 4096 });
  try {
    assert.match(server.url, /^http:\/\/127\.0\.0\.1:\d+$/);
    const health = await fetch(`${server.url}/health`);
    assert.equal(health.status, 200);
    assert.deepEqual(((await health.json()) as { inputShape: number[] }).inputShape, [6, 6, 1]);
    const ds = toyDataset(2, 4);
    const images = [Array.from(ds.images.subarray(0, 36)), Array.from(ds.images.subarray(36, 72))];
    const ok = await fetch(`${server.url}/check`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ inputs: images }) });
    assert.equal(ok.status, 200);
    const res = (await ok.json()) as { results: Array<{ prediction: number; decision: string }> };
    assert.deepEqual(res.results.map((r) => r.prediction), Array.from(ds.labels));
    const raw = await fetch(`${server.url}/check`, { method: 'POST', headers: { 'content-type': 'application/octet-stream' }, body: ds.images.slice().buffer });
    assert.equal(raw.status, 200);
    const expect = async (init: RequestInit, path: string, status: number, pattern: RegExp): Promise<void> => {
      const r = await fetch(`${server.url}${path}`, init);
      assert.equal(r.status, status);
      assert.match(((await r.json()) as { error: string }).error, pattern);
    };
    const post = (body: string | ArrayBuffer, type = 'application/json'): RequestInit => ({ method: 'POST', headers: { 'content-type': type }, body });
    await expect(post('{"inputs": ['), '/check', 400, /expected JSON/);
    await expect(post(JSON.stringify({ inputs: [[1, 2]] })), '/check', 400, /inputs\[0\]: expected 36 values/);
    await expect(post(JSON.stringify({ inputs: [new Array(36).fill(2)] })), '/check', 400, /inputs must be finite numbers in \[0,1\]/);
    await expect(post(JSON.stringify({ inputs: [new Array(36).fill('a')] })), '/check', 400, /expected finite numbers/);
    await expect(post(JSON.stringify({ inputs: new Array(5).fill(new Array(36).fill(0)) })), '/check', 400, /5 images exceed the limit of 4/);
    await expect(post(new ArrayBuffer(10), 'application/octet-stream'), '/check', 400, /multiple of 4 bytes/);
    await expect(post('x', 'text/plain'), '/check', 415, /expected application\/json or application\/octet-stream/);
    await expect(post('x'.repeat(5000)), '/check', 413, /exceeds the limit of 4096 bytes/);
    await expect({ method: 'GET' }, '/check', 405, /use POST/);
    await expect({ method: 'GET' }, '/nope', 404, /no route/);
  } finally {
    await server.close();
  }
  await assert.rejects(fetch(`${server.url}/health`));
});

test('a client that disconnects mid-upload is logged as one 499 line, not a 500 with a stack trace', async () => {
  const gd = await theGuard();
  const lines: string[] = [];
  const server = await serveGuard(gd, { port: 0, maxBodyBytes: 1 << 20, log: (l) => lines.push(l) });
  try {
    const { port } = new URL(server.url);
    await new Promise<void>((resolve, reject) => {
      const sock = connect(Number(port), '127.0.0.1', () => {
        sock.write('POST /check HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 100000\r\n\r\n{"inputs": [[0.1, 0.2');
        setTimeout(() => sock.destroy(), 100);
      });
      sock.on('error', reject);
      sock.on('close', () => resolve());
    });
    for (let i = 0; i < 50 && lines.length === 0; i++) await new Promise((r) => setTimeout(r, 20));
    assert.equal(lines.length, 1, lines.join('\n'));
    assert.match(lines[0] as string, /^POST \/check 499 client closed the connection after \d+ bytes of the body/);
    assert.doesNotMatch(lines.join('\n'), /500|error|    at /);
  } finally {
    await server.close();
  }
});
