/** Detectors by name (as the CLI names them) and from their serialised configs (detector.json). */
import { UserError } from '../util/errors.js';
import { baselineFromConfig, MarginDetector, MaxSoftmaxDetector } from './baselines.js';
import { DETECTOR_KINDS, type Detector, type DetectorConfig, type DetectorKind } from './detector.js';
import { LogitDiscrepancyDetector, logitDiscrepancyFromConfig, type InnerAttackSpec, type LogitDiscrepancyOptions } from './logit-discrepancy.js';
import type { NoiseSpec } from './noise.js';
import { OddsAreOddDetector, oddsFromConfig, type OddsOptions } from './odds-are-odd.js';

export interface DetectorSettings {
  seed?: number;
  /** Noise draws per input for the noise-based detectors. */
  samples?: number;
  /** Noise for the noise-based detectors (odds: every setting; logit-discrepancy: the first). */
  noise?: NoiseSpec[];
  /** False for inputs without a [0,1] box (a text model's embeddings): noise is not clipped. */
  box?: boolean;
  /** logit-discrepancy: its inner attack (default L∞ 0.1, 5 steps), or null for the random part only. */
  adversarial?: InnerAttackSpec | null;
}

/** A fresh (unfitted) detector of a kind, with optional common settings. */
export function buildDetector(kind: string, s: DetectorSettings = {}): Detector {
  switch (kind as DetectorKind) {
    case 'max-softmax':
      return new MaxSoftmaxDetector();
    case 'margin':
      return new MarginDetector();
    case 'logit-discrepancy': {
      const o: LogitDiscrepancyOptions = {};
      if (s.seed !== undefined) o.seed = s.seed;
      if (s.samples !== undefined) o.samples = s.samples;
      if (s.noise !== undefined && s.noise[0] !== undefined) o.noise = s.noise[0];
      if (s.box === false) o.box = false;
      if (s.adversarial !== undefined) o.adversarial = s.adversarial;
      return new LogitDiscrepancyDetector(o);
    }
    case 'odds': {
      const o: OddsOptions = {};
      if (s.seed !== undefined) o.seed = s.seed;
      if (s.samples !== undefined) o.samples = s.samples;
      if (s.noise !== undefined) o.noise = s.noise;
      if (s.box === false) o.box = false;
      return new OddsAreOddDetector(o);
    }
    default:
      throw new UserError(`detector: expected one of ${DETECTOR_KINDS.join(', ')}, got '${kind}'`);
  }
}

/** Rebuilds a detector from its `describe()` output; `where` names the source in errors. */
export function detectorFromConfig(c: unknown, where = 'detector'): Detector {
  if (typeof c !== 'object' || c === null || Array.isArray(c)) throw new UserError(`${where}: expected a detector config object, found ${JSON.stringify(c)}`);
  const cfg = c as DetectorConfig;
  switch (cfg.kind) {
    case 'max-softmax':
    case 'margin':
      return baselineFromConfig(cfg, where);
    case 'logit-discrepancy':
      return logitDiscrepancyFromConfig(cfg, where);
    case 'odds':
      return oddsFromConfig(cfg, where);
    default:
      throw new UserError(`${where}.kind: expected one of ${DETECTOR_KINDS.join(', ')}, found ${JSON.stringify(cfg.kind)}`);
  }
}
