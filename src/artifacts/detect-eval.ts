/**
 * detect-eval.json: what `alp detect eval` writes (the per-model results of detect/evaluate.ts, the
 * side-by-side summary and a legend of every field) and how `alp report` reads it back. Version 2 is the
 * first with a versioned schema id; files of version 1 (`alp-detect-eval`) are read the same way.
 */
import type { AttackDetection, ModelDetectionResult } from '../detect/evaluate.js';
import { writeJsonAtomic } from '../util/atomic.js';
import { UserError } from '../util/errors.js';
import { arr, isObj, str, type Obj } from './fields.js';

export const DETECT_EVAL_SCHEMA = 'alp.detect-eval/2';
/** The schema id of version 1, still read. */
export const DETECT_EVAL_SCHEMA_V1 = 'alp-detect-eval';
export const DETECT_EVAL_FILE = 'detect-eval.json';


export interface SideBySideRow {
  model: string;
  detector: string;
  /** The non-adaptive attack that leaves the most undetected successes. */
  strongestNonAdaptive: string | null;
  nonAdaptive: RowNumbers | null;
  adaptive: RowNumbers | null;
}

export interface RowNumbers {
  attackSuccessRate: number;
  rocAuc: number;
  tprAt1: number | null;
  tprAt5: number | null;
  detectionRate: number;
  undetectedSuccessRate: number;
  robustOrDetectedAccuracy: number;
}

function numbers(a: AttackDetection): RowNumbers {
  const at = (fpr: number): number | null => a.tprAtFpr.find((p) => Math.abs(p.fpr - fpr) < 1e-12)?.tpr ?? null;
  return {
    attackSuccessRate: a.attackSuccessRate, rocAuc: a.rocAuc, tprAt1: at(0.01), tprAt5: at(0.05),
    detectionRate: a.calibrated.detectionRate, undetectedSuccessRate: a.calibrated.undetectedSuccessRate,
    robustOrDetectedAccuracy: a.robustOrDetectedAccuracy,
  };
}

export function sideBySide(models: ModelDetectionResult[]): SideBySideRow[] {
  const rows: SideBySideRow[] = [];
  for (const m of models) for (const d of m.detectors) {
    const plain = d.attacks.filter((a) => !a.adaptive);
    const strongest = plain.reduce<AttackDetection | null>((best, a) => {
      if (best === null) return a;
      const u = a.calibrated.undetectedSuccessRate, bu = best.calibrated.undetectedSuccessRate;
      if (u > bu || (u === bu && a.robustOrDetectedAccuracy < best.robustOrDetectedAccuracy)) return a;
      return best;
    }, null);
    const adaptive = d.attacks.find((a) => a.adaptive) ?? null;
    rows.push({
      model: m.label, detector: d.kind, strongestNonAdaptive: strongest?.attack ?? null,
      nonAdaptive: strongest !== null ? numbers(strongest) : null, adaptive: adaptive !== null ? numbers(adaptive) : null,
    });
  }
  return rows;
}

/** What every field of the report means, so the JSON can be read (and rendered) on its own. */
export const DETECT_EVAL_FIELDS: Record<string, string> = {
  'score': 'Every detector outputs a score per input; higher = more suspicious. An input is flagged when score > threshold.',
  'negatives / positives': 'Negatives: all clean test inputs. Positives: the adversarial inputs that fool the classifier (misclassified), one per attacked test input at most.',
  'calibration': 'Threshold chosen on clean calibration inputs disjoint from the test inputs, for the target FPR setup.operatingFpr (split-conformal order statistic: expected FPR (m+1)/(n+1) ≤ target). Detectors with fitted statistics (odds) fit them on calibrationSplit.fit and choose the threshold on calibrationSplit.threshold.',
  'cleanTestFpr': 'Fraction of clean test inputs flagged at the calibrated threshold; should be close to the target FPR (within sampling error).',
  'attacked': 'Correctly classified clean test inputs the attack ran on.',
  'fooled / attackSuccessRate': 'Attacked inputs whose returned adversarial input is misclassified (verified by a fresh forward pass); rate = fooled / attacked. Ignores the detector.',
  'rocAuc': 'Area under the ROC curve of clean (negative) vs fooled adversarial (positive) scores: P(positive score > negative score), ties count 1/2. 0.5 = chance, 1 = perfect separation.',
  'tprAtFpr': 'Fraction of positives flagged at the threshold that flags at most fpr of the clean test scores (an oracle threshold on the test negatives; achievedFpr is the exact rate).',
  'adaptive rocAuc / tprAtFpr': 'The adaptive attack optimises against the calibrated threshold only, so its adversarial scores pile up just below that threshold: rocAuc and tprAtFpr (other thresholds) can look high while calibrated.undetectedSuccessRate is what the attacker achieves at the deployed threshold. An attacker aiming at another threshold would do the same there.',
  'roc': 'ROC curve points (fpr[i], tpr[i]), thinned to at most 101 points, for plotting.',
  'calibrated.detectionRate': 'Fraction of positives flagged at the calibrated (deployed) threshold.',
  'calibrated.undetectedSuccessRate': 'Fraction of attacked inputs for which the attack fools the classifier AND is not flagged at the calibrated threshold: what the attacker actually achieves against classifier + detector.',
  'robustOrDetectedAccuracy': 'Fraction of all test inputs that are correctly classified clean AND for which the attack either fails to fool the classifier or is flagged. Clean inputs flagged by mistake still count as handled (a rejection, not an error).',
  'worstCaseRobustOrDetectedAccuracy': 'Per input, the worst case over every attack in the list (adaptive included).',
  'adaptive': 'The adaptive attack knows the detector and its threshold, optimises misclassification and a low detector score at once (weighted objectives over a λ sweep with a differentiable surrogate of the score, EOT over noise, and logit matching), and succeeds on an input only if the real (non-surrogate) detector score of a misclassified result is ≤ threshold. Non-adaptive attacks ignore the detector.',
  'sideBySide': 'Per model and detector: the strongest non-adaptive attack (most undetected successes) next to the adaptive attack. tprAt1/tprAt5 = TPR at 1%/5% FPR.',
  'null': 'JSON has no NaN or infinity: null means undefined (e.g. no positives, so no AUC).',
  'caveat': 'A detector that only withstands non-adaptive attacks is not a defence: read the adaptive numbers.',
  'text (setup.modality = "text")': 'Text models: inputs are messages; the detectors score their embeddings (noise added in embedding space, no box). The non-adaptive attack is HotFlip with at most setup.threat.swaps real word swaps; the adaptive one swaps words to maximise min(CW margin, κ) − λ·relu((ŝ − τ)/σ + γ) for each λ, re-checking the best first-order swaps on the real message with the real detector, and also counts the HotFlip message when it is not flagged. Every adaptive success is re-verified on the real message (budget, legal swaps, fresh prediction, real score ≤ threshold): config.claimed vs config.verified.',
};

export interface DetectionReport {
  schema: typeof DETECT_EVAL_SCHEMA;
  title: string;
  generated: string;
  fields: Record<string, string>;
  setup: Record<string, unknown>;
  models: ModelDetectionResult[];
  sideBySide: SideBySideRow[];
}

export function buildDetectionReport(models: ModelDetectionResult[], setup: Record<string, unknown>): DetectionReport {
  return {
    schema: DETECT_EVAL_SCHEMA,
    title: 'Adversarial-example detection: non-adaptive vs adaptive attacks',
    generated: new Date().toISOString(), fields: DETECT_EVAL_FIELDS, setup, models, sideBySide: sideBySide(models),
  };
}

export function writeDetectEvalArtifact(path: string, report: DetectionReport): void {
  writeJsonAtomic(path, report);
}

/** The side-by-side numbers the report shows; NaN where the file has none. */
export interface DetectionMetrics {
  attackSuccessRate: number;
  rocAuc: number;
  tprAt1: number;
  tprAt5: number;
  robustOrDetectedAccuracy: number;
}

export interface DetectionRow {
  model: string;
  detector: string;
  strongestNonAdaptive: string;
  nonAdaptive: DetectionMetrics;
  adaptive: DetectionMetrics | null;
}

/**
 * The `setup` of a text model's evaluation (`modality: 'text'`): the detectors score the message's
 * embeddings, the non-adaptive attack is HotFlip with at most `threat.swaps` real word swaps and the
 * adaptive one the swap search of detect/adaptive-swaps.ts. Image and audio setups have no `modality`.
 */
export interface TextDetectSetup {
  modality: 'text';
  threat: { kind: 'word swaps'; swaps: number; fraction: number | null; candidates: string; beam: number };
  adaptive: { lambdas: number[]; probe: number; eotSamples: number; seed: number } | null;
}

export interface DetectEvalData {
  file: string;
  schema: string;
  /** What was attacked: images (and audio clips), or messages by real word swaps (then `swaps` is k). */
  modality: 'images' | 'text';
  swaps: number | null;
  rows: DetectionRow[];
  /** Each model measured: its label, its path as given, and the sha256 of its weights when recorded. */
  models: Array<{ label: string | null; model: string; weightsHash: string | null }>;
}

const metric = (v: unknown): number => (typeof v === 'number' && Number.isFinite(v) ? v : NaN);

function metricsOf(v: unknown): DetectionMetrics | null {
  if (!isObj(v)) return null;
  return {
    attackSuccessRate: metric(v['attackSuccessRate']), rocAuc: metric(v['rocAuc']), tprAt1: metric(v['tprAt1']), tprAt5: metric(v['tprAt5']),
    robustOrDetectedAccuracy: metric(v['robustOrDetectedAccuracy']),
  };
}

/** A detect-eval.json's side-by-side rows and models; a file of another kind is a UserError naming it. */
export function parseDetectEval(j: Obj, file: string): DetectEvalData {
  const schema = str(j['schema']);
  if ((schema !== DETECT_EVAL_SCHEMA && schema !== DETECT_EVAL_SCHEMA_V1) || !Array.isArray(j['sideBySide'])) {
    throw new UserError(`${file}: not an 'alp detect eval' result (expected schema '${DETECT_EVAL_SCHEMA}' or '${DETECT_EVAL_SCHEMA_V1}' with a sideBySide list)`);
  }
  const rows: DetectionRow[] = [];
  for (const r of arr(j['sideBySide'])) {
    if (!isObj(r)) continue;
    const nonAdaptive = metricsOf(r['nonAdaptive']);
    if (nonAdaptive === null) continue;
    rows.push({
      model: String(r['model'] ?? ''), detector: String(r['detector'] ?? ''), strongestNonAdaptive: String(r['strongestNonAdaptive'] ?? ''),
      nonAdaptive, adaptive: metricsOf(r['adaptive']),
    });
  }
  const models: DetectEvalData['models'] = [];
  for (const m of arr(j['models'])) {
    if (!isObj(m)) continue;
    const model = str(m['model']);
    if (model !== null) models.push({ label: str(m['label']), model, weightsHash: str(m['weightsHash']) });
  }
  const setup = isObj(j['setup']) ? j['setup'] : {};
  const text = setup['modality'] === 'text';
  const threat = isObj(setup['threat']) ? setup['threat'] : {};
  const k = threat['swaps'];
  return { file, schema, rows, models, modality: text ? 'text' : 'images', swaps: text && typeof k === 'number' ? k : null };
}
