/**
 * Adapting a user's model to alp's input convention. Every attack, threat model and dataset in alp
 * works on [B, H, W, C] inputs in the [0,1] box, so ε means the same thing for every model (pixel
 * units: 0.3 on MNIST, 8/255 on CIFAR). Models from elsewhere often differ in two harmless ways:
 *
 *  - they take flat vectors ([B, 784]) or channel-less images ([B, 28, 28]);
 *  - they were trained on another value range ([-1,1], [0,255]).
 *
 * Rather than rescale ε and the box for each, alp puts the difference inside the model: a reshape and
 * an affine map x ↦ lo + (hi − lo)·x in front of it. Gradients pass through both exactly, so attacks
 * are as strong as on the bare model, and ε stays in [0,1] units.
 */
import * as tf from '@tensorflow/tfjs';
import { OptionError, UserError } from '../util/errors.js';

export interface AdaptOptions {
  /** The value range the model was trained on; [0,1] inputs are mapped onto it. Default [0, 1]. */
  inputRange?: [number, number];
  /** Named in errors: the model's path, and the dataset's name. */
  source?: string;
  dataName?: string;
}

export interface Adapted {
  model: tf.LayersModel;
  /** What was put in front of the model, for logs and reports; empty when it was used as is. */
  changes: string[];
}

/**
 * Returns a model that takes [B, ...dataShape] inputs in [0,1] and computes `model` on them, or the
 * model itself when it already does. Throws a UserError naming both shapes when they cannot agree.
 */
export function adaptModel(model: tf.LayersModel, dataShape: readonly [number, number, number], opts: AdaptOptions = {}): Adapted {
  const source = opts.source ?? 'model';
  const inShape = (model.inputs[0]?.shape ?? []).slice(1);
  const size = dataShape[0] * dataShape[1] * dataShape[2];
  const changes: string[] = [];

  let reshape: number[] | null = null;
  const exact = inShape.length === 3 && inShape.every((d, i) => d === null || d === dataShape[i]);
  if (!exact) {
    const known = inShape.every((d) => d !== null);
    const inSize = inShape.reduce<number>((a, d) => a * (d ?? 1), 1);
    if (inShape.length >= 1 && inShape.length <= 3 && known && inSize === size) {
      reshape = inShape as number[];
      changes.push(`reshape [${dataShape.join(',')}] → [${reshape.join(',')}]`);
    } else {
      throw new UserError(`${source}: model input shape [${inShape.map((d) => d ?? '?').join(',')}] does not match ${opts.dataName ?? 'the data'} inputs [${dataShape.join(',')}] (nor their ${size} values flattened)`);
    }
  }

  let range: [number, number] | null = null;
  if (opts.inputRange !== undefined) {
    const [lo, hi] = opts.inputRange;
    if (!Number.isFinite(lo) || !Number.isFinite(hi) || !(hi > lo)) {
      throw new OptionError(`{inputRange}: expected two finite numbers LO,HI with LO < HI, got ${lo},${hi}`);
    }
    if (lo !== 0 || hi !== 1) {
      range = [lo, hi];
      changes.push(`rescale [0,1] → [${lo},${hi}]`);
    }
  }

  if (reshape === null && range === null) return { model, changes };
  const input = tf.input({ shape: [...dataShape] });
  let h: tf.SymbolicTensor = input;
  if (reshape !== null) h = tf.layers.reshape({ targetShape: reshape }).apply(h) as tf.SymbolicTensor;
  if (range !== null) h = tf.layers.rescaling({ scale: range[1] - range[0], offset: range[0] }).apply(h) as tf.SymbolicTensor;
  const output = model.apply(h) as tf.SymbolicTensor;
  return { model: tf.model({ inputs: input, outputs: output, name: `${model.name}_adapted` }), changes };
}

/** Parses `LO,HI` (e.g. `-1,1` or `0,255`). */
export function parseInputRange(text: string): [number, number] {
  const parts = text.split(',').map((s) => s.trim());
  const nums = parts.map(Number);
  if (parts.length !== 2 || parts.some((s) => s === '') || nums.some((v) => !Number.isFinite(v)) || !((nums[1] as number) > (nums[0] as number))) {
    throw new OptionError(`{inputRange}: expected LO,HI with LO < HI (e.g. -1,1 or 0,255), got '${text}'`);
  }
  return [nums[0] as number, nums[1] as number];
}
