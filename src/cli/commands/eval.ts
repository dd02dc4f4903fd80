import { EVAL_SPEC } from '../specs/eval.js';
import { refuseGiven } from '../inapplicable.js';
import { WORD_SWAP_OPTIONS } from '../options.js';
import { onInterrupt } from '../../util/interrupt.js';
import { evalOutPath, runEvalJob } from '../../jobs/eval.js';
import { weightsHash } from '../../model/fingerprint.js';
import { parseShard, shardRange } from '../../artifacts/shard.js';
import { modelJsonPath } from '../../model/io.js';
import { DEFAULT_EVAL_ATTACKS, DEFAULT_SURVIVORS, type AttackName, type SuiteSpec } from '../../eval/suite.js';
import { fitSuiteToClasses, refuseUnfit, replacementLines } from '../../eval/few-classes.js';
import { parseCommand, get, type Parsed } from '../args.js';
import { workersFor, emit, jobLog, openModelJob, pct, table, versions } from '../common.js';
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
  const sweepEps = get.nums(p, 'eps-sweep');
  const range = shard !== undefined ? shardRange(ds.count, shard) : [0, ds.count] as [number, number];
  // Ctrl-C/SIGTERM stop after the current batch (InterruptedError, exit 130/143); the handlers go with the process.
  const interrupt = onInterrupt('eval', 'this batch; nothing is written (an interrupted eval does not resume)');
  const out = get.str(p, 'out');
  const outPath = evalOutPath({ modelPath, ...(shard !== undefined ? { shard } : {}), ...(out !== undefined ? { out } : {}) });
  const report = await runEvalJob({
    modelPath, weightsHash: weightsHash(modelJsonPath(modelPath)), model, ds, data, threat, suite: spec, out: outPath, force: get.bool(p, 'force'),
    ...(sweepEps !== undefined ? { epsSweep: sweepEps } : {}),
    ...(words !== null && ks !== undefined ? { words: { ...words, ks, attacks: wordAttacks } } : {}),
    ...(shard !== undefined ? { shard } : {}),
    batchSize: get.num(p, 'batch-size') as number, workers: workersFor(p, range[1] - range[0]),
    versions: versions(backend), warnings, backend, signal: interrupt.signal,
  }, jobLog(quiet));
  const empty = shard !== undefined && range[1] <= range[0];
  const { result, epsSweep: sweep } = report;
  const wordSwaps = report.wordSwaps ?? null;
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
