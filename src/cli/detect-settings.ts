/**
 * What `alp detect calibrate` and `alp detect eval` share: the model flag, the detector settings
 * (--samples, --noise, --seed) and the clean calibration inputs (--calib-*).
 */
import type { Dataset } from '../data/dataset.js';
import { calibrationSplit } from '../detect/calibration-split.js';
import { NOISE_DISTS, type NoiseDist, type NoiseSpec } from '../detect/noise.js';
import { type DetectorSettings } from '../detect/registry.js';
import { OptionError, UserError } from '../util/errors.js';
import { optionMessage, get, type Parsed } from './args.js';
import { loadEvalData } from './common.js';

export function requireModel(p: Parsed, cmd: string): string {
  const m = get.str(p, 'model');
  if (m === undefined) throw new UserError(`alp ${cmd}: --model is required (a folder with model.json, or the model.json itself)`);
  return m;
}

export function parseNoise(p: Parsed): NoiseSpec[] | undefined {
  const items = get.strs(p, 'noise');
  if (items === undefined) return undefined;
  return items.map((it) => {
    const [dist, epsText, more] = it.split(':');
    const eps = Number(epsText);
    if (more !== undefined || !NOISE_DISTS.includes(dist as NoiseDist) || epsText === undefined || !Number.isFinite(eps) || eps <= 0 || eps >= 1) {
      throw new UserError(`--noise: expected DIST:EPS with DIST one of ${NOISE_DISTS.join(', ')} and 0 < EPS < 1, got '${it}'`);
    }
    return { dist: dist as NoiseDist, eps };
  });
}

export function detectorSettings(p: Parsed): DetectorSettings {
  const s: DetectorSettings = { seed: get.num(p, 'seed') as number };
  const samples = get.num(p, 'samples');
  if (samples !== undefined) s.samples = samples;
  const noise = parseNoise(p);
  if (noise !== undefined) s.noise = noise;
  return s;
}


/**
 * The clean calibration inputs: held out from training, disjoint from the evaluated test examples, and
 * from the same population as what they calibrate for. (MNIST's test split is two populations: its
 * first and last 5000 images come from different writers, and a threshold calibrated on one half can
 * give about twice the false-positive rate on the other.)
 *
 *  - eval: the --calib-n test examples right after the N evaluated ones (same region of the split);
 *  - calibrate: a seeded random sample of the split, representative of all of it;
 *  - --calib-start S: examples S … S+calib-n−1.
 */
export async function calibrationData(p: Parsed, evalN: number | undefined, modelPath?: string): Promise<{ ds: Dataset; source: Record<string, unknown> }> {
  const split = get.str(p, 'calib-split') as 'train' | 'test';
  const n = get.num(p, 'calib-n') as number;
  if (!Number.isInteger(n) || n < 2) throw new UserError(`--calib-n: expected an integer ≥ 2, got ${n}`);
  const start = get.num(p, 'calib-start');
  const full = await loadEvalData(p, undefined, split, modelPath);
  try {
    return calibrationSplit(full, {
      split, n, seed: get.num(p, 'seed') as number, ...(start !== undefined ? { start } : {}), ...(evalN !== undefined ? { evalN } : {}),
    });
  } catch (e) {
    // The split's options are this command's --calib-* flags.
    if (e instanceof OptionError) throw new UserError(optionMessage(e, { n: 'calib-n', start: 'calib-start', split: 'calib-split', evalN: 'n' }), e.code);
    throw e;
  }
}

