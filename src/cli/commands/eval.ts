import { EVAL_SPEC } from '../specs/eval.js';
import { refuseGiven } from '../inapplicable.js';
import { WORD_SWAP_OPTIONS } from '../options.js';
import { dirname, join } from 'node:path';
import { validateThreatModel } from '../../attack/threat-model.js';
import { evalArtifact, writeEvalArtifact } from '../../artifacts/eval.js';
import { defaultResultPath, evalIdentity } from '../../artifacts/outputs.js';
import { checkpointInterrupt, onInterrupt } from '../../util/interrupt.js';
import { evalPart, summarizeEval, summarizeSweep, sweepPart, type EvalPart, type SweepConfig, type SweepPart, type SweepPoint } from '../../eval/evaluate.js';
import { evalPartParallel } from '../../jobs/evaluate-parallel.js';
import { modelFingerprint, weightsHash } from '../../model/fingerprint.js';
import { parseShard, runHash, shardName, shardRange, shardRecord } from '../../artifacts/shard.js';
import { modelJsonPath } from '../../model/io.js';
import { buildSuite, DEFAULT_EVAL_ATTACKS, DEFAULT_SURVIVORS, survivorsMask, type AttackName, type SuiteSpec } from '../../eval/suite.js';
import { fitSuiteToClasses, refuseUnfit, replacementLines } from '../../eval/few-classes.js';
import { parseCommand, get, type Parsed } from '../args.js';
import { workersFor, emit, emptyShard, guardOutput, openModelJob, pct, table, versions } from '../common.js';
import { Progress, say } from '../progress.js';
import { evaluateWordSwaps, type SwapEval } from '../../attack/text/index.js';
import { UserError } from '../../util/errors.js';
import { wordAttacksOf, wordSwapSetup } from '../word-swaps.js';

export { EVAL_SPEC };

/** `alp eval ARGS` (cli/main.ts parses them itself before loading this module, then calls runEvalCommand). */
export async function evalCommand(argv: string[]): Promise<void> {
  const p = parseCommand(argv, EVAL_SPEC);
  if (p !== undefined) await runEvalCommand(p, argv);
}

/** `alp eval` on arguments parsed and checked against EVAL_SPEC. */
export async function runEvalCommand(p: Parsed, argv: string[]): Promise<void> {
  const ks = get.nums(p, 'swaps');
  const shardText = get.str(p, 'shard');
  const shard = shardText !== undefined ? parseShard(shardText) : undefined;
  const job = await openModelJob(p, 'eval');
  const { modelPath, quiet, backend, ds, model, threat, warnings, data } = job;
  // Word-swap settings mean something only with --swaps (which needs a text model).
  if (ks === undefined) refuseGiven(argv, ['word-attacks', ...WORD_SWAP_OPTIONS.map((o) => o.name)], 'an option of the word-swap evaluation; add --swaps K,K,... (text models) or leave it out');
  // Set up (and check) the word-level attacks before the long embedding suite runs.
  const words = ks !== undefined ? wordSwapSetup(p, job, 'swaps') : null;
  const wordAttacks = ks !== undefined ? wordAttacksOf(p, get.strs(p, 'word-attacks') ?? []) : [];
  const inputSize = ds.shape[0] * ds.shape[1] * ds.shape[2];
  const stepSize = get.num(p, 'step-size');
  const named = get.strs(p, 'attacks') as AttackName[] | undefined;
  // A suite the user named runs as named or not at all; the default one is fitted to the class count.
  if (named !== undefined) refuseUnfit(named, ds.numClasses, '--attacks');
  const fitted = fitSuiteToClasses(named ?? DEFAULT_EVAL_ATTACKS, ds.numClasses);
  const attacks = fitted.attacks;
  const queries = get.num(p, 'queries') as number;
  if (queries < 1) throw new UserError(`--queries: expected an integer ≥ 1, got ${queries}`);
  const given = get.strs(p, 'survivors');
  const survivors = given === undefined ? DEFAULT_SURVIVORS.filter((a) => attacks.includes(a)) : given.filter((a) => a !== 'none');
  const spec: SuiteSpec = {
    threat, attacks, steps: get.num(p, 'steps') as number,
    restarts: get.num(p, 'restarts') as number, seed: get.num(p, 'seed') as number,
    ...(stepSize !== undefined ? { stepSize } : {}),
    ...(attacks.includes('square') ? { queries } : {}), ...(survivors.length > 0 ? { survivors } : {}),
    ...(fitted.replaced.length > 0 ? { replaced: fitted.replaced } : {}),
  };
  const replacedText = replacementLines(fitted.replaced).map((l) => `${ds.numClasses} classes: ${l}`);
  const onSurvivors = survivorsMask(spec);
  const suite = buildSuite(spec);
  const sweepEps = get.nums(p, 'eps-sweep');
  const outPath = get.str(p, 'out') ?? (shard !== undefined ? join(dirname(defaultResultPath(modelPath, 'eval')), shardName('eval', shard, '.json')) : defaultResultPath(modelPath, 'eval'));
  const hash = weightsHash(modelJsonPath(modelPath));
  // Before the work: an hour of attacks should not end in a refusal to write.
  guardOutput(outPath, 'eval', evalIdentity({ weightsHash: hash, dataset: ds.name, data, threat, suite: spec, result: { examples: ds.count }, epsSweep: sweepEps ?? null, ...(shard !== undefined ? { shard: { ...shard, examples: ds.count } } : {}) }), p);
  // Ctrl-C/SIGTERM stop after the current batch (InterruptedError, exit 130/143); the handlers go with the process.
  const interrupt = onInterrupt('eval', 'this batch; nothing is written (an interrupted eval does not resume)');
  const t0 = Date.now();
  say(quiet, `alp eval: ${modelPath} on ${ds.count} ${ds.name} test examples, ${threat.norm} ε=${threat.eps}, backend ${backend}`);
  for (const l of replacedText) say(quiet, l);
  let bar: Progress | undefined;
  let current = '';
  const onProgress = (e: { attack: string; done: number; total: number; robustSoFar: number }): void => {
    if (e.attack !== current) {
      bar?.done();
      bar = new Progress(e.attack.padEnd(22), e.total, { quiet });
      current = e.attack;
    }
    bar?.update(e.done, `still robust ${e.robustSoFar}/${e.done}`);
  };
  const batchSize = get.num(p, 'batch-size') as number;
  const range = shard !== undefined ? shardRange(ds.count, shard) : [0, ds.count] as [number, number];
  const empty = emptyShard(shard, range, ds.count);
  if (shard !== undefined && !empty) say(quiet, `shard ${shard.index}/${shard.count}: examples ${range[0]}–${range[1] - 1} of ${ds.count}`);
  for (const e of sweepEps ?? []) validateThreatModel({ norm: threat.norm, eps: e }, inputSize, '--eps-sweep');
  const sweepConfig: SweepConfig | undefined = sweepEps !== undefined
    ? { norm: threat.norm, ...(threat.bounds !== undefined ? { bounds: threat.bounds } : {}), epsilons: sweepEps, steps: spec.steps, restarts: 1, losses: ['ce', 'cw'], seed: spec.seed }
    : undefined;
  const workers = workersFor(p, range[1] - range[0]);
  let part: EvalPart;
  let sweepRows: SweepPart | null = null;
  if (workers > 1) {
    // Each worker evaluates slices of the examples (suite and sweep) on its own replica of the model.
    say(quiet, `${workers} workers${sweepEps !== undefined ? `; ε sweep ${sweepEps.join(', ')} with each slice` : ''}`);
    bar = new Progress(`suite (${workers} workers)`.padEnd(22), range[1] - range[0], { quiet });
    const r = await evalPartParallel(model, ds, spec, range, {
      workers, batchSize, signal: interrupt.signal, ...(sweepConfig !== undefined ? { sweep: sweepConfig } : {}),
      onProgress: (e) => bar?.update(e.done, `still robust ${e.robust}/${e.done}`),
    });
    part = r.part;
    sweepRows = r.sweep;
    bar.done();
  } else {
    part = await evalPart(model, ds, suite, range, { batchSize, onProgress, onSurvivors, signal: interrupt.signal });
    bar?.done();
    if (sweepConfig !== undefined) {
      say(quiet, `ε sweep: ${sweepConfig.epsilons.join(', ')}`);
      sweepRows = await sweepPart(model, ds, sweepConfig, range, { batchSize, signal: interrupt.signal });
    }
  }
  const result = summarizeEval([part]);
  const sweep: SweepPoint[] | null = sweepRows !== null ? summarizeSweep([sweepRows]) : null;
  let wordSwaps: SwapEval | null = null;
  if (words !== null && ks !== undefined) {
    say(quiet, `word swaps: k = ${ks.join(', ')}, ${wordAttacks.map((a) => a.name).join(' + ')}, ${words.candidates.kind} candidates${words.fraction !== undefined ? `, at most ${words.fraction} of the words` : ''}`);
    let wbar: Progress | undefined;
    let wcur = '';
    // Stops before the next message on Ctrl-C/SIGTERM (InterruptedError: nothing is written).
    wordSwaps = await evaluateWordSwaps(words.model, words.ids, words.labels, {
      ks, attacks: wordAttacks, candidates: words.candidates, ...(words.fraction !== undefined ? { fraction: words.fraction } : {}), signal: interrupt.signal,
      onProgress: (e) => {
        const key = `${e.attack} k=${e.k}`;
        if (key !== wcur) { wbar?.done(); wbar = new Progress(key.padEnd(22), e.total, { quiet }); wcur = key; }
        wbar?.update(e.done);
      },
    });
    wbar?.done();
  }
  // A signal after the last safe point (during the last batch's verification) still stops the run before writing.
  await checkpointInterrupt(interrupt.signal);
  const report = evalArtifact({
    model: modelPath, weightsHash: hash, dataset: ds.name, ...(ds.classNames !== undefined ? { classNames: [...ds.classNames] } : {}), data, threat, suite: spec, result, epsSweep: sweep,
    seconds: (Date.now() - t0) / 1000, versions: versions(backend), warnings,
    ...(wordSwaps !== null ? { wordSwaps } : {}),
    ...(shard !== undefined ? {
      shard: {
        ...shardRecord(shard, ds.count, runHash({ command: 'eval', model: modelFingerprint(model), dataset: ds.name, data: data.digest, examples: ds.count, shape: ds.shape, suite: spec, sweep: sweepEps ?? null }), data),
        eval: part, sweep: sweepRows,
      },
    } : {}),
  });
  writeEvalArtifact(outPath, report);
  const rows = [['attack', 'robust acc', 'success rate', 'max ‖δ‖', 'seconds'], ['clean', pct(result.cleanAccuracy), '', '', '']];
  for (const a of result.attacks) rows.push([a.onSurvivors === true ? `${a.name} (on survivors)` : a.name, pct(a.robustAccuracy), pct(a.successRate), a.maxPerturbation.toFixed(4), a.seconds.toFixed(1)]);
  rows.push(['worst case (all attacks)', pct(result.worstCaseAccuracy), '', '', '']);
  let text = empty ? `shard ${shard?.index}/${shard?.count}: no examples, so no accuracy` : table(rows);
  if (sweep !== null) text += '\n\n' + table([['ε', 'robust acc'], ...sweep.map((s) => [String(s.eps), pct(s.robustAccuracy)])]);
  if (wordSwaps !== null) {
    const names = wordSwaps.points[0]?.attacks.map((a) => a.name) ?? [];
    text += `\n\nword swaps (${wordSwaps.candidates} candidates; robust accuracy on the real new messages)\n`;
    text += table([['k', ...names, 'worst case'], ...wordSwaps.points.map((pt) => [String(pt.k), ...pt.attacks.map((a) => pct(a.robustAccuracy)), pct(pt.worstCaseAccuracy)])]);
    for (const f of wordSwaps.findings) text += `\nfinding: ${f}`;
  }
  for (const l of replacedText) text += `\n${l}`;
  text += `\n\nwritten ${outPath}`;
  emit(p, report, text);
}
