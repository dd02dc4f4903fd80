/**
 * Training checkpoints: one file holding the model weights, the optimizer state, the weight average
 * when the run keeps one (train/weight-average.ts) and where training stands (epoch, batch, step, history), written atomically (temp file + rename) so that an interrupted
 * write leaves the previous checkpoint intact. Layout: 8-byte magic, uint32 header length, JSON header,
 * then float32 tensors back to back as the header lists them. The header's `sha256` covers the rest of
 * the header and every data byte, so a checkpoint damaged after it was written (a flipped bit, a bad
 * copy) is refused instead of loading and quietly derailing training.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import * as tf from '@tensorflow/tfjs';
import { writeFileAtomic } from '../util/atomic.js';
import { CorruptFileError, UserError } from '../util/errors.js';
import { getOptimizerState, type NamedTensor } from './optimizer-state.js';
import { weightName } from './weight-name.js';

const MAGIC = 'ALPCKPT1';

export interface TensorRecord {
  name: string;
  shape: number[];
  offset: number;
}

export interface CheckpointHeader<S> {
  magic: typeof MAGIC;
  state: S;
  model: TensorRecord[];
  optimizer: TensorRecord[];
  /** The moving average of the weights, in the model's weight order; absent when the run keeps none. */
  average?: TensorRecord[];
  /** Hex SHA-256 of the header without this field (as JSON) followed by the data bytes. */
  sha256?: string;
}

export interface LoadedCheckpoint<S> {
  state: S;
  model: tf.Tensor[];
  optimizer: Array<{ name: string; tensor: tf.Tensor }>;
  /** Empty when the checkpoint holds no weight average. */
  average: tf.Tensor[];
}

function sizeOf(shape: number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/**
 * `optimizer` is the optimizer itself, or its state as getOptimizerState gives it (data-parallel runs
 * keep it in the replicas); `average` the weight average in model.weights order, or none.
 */
export async function saveCheckpoint<S>(path: string, state: S, model: tf.LayersModel, optimizer: tf.Optimizer | NamedTensor[], average: tf.Tensor[] = []): Promise<void> {
  const weights = model.getWeights();
  const opt = Array.isArray(optimizer) ? optimizer : await getOptimizerState(optimizer);
  const records = (list: Array<{ name: string; tensor: tf.Tensor }>, start: number): { recs: TensorRecord[]; end: number } => {
    let offset = start;
    const recs = list.map(({ name, tensor }) => {
      const r = { name, shape: tensor.shape, offset };
      offset += tensor.size;
      return r;
    });
    return { recs, end: offset };
  };
  const m = records(weights.map((t, i) => ({ name: weightName(model, i), tensor: t })), 0);
  const o = records(opt, m.end);
  const a = records(average.map((t, i) => ({ name: weightName(model, i), tensor: t })), o.end);
  const body: CheckpointHeader<S> = { magic: MAGIC, state, model: m.recs, optimizer: o.recs, ...(average.length > 0 ? { average: a.recs } : {}) };
  const data = new Float32Array(a.end);
  for (const [i, t] of weights.entries()) data.set(t.dataSync() as Float32Array, (m.recs[i] as TensorRecord).offset);
  for (const [i, nt] of opt.entries()) data.set(nt.tensor.dataSync() as Float32Array, (o.recs[i] as TensorRecord).offset);
  for (const [i, t] of average.entries()) data.set(t.dataSync() as Float32Array, (a.recs[i] as TensorRecord).offset);
  // The optimizer's own state hands out a fresh step-count tensor beside its variables.
  if (!Array.isArray(optimizer)) for (const nt of opt) if (!(nt.tensor instanceof tf.Variable)) nt.tensor.dispose();
  const header: CheckpointHeader<S> = { ...body, sha256: digest(JSON.stringify(body), data) };
  const headerBytes = Buffer.from(JSON.stringify(header), 'utf8');
  const len = Buffer.alloc(4);
  len.writeUInt32LE(headerBytes.length, 0);
  writeFileAtomic(path, Buffer.concat([Buffer.from(MAGIC, 'ascii'), len, headerBytes, Buffer.from(data.buffer)]));
}

function digest(headerJson: string, data: Float32Array | Uint8Array): string {
  return createHash('sha256').update(headerJson, 'utf8').update(new Uint8Array(data.buffer, data.byteOffset, data.byteLength)).digest('hex');
}

export function loadCheckpoint<S>(path: string): LoadedCheckpoint<S> {
  if (!existsSync(path)) throw new UserError(`${path}: no checkpoint to resume from`);
  const buf = readFileSync(path);
  if (buf.length < 12 || buf.subarray(0, 8).toString('ascii') !== MAGIC) {
    throw new UserError(`${path}: not an alp checkpoint (expected magic ${MAGIC}, found '${buf.subarray(0, 8).toString('latin1')}')`);
  }
  const hlen = buf.readUInt32LE(8);
  if (12 + hlen > buf.length) throw new UserError(`${path}: truncated checkpoint header (${hlen} bytes announced, ${buf.length - 12} present)`);
  let header: CheckpointHeader<S>;
  try {
    header = JSON.parse(buf.subarray(12, 12 + hlen).toString('utf8')) as CheckpointHeader<S>;
  } catch (e) {
    throw new UserError(`${path}: checkpoint header is not valid JSON (${(e as Error).message})`);
  }
  const dataStart = 12 + hlen;
  if (typeof header !== 'object' || header === null || !Array.isArray(header.model) || !Array.isArray(header.optimizer)) {
    throw new UserError(`${path}: checkpoint header lacks its model and optimizer tensor lists`);
  }
  if (header.average !== undefined && !Array.isArray(header.average)) throw new UserError(`${path}: checkpoint header's weight average is not a tensor list`);
  const averageRecs = header.average ?? [];
  const floats = (buf.length - dataStart) / 4;
  const all = [...header.model, ...header.optimizer, ...averageRecs];
  const need = all.reduce((a, r) => Math.max(a, r.offset + sizeOf(r.shape)), 0);
  if (!Number.isInteger(floats) || floats !== need) {
    throw new UserError(`${path}: checkpoint data has ${buf.length - dataStart} bytes, expected ${need * 4}`);
  }
  // Checkpoints from before checksums (no sha256) still load; every one written now carries it.
  if (header.sha256 !== undefined) {
    const { sha256, ...body } = header;
    if (digest(JSON.stringify(body), buf.subarray(dataStart)) !== sha256) {
      throw new CorruptFileError(`${path}: checkpoint is corrupt (its SHA-256 checksum does not match: it was damaged after it was written); start over without {resume}, or restore a copy`);
    }
  }
  const data = new Float32Array(buf.buffer.slice(buf.byteOffset + dataStart, buf.byteOffset + buf.length));
  for (const r of [...header.model, ...averageRecs]) {
    const v = data.subarray(r.offset, r.offset + sizeOf(r.shape));
    if (!v.every(Number.isFinite)) throw new CorruptFileError(`${path}: checkpoint weight ${r.name} holds NaN or infinite values`);
  }
  const tensorOf = (r: TensorRecord): tf.Tensor => tf.tensor(data.subarray(r.offset, r.offset + sizeOf(r.shape)), r.shape);
  return {
    state: header.state,
    model: header.model.map(tensorOf),
    optimizer: header.optimizer.map((r) => ({ name: r.name, tensor: tensorOf(r) })),
    average: averageRecs.map(tensorOf),
  };
}
