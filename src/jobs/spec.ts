/** What every job over a model's test examples is given (eval, audit). */
import type * as tf from '@tensorflow/tfjs';
import type { ThreatModel } from '../attack/threat-model.js';
import type { ShardSpec } from '../artifacts/shard.js';
import type { Dataset } from '../data/dataset.js';
import type { DataRecord } from '../data/digest.js';

export interface ModelRowsSpec {
  modelPath: string;
  /** The weights' hash (model/fingerprint.ts), part of the result's identity. */
  weightsHash: string | null;
  model: tf.LayersModel;
  ds: Dataset;
  /** The examples' digest and source, part of the result's identity. */
  data: DataRecord;
  threat: ThreatModel;
  /** Run only this shard of the examples (`alp merge` joins the shards). */
  shard?: ShardSpec;
  /** Replace a result of other weights or settings at the output. */
  force?: boolean;
  /** Examples attacked at once. */
  batchSize: number;
  /** Worker threads for the rows (1: this thread). */
  workers: number;
  /** The result's version header (jobs/header.ts). */
  versions: Record<string, string>;
  warnings: string[];
  backend: string;
  /** Stops the run after the current batch. */
  signal?: AbortSignal;
}
