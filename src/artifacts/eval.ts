/**
 * eval.json: what `alp eval` and `alp demo` write for one model, and how `alp report` reads it back.
 * Version 2 records the schema, the sha256 of the weights measured and the suite spec, so the report
 * can rebuild the exact command for every attack and flag numbers measured on other weights.
 */
import type { SwapEval } from '../attack/text/robustness.js';
import type { ThreatModel } from '../attack/threat-model.js';
import type { EvalPart, EvalResult, SweepPart, SweepPoint as EvalSweepPoint } from '../eval/evaluate.js';
import type { ShardRecord } from './shard.js';
import type { DataRecord } from '../data/digest.js';
import type { SuiteSpec } from '../eval/suite.js';
import { writeJsonAtomic } from '../util/atomic.js';
import { arr, isObj, num, obj, str, sweepOf, runHeaderOf, type Obj, type RunHeader, type SweepPoint } from './fields.js';

export const EVAL_SCHEMA = 'alp.eval/2';

/** What every result file says first: which model, on which examples, under which threat model. */
export interface ResultSubject {
  /** The model path as given on the command line (null for an in-memory model). */
  model: string | null;
  weightsHash: string | null;
  dataset: string;
  /** The name of each class index used below (labels, predictions), when the data names its classes. */
  classNames?: string[];
  /** The examples measured: content digest and source (results of other examples are not replaced or merged). */
  data?: DataRecord;
  threat: ThreatModel;
}

/** eval.json as written. */
export interface EvalArtifact extends ResultSubject {
  schema: typeof EVAL_SCHEMA;
  suite: SuiteSpec;
  result: Omit<EvalResult, 'robust'> & { robust?: number[] };
  epsSweep: EvalSweepPoint[] | null;
  seconds: number | null;
  versions: Record<string, string>;
  /** Warnings about the model, e.g. layers whose gradients alp has not verified (model/gradient-support.ts). */
  warnings?: string[];
  /** Text models: robust accuracy under real word swaps per budget k (`alp eval --swaps`). */
  wordSwaps?: SwapEval;
  /** `alp eval --shard K/N`: which slice this is and its per-example results, for `alp merge`. */
  shard?: EvalShard;
}

/** A shard's bookkeeping: its slice, the run it belongs to, and the mergeable per-example results. */
export interface EvalShard extends ShardRecord {
  eval: EvalPart;
  sweep: SweepPart | null;
}

export function evalArtifact(a: Omit<EvalArtifact, 'schema'>): EvalArtifact {
  return { schema: EVAL_SCHEMA, ...a };
}

export function writeEvalArtifact(path: string, a: EvalArtifact): void {
  writeJsonAtomic(path, a);
}

export interface AttackRecord {
  name: string;
  config: Obj | null;
  robustAccuracy: number | null;
  successRate: number | null;
  maxPerturbation: number | null;
  seconds: number | null;
}

export interface EvalData extends RunHeader {
  file: string;
  examples: number | null;
  cleanAccuracy: number | null;
  attacks: AttackRecord[];
  worstCaseAccuracy: number | null;
  epsSweep: SweepPoint[];
  /** The suite as built, when recorded: rebuilds the exact `alp eval` command for every attack. */
  suite: SuiteRecord | null;
  /** Text models: robust accuracy under real word swaps, per k and attack (`alp eval --swaps`). */
  wordSwaps: Array<{ k: number; attack: string; robustAccuracy: number }>;
}

/** Per-k robust accuracies of a word-swap result (eval.json's or audit.json's `wordSwaps`), malformed entries skipped. */
export function wordSwapPoints(v: unknown): EvalData['wordSwaps'] {
  if (!isObj(v)) return [];
  const out: EvalData['wordSwaps'] = [];
  for (const p of arr(v['points'])) {
    if (!isObj(p)) continue;
    const k = num(p['k']);
    if (k === null) continue;
    for (const a of arr(p['attacks'])) {
      if (!isObj(a)) continue;
      const name = str(a['name']), acc = num(a['robustAccuracy']);
      if (name !== null && acc !== null) out.push({ k, attack: name, robustAccuracy: acc });
    }
    const worst = num(p['worstCaseAccuracy']);
    if (worst !== null) out.push({ k, attack: 'worst case', robustAccuracy: worst });
  }
  return out;
}

/** The `alp eval` options a suite was built from. */
export interface SuiteRecord {
  attacks: string[];
  steps: number;
  restarts: number;
  seed: number;
  stepSize: number | null;
  queries: number | null;
  /** Attacks run on the survivors of the ones before them (empty: every attack on every correct example). */
  survivors: string[];
}

function suiteRecordOf(v: unknown): SuiteRecord | null {
  if (!isObj(v)) return null;
  const attacks = arr(v['attacks']).map(str);
  const steps = num(v['steps']);
  const restarts = num(v['restarts']);
  const seed = num(v['seed']);
  if (attacks.length === 0 || attacks.some((a) => a === null) || steps === null || restarts === null || seed === null) return null;
  const survivors = arr(v['survivors']).map(str).filter((a): a is string => a !== null);
  return { attacks: attacks as string[], steps, restarts, seed, stepSize: num(v['stepSize']), queries: num(v['queries']), survivors };
}

/** An eval result (`result` of eval.json, or `eval` of a demo model). */
export function evalResultOf(r: Obj, file: string, outer: Obj = {}): EvalData {
  const attacks: AttackRecord[] = [];
  for (const a of arr(r['attacks'])) {
    if (!isObj(a)) continue;
    const name = str(a['name']);
    if (name === null) continue;
    attacks.push({
      // Ran on the survivors of the attacks before it: its number is theirs and its own together, not it alone.
      name: a['onSurvivors'] === true ? `${name} (on survivors)` : name, config: obj(a['config']), robustAccuracy: num(a['robustAccuracy']), successRate: num(a['successRate']),
      maxPerturbation: num(a['maxPerturbation']), seconds: num(a['seconds']),
    });
  }
  return {
    file,
    ...runHeaderOf(outer),
    examples: num(r['examples']),
    cleanAccuracy: num(r['cleanAccuracy']),
    attacks,
    worstCaseAccuracy: num(r['worstCaseAccuracy']),
    epsSweep: sweepOf(outer['epsSweep']),
    suite: suiteRecordOf(outer['suite']),
    wordSwaps: wordSwapPoints(outer['wordSwaps']),
  };
}

export function parseEval(j: Obj, file: string): EvalData {
  // eval.json keeps the numbers under `result`; accept them at the top level too.
  const r = obj(j['result']) ?? j;
  return evalResultOf(r, file, j);
}
