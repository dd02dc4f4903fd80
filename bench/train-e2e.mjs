// End to end: `alp train --method alp --model <a user's ResNet model.json> --data <CIFAR-shaped .npy>`
// against the same ALP loop in PyTorch (bench/peer.py train) on the same weights and data, in examples/s.
//
//   node bench/train-e2e.mjs [--model resnet20|mobilenet] [--batch 64] [--count 2560] [--workers 1,2]
//                            [--peer-threads 1,2] [--keep DIR]
//
// Writes the bench model as a TF.js Layers model.json (what a user brings), random CIFAR-shaped images
// (float32 in [0,1], 32×32×3, 10 classes) as x_train.npy / y_train.npy, runs the CLI once per worker
// count (examples/s = examples trained ÷ train.json's trainSeconds: start-up and data loading excluded,
// as the peer's clock excludes its own), then the peer once per thread count. Build first (npm run build).
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import { setupBackend } from '../dist/backend/select.js';
import { saveModel } from '../dist/model/io.js';
import { buildModel } from './models.mjs';
import { layerSpecs } from './layer-specs.mjs';
import { Rng } from '../dist/util/rng.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.dirname(HERE);
const SETTINGS = { eps: 8 / 255, alpSteps: 10, alpStepSize: 2 / 255, lambda: 0.5, lr: 1e-3 };

function options(argv) {
  const o = { model: 'resnet20', batch: 64, count: 2560, workers: [1, 2], peerThreads: [1, 2], keep: null };
  for (let i = 0; i < argv.length; i++) {
    const v = () => argv[++i];
    switch (argv[i]) {
      case '--model': o.model = v(); break;
      case '--batch': o.batch = Number(v()); break;
      case '--count': o.count = Number(v()); break;
      case '--workers': o.workers = v().split(',').map(Number); break;
      case '--peer-threads': o.peerThreads = v().split(',').map(Number); break;
      case '--keep': o.keep = v(); break;
      default: throw new Error(`train-e2e: unknown option ${argv[i]}`);
    }
  }
  return o;
}

/** A NumPy .npy file (format 1.0, little-endian, C order). */
function writeNpy(file, data, shape) {
  const descr = data instanceof Float32Array ? '<f4' : '<i4';
  let header = `{'descr': '${descr}', 'fortran_order': False, 'shape': (${shape.join(', ')}${shape.length === 1 ? ',' : ''}), }`;
  const total = 10 + header.length + 1;
  header += ' '.repeat((64 - (total % 64)) % 64) + '\n';
  const head = Buffer.alloc(10);
  head.write('\x93NUMPY', 0, 'latin1');
  head[6] = 1;
  head[7] = 0;
  head.writeUInt16LE(header.length, 8);
  writeFileSync(file, Buffer.concat([head, Buffer.from(header, 'latin1'), Buffer.from(data.buffer, data.byteOffset, data.byteLength)]));
}

const o = options(process.argv.slice(2));
await setupBackend();
const dir = o.keep ?? mkdtempSync(path.join(os.tmpdir(), 'alp-e2e-'));
mkdirSync(dir, { recursive: true });
try {
  const model = buildModel(o.model);
  await saveModel(model, path.join(dir, 'model'));
  const rng = new Rng(5);
  const row = 32 * 32 * 3;
  const x = Float32Array.from({ length: o.count * row }, () => rng.next());
  const y = Int32Array.from({ length: o.count }, () => rng.int(10));
  const data = path.join(dir, 'data');
  mkdirSync(data, { recursive: true });
  writeNpy(path.join(data, 'x_train.npy'), x, [o.count, 32, 32, 3]);
  writeNpy(path.join(data, 'y_train.npy'), y, [o.count]);
  // A test split is required by the loader; validation is off (--val-size 0), so a few rows suffice.
  writeNpy(path.join(data, 'x_test.npy'), x.subarray(0, 16 * row), [16, 32, 32, 3]);
  writeNpy(path.join(data, 'y_test.npy'), y.subarray(0, 16), [16]);
  // The peer's copy: the same weights and data, raw.
  const peerDir = path.join(dir, 'peer');
  mkdirSync(peerDir, { recursive: true });
  const { graph, layers } = layerSpecs(peerDir, model);
  writeFileSync(path.join(peerDir, 'x.f32'), Buffer.from(x.buffer));
  writeFileSync(path.join(peerDir, 'y.i32'), Buffer.from(y.buffer));
  writeFileSync(path.join(peerDir, 'manifest.json'), JSON.stringify({
    format: 'alp-bench-1', model: model.name, graph, layers, input: { file: 'x.f32', dtype: 'float32', shape: [o.count, 32, 32, 3] }, settings: { ...SETTINGS, pgdStepSize: SETTINGS.alpStepSize },
    train: { x: { file: 'x.f32', dtype: 'float32', shape: [o.count, 32, 32, 3] }, y: { file: 'y.i32', dtype: 'int32', shape: [o.count] } },
  }));
  model.dispose();

  const rows = [];
  const steps = Math.floor(o.count / o.batch);
  for (const w of o.workers) {
    const out = path.join(dir, `run-w${w}`);
    const args = [path.join(ROOT, 'dist/cli/main.js'), 'train', '--method', 'alp', '--model', path.join(dir, 'model/model.json'), '--data', data,
      '--out', out, '--epochs', '1', '--batch-size', String(o.batch), '--val-size', '0', '--eps', String(SETTINGS.eps), '--eps-ramp-epochs', '0',
      '--attack-steps', String(SETTINGS.alpSteps), '--attack-step-size', String(SETTINGS.alpStepSize), '--lambda', String(SETTINGS.lambda),
      '--lr', String(SETTINGS.lr), '--optimizer', 'adam', '--workers', String(w)];
    const r = spawnSync(process.execPath, args, { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`alp train failed (${r.status}): ${r.stderr}`);
    const header = `${r.stdout}\n${r.stderr}`.split('\n').filter((l) => /^(gradients|weight step):/.test(l));
    const t = JSON.parse(readFileSync(path.join(out, 'train.json'), 'utf8'));
    rows.push({ who: `alp, ${w} worker${w === 1 ? '' : 's'}`, examplesPerSec: (steps * o.batch) / t.trainSeconds, seconds: t.trainSeconds, note: header.join('; ') });
  }
  for (const th of o.peerThreads) {
    const r = spawnSync('/usr/bin/python3', [path.join(HERE, 'peer.py'), 'train', peerDir, '--batch', String(o.batch), '--threads', String(th)], { encoding: 'utf8' });
    if (r.status !== 0) {
      rows.push({ who: `PyTorch, ${th} thread${th === 1 ? '' : 's'}`, examplesPerSec: NaN, seconds: NaN, note: `peer unavailable: ${(r.stderr || r.error?.message || '').trim().split('\n').pop()}` });
      continue;
    }
    const res = JSON.parse(r.stdout.trim().split('\n').pop());
    rows.push({ who: `PyTorch ${res.torch}, ${res.threads} thread${res.threads === 1 ? '' : 's'}`, examplesPerSec: res.train.examplesPerSec, seconds: res.train.seconds, note: '' });
  }
  console.log(`${o.model}, batch ${o.batch}, ${steps} ALP steps (PGD-${SETTINGS.alpSteps}, ε ${SETTINGS.eps.toFixed(4)}), ${new Date().toISOString()}, load ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}`);
  const peerBest = Math.max(...rows.filter((r) => r.who.startsWith('PyTorch')).map((r) => r.examplesPerSec).filter(Number.isFinite));
  for (const r of rows) {
    const ratio = r.who.startsWith('alp') && Number.isFinite(peerBest) ? ` (${(r.examplesPerSec / peerBest).toFixed(2)}x the peer's best)` : '';
    console.log(`  ${r.who.padEnd(28)} ${Number.isFinite(r.examplesPerSec) ? r.examplesPerSec.toFixed(1).padStart(8) : '       —'} ex/s${ratio}${r.note ? `  ${r.note}` : ''}`);
  }
} finally {
  if (o.keep === null) rmSync(dir, { recursive: true, force: true });
  tf.disposeVariables();
}
