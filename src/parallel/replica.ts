/**
 * The one way alp ships a model to a worker thread: its topology and weights exactly as `model.save`
 * writes them (modelPayload), rebuilt there by loadLayersModel (loadReplica), so a replica computes
 * what the original does. Used by the evaluation workers and by data-parallel training's replicas
 * (train/replica.ts). Also the dataset rows a worker evaluates. Plain data: it crosses the thread
 * boundary by structured clone.
 */
import * as tf from '@tensorflow/tfjs';
import type { Dataset } from '../data/dataset.js';
import { UserError } from '../util/errors.js';
// Registers the graph-model layer class, so a replica of a graph model can be rebuilt in a worker.
import '../model/graph-model.js';

export interface ModelPayload {
  topology: tf.io.ModelArtifacts['modelTopology'];
  weightSpecs: tf.io.WeightsManifestEntry[];
  weightData: ArrayBuffer;
}

/** A layers model's topology and weights, exactly. A bare logits function cannot be sent to a worker. */
export async function modelPayload(model: tf.LayersModel | ((x: tf.Tensor) => tf.Tensor), what = 'model'): Promise<ModelPayload> {
  if (typeof model === 'function') throw new UserError(`${what}: workers need a tf.LayersModel (its topology and weights go to each worker), not a logits function; use workers: 1`);
  let out: ModelPayload | undefined;
  await model.save(tf.io.withSaveHandler(async (a) => {
    const data = a.weightData;
    const buf = data === undefined ? new ArrayBuffer(0) : Array.isArray(data) ? concat(data) : data;
    out = { topology: a.modelTopology, weightSpecs: a.weightSpecs ?? [], weightData: buf };
    return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
  }));
  return out as ModelPayload;
}

function concat(parts: ArrayBuffer[]): ArrayBuffer {
  const out = new Uint8Array(parts.reduce((a, p) => a + p.byteLength, 0));
  let at = 0;
  for (const p of parts) {
    out.set(new Uint8Array(p), at);
    at += p.byteLength;
  }
  return out.buffer;
}

export function loadReplica(p: ModelPayload): Promise<tf.LayersModel> {
  return tf.loadLayersModel(tf.io.fromMemory({ modelTopology: p.topology, weightSpecs: p.weightSpecs, weightData: p.weightData }));
}

/**
 * loadReplica with the payload's weights bit for bit. Loading writes weights through the layers'
 * constraints, and a constraint that holds only up to rounding moves them (text-cnn's unit-norm
 * embedding is renormalised, changing rows by an ulp); an evaluation replica must compute exactly what
 * the original does, so the saved values are written again, past the constraints.
 */
export async function loadExactReplica(p: ModelPayload): Promise<tf.LayersModel> {
  const model = await loadReplica(p);
  const saved = tf.io.decodeWeights(p.weightData, p.weightSpecs);
  try {
    for (const w of model.weights) {
      const t = saved[w.originalName];
      if (t === undefined) throw new Error(`replica: no saved value for weight ${w.originalName}`);
      (w.read() as tf.Variable).assign(t);
    }
  } finally {
    tf.dispose(Object.values(saved));
  }
  return model;
}

/** The dataset without anything a worker does not need (the vocabulary travels; it is small). */
export function datasetPayload(ds: Dataset): Dataset {
  return { ...ds, images: ds.images.subarray(0, ds.count * ds.shape[0] * ds.shape[1] * ds.shape[2]), labels: ds.labels.subarray(0, ds.count) };
}
