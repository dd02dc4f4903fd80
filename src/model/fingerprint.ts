/**
 * Fingerprints that tie run files to the model they measured. `weightsHash` is the sha256 of the
 * weight data exactly as stored (the manifest's shards, concatenated in manifest order), so `alp report`
 * can recompute it from the model files beside a run and flag numbers measured on other weights.
 * `modelFingerprint` hashes an in-memory model's topology and weights, for resume keys: a retrained or
 * re-adapted model never resumes another model's interrupted state.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type * as tf from '@tensorflow/tfjs';

/** sha256 (hex) of a model.json's weight shards in manifest order, or null if they cannot be read. */
export function weightsHash(modelJson: string): string | null {
  try {
    const j = JSON.parse(readFileSync(modelJson, 'utf8')) as { weightsManifest?: Array<{ paths?: unknown }> };
    const h = createHash('sha256');
    let shards = 0;
    for (const group of j.weightsManifest ?? []) {
      for (const p of Array.isArray(group.paths) ? group.paths : []) {
        if (typeof p !== 'string') return null;
        const path = join(dirname(modelJson), p);
        if (!existsSync(path)) return null;
        h.update(readFileSync(path));
        shards++;
      }
    }
    return shards > 0 ? h.digest('hex') : null;
  } catch {
    return null;
  }
}

/** sha256 (hex) of one file's bytes, or null if it cannot be read (a text model's vocab.json, checked beside its weights). */
export function fileHash(path: string): string | null {
  try {
    return createHash('sha256').update(readFileSync(path)).digest('hex');
  } catch {
    return null;
  }
}

/** sha256 (hex) of an in-memory model's topology and weight values. */
export function modelFingerprint(model: tf.LayersModel): string {
  const h = createHash('sha256');
  h.update(JSON.stringify(model.toJSON(null, false)));
  for (const w of model.weights) {
    const v = w.read();
    const data = v.dataSync();
    h.update(`${w.name}:${v.shape.join('x')}:${v.dtype}`);
    h.update(new Uint8Array(data.buffer as ArrayBuffer, data.byteOffset, data.byteLength));
  }
  return h.digest('hex');
}
