import { dirname, join } from 'node:path';
import { validateThreatModel } from '../../attack/threat-model.js';
import { evalArtifact, writeEvalArtifact } from '../../artifacts/eval.js';
import { defaultResultPath, evalIdentity } from '../../artifacts/outputs.js';
import { checkpointInterrupt, onInterrupt } from '../../util/interrupt.js';
import { evalPart, summarizeEval, summarizeSweep, sweepPart, type EvalPart, type SweepConfig, type SweepPart, type SweepPoint } from '../../eval/evaluate.js';
import { evalPartParallel } from '../../parallel/evaluate-parallel.js';
import { modelFingerprint, weightsHash } from '../../model/fingerprint.js';
import { parseShard, runHash, shardName, shardRange, shardRecord } from '../../parallel/shard.js';
import { modelJsonPath } from '../../model/io.js';
import { ATTACK_NAMES, buildSuite, DEFAULT_EVAL_ATTACKS, DEFAULT_EVAL_QUERIES, DEFAULT_SURVIVORS, survivorsMask, type AttackName, type SuiteSpec } from '../../eval/suite.js';
import { helpText, parseArgs, get, type CommandSpec } from '../args.js';
import { COMMON_OPTIONS, DATA_OPTIONS, MODEL_INPUT_OPTIONS, SHARD_OPTION, WORKERS_OPTION, workersFor, emit, guardOutput, openModelJob, pct, table, versions } from '../common.js';
import { Progress, say } from '../progress.js';
import { evaluateWordSwaps, WORD_ATTACK_NAMES, type SwapEval } from '../../attack/text/index.js';
import { UserError } from '../../util/errors.js';
import { WORD_SWAP_OPTIONS, wordAttacksOf, wordSwapSetup } from '../word-swaps.js';

export const EVAL_SPEC: CommandSpec = {
  name: 'eval',
  summary: 'measure clean and robust accuracy of a model under a suite of attacks',
  usage: 'alp eval --model DIR|model.json [options]',
  options: [
    { name: 'model', type: 'string', metavar: 'PATH', help: 'model folder or model.json (TF.js layers format, outputs logits)' },
    ...DATA_OPTIONS,
    ...MODEL_INPUT_OPTIONS,
    { name: 'n', type: 'int', default: 1000, help: 'evaluate on the first N test examples' },
    { name: 'norm', type: 'string', choices: ['linf', 'l2'], default: 'linf', help: 'threat model norm' },
    { name: 'eps', type: 'number', default: 0.3, help: 'perturbation radius' },
    { name: 'attacks', type: 'strings', choices: ATTACK_NAMES, default: [...DEFAULT_EVAL_ATTACKS], help: 'attacks in the suite; the worst case per example is reported (apgd-dlr = APGD-T, targeted DLR over 9 classes; square = the gradient-free Square attack)' },
    { name: 'survivors', type: 'strings', choices: [...ATTACK_NAMES, 'none'], metavar: 'A,A,...|none', help: 'attacks that run only on the examples the attacks before them left robust (default: square, when in the suite)' },
    { name: 'queries', type: 'int', default: DEFAULT_EVAL_QUERIES, help: 'Square attack query budget (it runs once)' },
    { name: 'steps', type: 'int', default: 40, help: 'PGD steps' },
    { name: 'restarts', type: 'int', default: 5, help: 'random restarts per attack (APGD-T runs once per target class instead, as in AutoAttack)' },
    { name: 'step-size', type: 'number', help: 'PGD step size (default 2.5·ε/steps)' },
    { name: 'eps-sweep', type: 'numbers', metavar: 'E,E,...', help: 'also report worst-case PGD accuracy at these radii' },
    { name: 'swaps', type: 'numbers', metavar: 'K,K,...', help: 'text models: also robust accuracy under at most K real word swaps per message, for each K' },
    { name: 'word-attacks', type: 'strings', choices: WORD_ATTACK_NAMES, default: ['hotflip', 'greedy-swap'], help: 'text: word-substitution attacks for --swaps (worst case per message)' },
    ...WORD_SWAP_OPTIONS,
    { name: 'batch-size', type: 'int', default: 250, help: 'examples attacked at once' },
    { name: 'seed', type: 'int', default: 0, help: 'seed for random starts' },
    { name: 'out', type: 'string', metavar: 'FILE', help: 'write the JSON result here (default: eval.json beside model.json, NAME.eval.json beside a model file NAME.json; eval.shard-K-of-N.json with --shard)' },
    SHARD_OPTION,
    WORKERS_OPTION,
    { name: 'force', type: 'boolean', help: 'replace an output that holds the eval of other weights or settings' },
    ...COMMON_OPTIONS,
  ],
  examples: [
    'alp eval --model runs/demo/alp',
    'alp eval --model runs/demo/alp --eps 0.3 --steps 100 --restarts 10 --attacks pgd-ce,pgd-cw',
    'alp eval --model runs/demo/standard --eps-sweep 0,0.05,0.1,0.2,0.3,0.4 --json',
    'alp eval --model runs/spam-std --norm l2 --eps 0.5 --swaps 1,2,5 --word-attacks hotflip,greedy-swap',
    'alp eval --model runs/demo/alp --workers 2   # two threads, each with a replica of the model',
    'alp eval --model runs/demo/alp --shard 2/4 --out shards/eval-2.json   # then: alp merge shards --out eval.json',
  ],
};

export async function evalCommand(argv: string[]): Promise<void> {
  const p = parseArgs(argv, EVAL_SPEC);
  if (get.bool(p, 'help')) {
    process.stdout.write(helpText(EVAL_SPEC) + '\n');
    return;
  }
  const ks = get.nums(p, 'swaps');
  const shardText = get.str(p, 'shard');
  const shard = shardText !== undefined ? parseShard(shardText) : undefined;
  if (shard !== undefined && ks !== undefined) throw new UserError('--shard: not with --swaps (word-swap results cannot be merged yet); run --swaps unsharded');
  for (const k of ks ?? []) if (!Number.isInteger(k) || k < 1) throw new UserError(`--swaps: expected integers ≥ 1, found ${k}`);
  const job = await openModelJob(p, 'eval');
  const { modelPath, quiet, backend, ds, model, threat, warnings } = job;
  // Set up (and check) the word-level attacks before the long embedding suite runs.
  const words = ks !== undefined ? wordSwapSetup(p, job, 'swaps') : null;
  const wordAttacks = ks !== undefined ? wordAttacksOf(p, get.strs(p, 'word-attacks') ?? []) : [];
  const inputSize = ds.shape[0] * ds.shape[1] * ds.shape[2];
  const stepSize = get.num(p, 'step-size');
  const attacks = (get.strs(p, 'attacks') ?? []) as AttackName[];
  const queries = get.num(p, 'queries') as number;
  if (queries < 1) throw new UserError(`--queries: expected an integer ≥ 1, got ${queries}`);
  const given = get.strs(p, 'survivors');
  const survivors = given === undefined ? DEFAULT_SURVIVORS.filter((a) => attacks.includes(a)) : given.filter((a) => a !== 'none');
  const spec: SuiteSpec = {
    threat, attacks, steps: get.num(p, 'steps') as number,
    restarts: get.num(p, 'restarts') as number, seed: get.num(p, 'seed') as number,
    ...(stepSize !== undefined ? { stepSize } : {}),
    ...(attacks.includes('square') ? { queries } : {}), ...(survivors.length > 0 ? { survivors } : {}),
  };
  const onSurvivors = survivorsMask(spec);
  const suite = buildSuite(spec);
  const sweepEps = get.nums(p, 'eps-sweep');
  const outPath = get.str(p, 'out') ?? (shard !== undefined ? join(dirname(defaultResultPath(modelPath, 'eval')), shardName('eval', shard, '.json')) : defaultResultPath(modelPath, 'eval'));
  const hash = weightsHash(modelJsonPath(modelPath));
  // Before the work: an hour of attacks should not end in a refusal to write.
  guardOutput(outPath, 'eval', evalIdentity({ weightsHash: hash, dataset: ds.name, threat, suite: spec, result: { examples: ds.count }, epsSweep: sweepEps ?? null }), p);
  // Ctrl-C/SIGTERM stop after the current batch (InterruptedError, exit 130/143); the handlers go with the process.
  const interrupt = onInterrupt('eval', 'this batch; nothing is written (an interrupted eval does not resume)');
  const t0 = Date.now();
  say(quiet, `alp eval: ${modelPath} on ${ds.count} ${ds.name} test examples, ${threat.norm} ε=${threat.eps}, backend ${backend}`);
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
  if (shard !== undefined) say(quiet, `shard ${shard.index}/${shard.count}: examples ${range[0]}–${range[1] - 1} of ${ds.count}`);
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
    model: modelPath, weightsHash: hash, dataset: ds.name, threat, suite: spec, result, epsSweep: sweep,
    seconds: (Date.now() - t0) / 1000, versions: versions(backend), warnings,
    ...(wordSwaps !== null ? { wordSwaps } : {}),
    ...(shard !== undefined ? {
      shard: {
        ...shardRecord(shard, ds.count, runHash({ command: 'eval', model: modelFingerprint(model), dataset: ds.name, examples: ds.count, shape: ds.shape, suite: spec, sweep: sweepEps ?? null })),
        eval: part, sweep: sweepRows,
      },
    } : {}),
  });
  writeEvalArtifact(outPath, report);
  const rows = [['attack', 'robust acc', 'success rate', 'max ‖δ‖', 'seconds'], ['clean', pct(result.cleanAccuracy), '', '', '']];
  for (const a of result.attacks) rows.push([a.onSurvivors === true ? `${a.name} (on survivors)` : a.name, pct(a.robustAccuracy), pct(a.successRate), a.maxPerturbation.toFixed(4), a.seconds.toFixed(1)]);
  rows.push(['worst case (all attacks)', pct(result.worstCaseAccuracy), '', '', '']);
  let text = table(rows);
  if (sweep !== null) text += '\n\n' + table([['ε', 'robust acc'], ...sweep.map((s) => [String(s.eps), pct(s.robustAccuracy)])]);
  if (wordSwaps !== null) {
    const names = wordSwaps.points[0]?.attacks.map((a) => a.name) ?? [];
    text += `\n\nword swaps (${wordSwaps.candidates} candidates; robust accuracy on the real new messages)\n`;
    text += table([['k', ...names, 'worst case'], ...wordSwaps.points.map((pt) => [String(pt.k), ...pt.attacks.map((a) => pct(a.robustAccuracy)), pct(pt.worstCaseAccuracy)])]);
    for (const f of wordSwaps.findings) text += `\nfinding: ${f}`;
  }
  text += `\n\nwritten ${outPath}`;
  emit(p, report, text);
}
