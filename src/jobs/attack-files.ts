/**
 * What `alp attack` writes for a gradient attack, from its rows: attack.json, adversarial.f32, the PNG
 * grid (clean, adversarial, perturbation per example) or, for audio, waveform strips and WAV pairs; for
 * a text model, what the adversarial embeddings read as. The attack job writes it from the rows it
 * attacked, `alp merge` from the shards' rows joined, so a merged run's files are the unsharded run's.
 */
import { join } from 'node:path';
import { writeClipPairs, type TextReading } from '../artifacts/attack.js';
import type { DataRecord } from '../data/digest.js';
import { encodePng, imageGrid, perturbationMap } from '../report/index.js';
import { audioTiles } from '../report/waveform.js';
import { writeFileAtomic, writeJsonAtomic } from '../util/atomic.js';

/** attack.json's fields before the rows: what was attacked, how, and on which weights and examples. */
export interface AttackHead {
  schema: string;
  weightsHash: string | null;
  model: string;
  dataset: string;
  data: DataRecord;
  attack: unknown;
  targeted: number | null;
}

/** The rows [first, first + n) of an attack on images or audio, with their clean inputs. */
export interface AttackRows {
  first: number;
  /** [h, w, c] of one example. */
  shape: readonly [number, number, number];
  clean: Float32Array;
  adversarial: Float32Array;
  labels: ArrayLike<number>;
  cleanPred: ArrayLike<number>;
  advPred: ArrayLike<number>;
  success: ArrayLike<number>;
}

/** A shard's clean inputs, beside its adversarial.f32, for `alp merge` to draw the whole grid. */
export const CLEAN_FILE = 'clean.f32';

export const fooledOf = (success: ArrayLike<number>): number => Array.from(success).reduce((a, b) => a + b, 0);

const bytes = (a: Float32Array): Uint8Array => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);

/** attack.json of an image/audio attack on rows `r`. */
export function imageAttackReport(head: AttackHead, r: AttackRows, sampleRate: number | undefined, tail: Record<string, unknown>): Record<string, unknown> {
  const [h, w, c] = r.shape;
  const n = r.labels.length;
  const audio = sampleRate !== undefined && h === 1 && c === 1;
  const fooled = fooledOf(r.success);
  return {
    ...head,
    tensor: { file: 'adversarial.f32', dtype: 'float32', shape: [n, h, w, c], layout: 'NHWC, little-endian, values in [0,1]' },
    ...(audio ? { audio: { sampleRate, files: 'wav/<i>-clean.wav, wav/<i>-adversarial.wav (16-bit PCM mono)', waveform: 'w = 2x − 1' } } : {}),
    labels: Array.from(r.labels), cleanPredictions: Array.from(r.cleanPred), adversarialPredictions: Array.from(r.advPred),
    success: Array.from(r.success), successRate: n === 0 ? 0 : fooled / n, ...tail,
  };
}

/** The image/audio attack's files in `out`; `tail` ends attack.json (version header, warnings, shard record). Returns the files written and attack.json. */
export function writeImageAttack(out: string, head: AttackHead, r: AttackRows, sampleRate: number | undefined, tail: Record<string, unknown>): { files: string[]; report: Record<string, unknown> } {
  const [h, w, c] = r.shape;
  const row = h * w * c;
  const n = r.labels.length;
  const audio = sampleRate !== undefined && h === 1 && c === 1;
  const files = ['adversarial.png', 'adversarial.f32', 'attack.json'];
  const tiles = Array.from({ length: n }, (_, i) => {
    const clean = r.clean.slice(i * row, (i + 1) * row);
    const adv = r.adversarial.slice(i * row, (i + 1) * row);
    // Audio: waveform strips instead of 1-pixel-high images, and the clips themselves to listen to.
    if (audio) return audioTiles(clean, adv, `${r.labels[i]}>${r.cleanPred[i]} ADV ${r.advPred[i]}`);
    return [
      { pixels: clean, h, w, c, caption: `${r.labels[i]}>${r.cleanPred[i]}` },
      { pixels: adv, h, w, c, caption: `ADV ${r.advPred[i]}` },
      { pixels: perturbationMap(clean, adv, h, w, c), h, w, c: 3, caption: 'DELTA' },
    ];
  });
  // A shard with no examples has no picture.
  if (n > 0) {
    const grid = imageGrid(tiles, { scale: audio ? 1 : 3, pad: 4 });
    writeFileAtomic(join(out, 'adversarial.png'), encodePng(grid.width, grid.height, grid.rgba));
  } else files.shift();
  writeFileAtomic(join(out, 'adversarial.f32'), bytes(r.adversarial));
  if (audio) {
    writeClipPairs(out, { clean: r.clean, adversarial: r.adversarial, row, sampleRate, first: r.first });
    files.splice(files.length - 1, 0, `wav/ (${2 * n} clips)`);
  }
  if (tail['shard'] !== undefined) {
    writeFileAtomic(join(out, CLEAN_FILE), bytes(r.clean));
    files.splice(files.length - 1, 0, CLEAN_FILE);
  }
  const report = imageAttackReport(head, r, sampleRate, tail);
  writeJsonAtomic(join(out, 'attack.json'), report);
  return { files, report };
}

/** The text-embedding attack's files in `out`: adversarial.f32 ([n, tokens, dim]) and attack.json with the readings. */
export function writeTextAttack(out: string, head: AttackHead, adversarial: Float32Array, shape: readonly [number, number], texts: TextReading[], tail: Record<string, unknown>): { files: string[]; report: Record<string, unknown> } {
  writeFileAtomic(join(out, 'adversarial.f32'), bytes(adversarial));
  const report = textAttackReport(head, shape, texts, tail);
  writeJsonAtomic(join(out, 'attack.json'), report);
  return { files: ['adversarial.f32', 'attack.json'], report };
}

/** attack.json of a text-embedding attack: the readings of the messages' adversarial embeddings ([tokens, dim] each). */
export function textAttackReport(head: AttackHead, shape: readonly [number, number], texts: TextReading[], tail: Record<string, unknown>): Record<string, unknown> {
  const n = texts.length;
  const fooled = texts.filter((t) => t.success).length;
  return {
    ...head,
    tensor: { file: 'adversarial.f32', dtype: 'float32', shape: [n, shape[0], shape[1]], layout: 'adversarial embeddings [N, tokens, dim], little-endian' },
    successRate: n === 0 ? 0 : fooled / n, texts, ...tail,
  };
}
