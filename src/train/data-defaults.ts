/**
 * Training defaults that follow from the data rather than from MNIST: the architecture that can read
 * it and the threat model that is usual for it. They sit between alp's defaults and a preset (a preset
 * or an explicit option wins), and train.json records which of them were used and why.
 *
 * - grey images up to 32×32 (MNIST-like): today's defaults (fast-cnn, L∞ ε = 0.3);
 * - other images (RGB, or larger): L∞ ε = 8/255 with PGD step 2/255, the usual CIFAR-10 threat model;
 * - audio: audio-cnn at L∞ ε = 0.005 (the spoken-digits preset's);
 * - text: text-cnn with L2 ε = 0.5 on the embeddings (the spam preset's).
 */
import type { DataKind } from '../data/source.js';
import { PRESETS, type ConfigOverrides, type PresetName, type TrainConfig } from './config.js';

export interface DataDefaults {
  /** Why these defaults: the data kind, in words. */
  from: string;
  /** The config fields set from the data kind (only those no preset or option replaced, once applied). */
  fields: Partial<TrainConfig>;
}

export function dataDefaults(kind: DataKind, shape: readonly [number, number, number]): DataDefaults {
  if (kind === 'text') return { from: 'text data', fields: { arch: 'text-cnn', norm: 'l2', eps: 0.5, attackStepSize: 0.125 } };
  if (kind === 'audio') return { from: 'audio data', fields: { arch: 'audio-cnn', eps: 0.005, attackStepSize: 0.00125 } };
  const [h, w, c] = shape;
  if (c === 1 && h <= 32 && w <= 32) return { from: 'grey images up to 32×32 (MNIST-like)', fields: {} };
  return { from: c === 1 ? `grey images larger than 32×32 (${h}×${w})` : 'RGB images', fields: { eps: 8 / 255, attackStepSize: 2 / 255 } };
}

/**
 * The data-kind fields that survived into `c`: those neither `preset` nor an option in `given` (the
 * overrides resolveConfig was called with) set.
 */
export function appliedDefaults(d: DataDefaults, c: TrainConfig, preset: string | undefined, given: ConfigOverrides): DataDefaults {
  const replaced = new Set([...Object.keys(preset !== undefined ? PRESETS[preset as PresetName]?.config ?? {} : {}), ...Object.entries(given).filter(([, v]) => v !== undefined).map(([k]) => k)]);
  const fields: Partial<TrainConfig> = {};
  for (const [k, v] of Object.entries(d.fields)) {
    if (!replaced.has(k) && (c as unknown as Record<string, unknown>)[k] === v) (fields as Record<string, unknown>)[k] = v;
  }
  return { from: d.from, fields };
}
