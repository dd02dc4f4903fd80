/**
 * What the playground's files and its two scripts agree on: the manifest written beside the page
 * (playground.json) and the messages between the page (ui.ts) and its compute worker (worker.ts).
 * Types only, plus the attack names: shared by the Node side and both browser scripts.
 */
export type Modality = 'image' | 'audio' | 'text';
export type PlaygroundAttack = 'fgsm' | 'pgd' | 'apgd' | 'square';
export const PLAYGROUND_ATTACKS: readonly PlaygroundAttack[] = ['pgd', 'fgsm', 'apgd', 'square'];
export const MANIFEST_FILE = 'playground.json';

export interface ManifestModel {
  name: string;
  /** model.json, relative to the page. */
  url: string;
  /** detector.json, relative to the page, or null when the model has no calibrated detector. */
  detectorUrl: string | null;
  /** The training method recorded in model.json, when there is one. */
  method: string | null;
  /** Graph models: the node that gives the logits (absent: the graph's only output). */
  outputNode?: string;
}

export interface PlaygroundManifest {
  format: 'alp-playground';
  title: string;
  dataset: string;
  modality: Modality;
  /** [H, W, C] of one input. */
  shape: [number, number, number];
  numClasses: number;
  classNames: string[];
  /** Audio: samples per second; the [0,1] input v is the waveform (2v − 1). */
  sampleRate: number | null;
  /** Test inputs: count × H·W·C float32 values (little-endian) at `url`; null for text. */
  samples: { url: string; count: number; labels: number[] } | null;
  models: ManifestModel[];
  /** The threat model the models were trained for, as the page's starting values. */
  defaults: { norm: 'linf' | 'l2'; eps: number; steps: number };
}

export interface ModelOutput {
  model: string;
  logits: number[];
  probs: number[];
  prediction: number;
  detector: { name: string; score: number; threshold: number; flagged: boolean; fprTarget: number } | null;
}

export type ToWorker =
  | { type: 'init'; manifestUrl: string; backend: string | null }
  | { type: 'predict'; id: number; input: Float32Array }
  | {
    type: 'attack'; id: number; input: Float32Array; label: number; model: string; attack: PlaygroundAttack;
    norm: 'linf' | 'l2'; eps: number; steps: number; target: number | null; seed: number;
  };

export type FromWorker =
  | { type: 'ready'; backend: string; skipped: string[]; models: string[]; warnings: string[] }
  | { type: 'predict'; id: number; outputs: ModelOutput[] }
  | { type: 'progress'; id: number; done: number; total: number }
  | { type: 'attack'; id: number; adversarial: Float32Array; success: boolean; seconds: number; attack: string }
  | { type: 'error'; id: number | null; message: string };
