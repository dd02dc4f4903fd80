/**
 * The eval job: the attack suite (and the ε sweep, and word swaps on a text model) over all the test
 * examples or one shard of them, in this thread or in worker replicas. It guards the output before the
 * work, writes eval.json with its version header and shard record, and returns the artifact.
 */
import { dirname, join } from 'node:path';
import { validateThreatModel } from '../attack/threat-model.js';
import { evaluateWordSwaps, type CandidateSet, type SwapEval, type WordAttack, type WordModel } from '../attack/text/index.js';
import { evalArtifact, writeEvalArtifact, type EvalArtifact } from '../artifacts/eval.js';
import { defaultResultPath, evalIdentity, guardResultFile } from '../artifacts/outputs.js';
import { runHash, shardName, shardRange, shardRecord } from '../artifacts/shard.js';
import type { Vocabulary } from '../data/text.js';
import { evalPart, summarizeEval, summarizeSweep, sweepPart, type EvalPart, type SweepConfig, type SweepPart, type SweepPoint } from '../eval/evaluate.js';
import { replacementLines } from '../eval/few-classes.js';
import { buildSuite, survivorsMask, type SuiteSpec } from '../eval/suite.js';
import { modelFingerprint } from '../model/fingerprint.js';
import { checkpointInterrupt } from '../util/interrupt.js';
import { evalPartParallel } from './evaluate-parallel.js';
import type { ModelRowsSpec } from './spec.js';
import { emptyShardWarning, phaseBars, type JobBar, type JobLog } from './log.js';

/** A text model's word-level view: its token ids and labels, vocabulary and candidate words. */
export interface WordSwapInputs {
  model: WordModel;
  vocab: Vocabulary;
  ids: Int32Array;
  labels: Int32Array;
  candidates: CandidateSet;
  /** At most this share of a message's words swapped. */
  fraction?: number;
}

/** Word swaps on a text model's token ids (`alp eval --swaps`). */
export interface EvalWordSwaps extends WordSwapInputs {
  ks: number[];
  attacks: WordAttack[];
}

/** A checked eval: the model and its test examples, the suite, where the rows run and where it is written; a signal writes nothing. */
export interface EvalJobSpec extends ModelRowsSpec {
  suite: SuiteSpec;
  /** ε values of the sweep (PGD CE + CW at each), or none. */
  epsSweep?: number[];
  words?: EvalWordSwaps;
  /** eval.json's path (default: beside the model; a shard's eval.shard-K-of-N.json). */
  out?: string;
}

/** eval.json's path for `spec`. */
export function evalOutPath(s: Pick<EvalJobSpec, 'modelPath' | 'shard' | 'out'>): string {
  if (s.out !== undefined) return s.out;
  const base = defaultResultPath(s.modelPath, 'eval');
  return s.shard !== undefined ? join(dirname(base), shardName('eval', s.shard, '.json')) : base;
}

/** Runs the eval and writes eval.json (to evalOutPath(spec)); the result is the artifact written. */
export async function runEvalJob(s: EvalJobSpec, log: JobLog): Promise<EvalArtifact> {
  const { ds, model, threat, shard, data, suite: spec } = s;
  const outPath = evalOutPath(s);
  const sweepEps = s.epsSweep;
  // Before the work: an hour of attacks should not end in a refusal to write.
  guardResultFile(outPath, 'eval', evalIdentity({ weightsHash: s.weightsHash, dataset: ds.name, data, threat, suite: spec, result: { examples: ds.count }, epsSweep: sweepEps ?? null, ...(shard !== undefined ? { shard: { ...shard, examples: ds.count } } : {}) }), { force: s.force === true });
  const t0 = Date.now();
  log.say(`alp eval: ${s.modelPath} on ${ds.count} ${ds.name} test examples, ${threat.norm} ε=${threat.eps}, backend ${s.backend}`);
  for (const l of replacementLines(spec.replaced ?? [])) log.say(`${ds.numClasses} classes: ${l}`);
  const bars = phaseBars(log);
  const onProgress = (e: { attack: string; done: number; total: number; robustSoFar: number }): void => bars.show(e.attack, e.total).update(e.done, `still robust ${e.robustSoFar}/${e.done}`);
  const range = shard !== undefined ? shardRange(ds.count, shard) : [0, ds.count] as [number, number];
  const empty = emptyShardWarning(shard, range, ds.count);
  if (empty !== null) log.warn(empty);
  if (shard !== undefined && empty === null) log.say(`shard ${shard.index}/${shard.count}: examples ${range[0]}–${range[1] - 1} of ${ds.count}`);
  const inputSize = ds.shape[0] * ds.shape[1] * ds.shape[2];
  for (const e of sweepEps ?? []) validateThreatModel({ norm: threat.norm, eps: e }, inputSize, '--eps-sweep');
  const sweepConfig: SweepConfig | undefined = sweepEps !== undefined
    ? { norm: threat.norm, ...(threat.bounds !== undefined ? { bounds: threat.bounds } : {}), epsilons: sweepEps, steps: spec.steps, restarts: 1, losses: ['ce', 'cw'], seed: spec.seed }
    : undefined;
  const { batchSize, workers, signal } = s;
  let part: EvalPart;
  let sweepRows: SweepPart | null = null;
  if (workers > 1) {
    // Each worker evaluates slices of the examples (suite and sweep) on its own replica of the model.
    log.say(`${workers} workers${sweepEps !== undefined ? `; ε sweep ${sweepEps.join(', ')} with each slice` : ''}`);
    const bar: JobBar = log.bar(`suite (${workers} workers)`.padEnd(22), range[1] - range[0]);
    const r = await evalPartParallel(model, ds, spec, range, {
      workers, batchSize, ...(signal !== undefined ? { signal } : {}), ...(sweepConfig !== undefined ? { sweep: sweepConfig } : {}),
      onProgress: (e) => bar.update(e.done, `still robust ${e.robust}/${e.done}`),
    });
    part = r.part;
    sweepRows = r.sweep;
    bar.done();
  } else {
    part = await evalPart(model, ds, buildSuite(spec), range, { batchSize, onProgress, onSurvivors: survivorsMask(spec), ...(signal !== undefined ? { signal } : {}) });
    bars.end();
    if (sweepConfig !== undefined) {
      log.say(`ε sweep: ${sweepConfig.epsilons.join(', ')}`);
      sweepRows = await sweepPart(model, ds, sweepConfig, range, { batchSize, ...(signal !== undefined ? { signal } : {}) });
    }
  }
  const result = summarizeEval([part]);
  const sweep: SweepPoint[] | null = sweepRows !== null ? summarizeSweep([sweepRows]) : null;
  const wordSwaps = s.words !== undefined ? await wordSwapPhase(s.words, log, signal) : null;
  // A signal after the last safe point (during the last batch's verification) still stops the run before writing.
  await checkpointInterrupt(signal);
  const report = evalArtifact({
    model: s.modelPath, weightsHash: s.weightsHash, dataset: ds.name, ...(ds.classNames !== undefined ? { classNames: [...ds.classNames] } : {}), data, threat, suite: spec, result, epsSweep: sweep,
    seconds: (Date.now() - t0) / 1000, versions: s.versions, warnings: s.warnings,
    ...(wordSwaps !== null ? { wordSwaps } : {}),
    ...(shard !== undefined ? {
      shard: {
        ...shardRecord(shard, ds.count, runHash({ command: 'eval', model: modelFingerprint(model), dataset: ds.name, data: data.digest, examples: ds.count, shape: ds.shape, suite: spec, sweep: sweepEps ?? null }), data),
        eval: part, sweep: sweepRows,
      },
    } : {}),
  });
  writeEvalArtifact(outPath, report);
  return report;
}

async function wordSwapPhase(w: EvalWordSwaps, log: JobLog, signal: AbortSignal | undefined): Promise<SwapEval> {
  log.say(`word swaps: k = ${w.ks.join(', ')}, ${w.attacks.map((a) => a.name).join(' + ')}, ${w.candidates.kind} candidates${w.fraction !== undefined ? `, at most ${w.fraction} of the words` : ''}`);
  const bars = phaseBars(log);
  // Stops before the next message on Ctrl-C/SIGTERM (InterruptedError: nothing is written).
  const r = await evaluateWordSwaps(w.model, w.ids, w.labels, {
    ks: w.ks, attacks: w.attacks, candidates: w.candidates, ...(w.fraction !== undefined ? { fraction: w.fraction } : {}), ...(signal !== undefined ? { signal } : {}),
    onProgress: (e) => bars.show(`${e.attack} k=${e.k}`, e.total).update(e.done),
  });
  bars.end();
  return r;
}
