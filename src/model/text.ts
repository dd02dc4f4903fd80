/**
 * Text models are attacked in embedding space (Miyato, Dai & Goodfellow 2017): token ids are discrete,
 * so the adversary perturbs the vectors the Embedding layer looks up, under an L2 (or L∞) radius and
 * with no box. A model is split at its Embedding layer into
 *
 *   embed: ids [B, L, 1, 1] (as alp stores them) → embeddings [B, L, D]   (the layers up to Embedding)
 *   head:  embeddings → logits                                             (a LayersModel sharing weights)
 *
 * Every attack, the audit and the trainer then work on `head` unchanged; training still updates the
 * embeddings, because the trainer re-embeds on the gradient tape (train/trainer.ts).
 *
 * With unit-norm embeddings (text-cnn) distances have a fixed scale: two words are at most 2 apart, so
 * an L2 radius of ~1.4 over a whole message is about one word's worth of change. `nearestTokens` says
 * which words an adversarial embedding sequence is closest to: the substitutions it amounts to.
 */
import * as tf from '@tensorflow/tfjs';
import type { Dataset } from '../data/dataset.js';
import { UserError } from '../util/errors.js';

export interface EmbeddingSplit {
  /** Token ids (any shape [B, ...] holding L ids per example) → embeddings [B, L, D]. */
  embed: (ids: tf.Tensor, training?: boolean) => tf.Tensor;
  /** Embeddings [B, L, D] → logits. Shares its weights with the original model. */
  head: tf.LayersModel;
  /** The embedding matrix [V, D] (read at call time, so it follows training). */
  table: () => tf.Tensor2D;
  sequenceLength: number;
  dim: number;
  vocabularySize: number;
}

/** The model's layers as one chain, nested models (alp's input adapters) flattened. */
function chain(model: tf.LayersModel): tf.layers.Layer[] {
  const out: tf.layers.Layer[] = [];
  for (const layer of model.layers) {
    if (layer.getClassName() === 'InputLayer') continue;
    const inbound = (layer as unknown as { inboundNodes: Array<{ inboundLayers: unknown[] }> }).inboundNodes;
    if (inbound.some((n) => n.inboundLayers.length > 1)) {
      throw new UserError(`${model.name}: layer ${layer.name} has several inputs; text models must be a chain of layers (e.g. tf.sequential) to be split at the embedding`);
    }
    if (layer instanceof tf.LayersModel) out.push(...chain(layer));
    else out.push(layer);
  }
  return out;
}

/** True when the model looks up token ids: it has an Embedding layer. */
export function isTextModel(model: tf.LayersModel): boolean {
  const walk = (m: tf.LayersModel): boolean => m.layers.some((l) => l.getClassName() === 'Embedding' || (l instanceof tf.LayersModel && walk(l)));
  return walk(model);
}

/** Splits a chain model at its (first) Embedding layer. */
export function splitAtEmbedding(model: tf.LayersModel): EmbeddingSplit {
  const layers = chain(model);
  const k = layers.findIndex((l) => l.getClassName() === 'Embedding');
  if (k < 0) throw new UserError(`${model.name}: no Embedding layer; only text models are split at their embedding`);
  const emb = layers[k] as tf.layers.Layer;
  const outShape = emb.outputShape as (number | null)[];
  const [len, dim] = [outShape[1], outShape[2]];
  if (typeof len !== 'number' || typeof dim !== 'number') {
    throw new UserError(`${model.name}: the Embedding layer needs a fixed sequence length (inputLength), found output shape [${outShape.join(',')}]`);
  }
  const before = layers.slice(0, k);
  const inputShape = (model.inputs[0]?.shape ?? []).slice(1) as number[];
  const embed = (ids: tf.Tensor, training = false): tf.Tensor => {
    // ids arrive as alp stores them (float ids, [B, L, 1, 1]); the model's own first layers (an
    // adapter's reshape) expect its input shape.
    let h: tf.Tensor = ids.reshape([ids.shape[0] as number, ...inputShape]);
    for (const l of before) h = l.apply(h, { training }) as tf.Tensor;
    return emb.apply(h, { training }) as tf.Tensor;
  };
  const input = tf.input({ shape: [len, dim] });
  let h: tf.SymbolicTensor = input;
  for (const l of layers.slice(k + 1)) h = l.apply(h) as tf.SymbolicTensor;
  const head = tf.model({ inputs: input, outputs: h, name: `${model.name}_head` });
  const table = (): tf.Tensor2D => emb.getWeights()[0] as tf.Tensor2D;
  const vocabularySize = (table().shape[0]);
  return { embed, head, table, sequenceLength: len, dim, vocabularySize };
}

/**
 * For each position of each embedded sequence [B, L, D], the id of the nearest row of the table (by
 * Euclidean distance): what the perturbed text "says" in words.
 */
export function nearestTokens(embedded: tf.Tensor, table: tf.Tensor2D): Int32Array {
  return tf.tidy(() => {
    const [b, l, d] = embedded.shape as [number, number, number];
    const e = embedded.reshape([b * l, d]);
    // ‖e − t‖² = ‖e‖² − 2 e·t + ‖t‖²; ‖e‖² is constant per row and does not change the argmin.
    const scores = tf.sub(tf.matMul(e, table, false, true).mul(2), tf.sum(tf.square(table), 1).reshape([1, -1]));
    return scores.argMax(1).dataSync() as Int32Array;
  });
}

/**
 * A text dataset's token ids replaced by their embeddings under `split` (inference mode), as rows of
 * shape [L, D, 1], so that attacks, evaluation and the audit run on `head` as on images. The
 * vocabulary is dropped: the rows are no longer ids.
 */
export function embedDataset(ds: Dataset, split: EmbeddingSplit, batchSize = 256): Dataset {
  if (ds.vocabulary === undefined) throw new UserError(`${ds.name}: not a text dataset (no vocabulary); a text model needs token ids`);
  const L = split.sequenceLength, D = split.dim;
  if (ds.shape[0] !== L) throw new UserError(`${ds.name}: sequences of ${ds.shape[0]} tokens, the model embeds ${L}`);
  if (ds.vocabulary.length > split.vocabularySize) {
    throw new UserError(`${ds.name}: vocabulary of ${ds.vocabulary.length} tokens, the model's embedding has only ${split.vocabularySize} rows`);
  }
  const images = new Float32Array(ds.count * L * D);
  for (let i = 0; i < ds.count; i += batchSize) {
    const n = Math.min(batchSize, ds.count - i);
    const e = tf.tidy(() => split.embed(tf.tensor4d(ds.images.subarray(i * L, (i + n) * L), [n, L, 1, 1])));
    images.set(e.dataSync() as Float32Array, i * L * D);
    e.dispose();
  }
  const out: Dataset = { name: ds.name, images, labels: ds.labels, count: ds.count, shape: [L, D, 1], numClasses: ds.numClasses };
  if (ds.classNames !== undefined) out.classNames = ds.classNames;
  return out;
}
