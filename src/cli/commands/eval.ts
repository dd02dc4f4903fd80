import { validateThreatModel } from '../../attack/threat-model.js';
import { evalArtifact, writeEvalArtifact } from '../../artifacts/eval.js';
import { defaultResultPath, evalIdentity } from '../../artifacts/outputs.js';
import { checkpointInterrupt, onInterrupt } from '../../util/interrupt.js';
import { evaluateRobustness, epsSweep, type SweepPoint } from '../../eval/evaluate.js';
import { weightsHash } from '../../model/fingerprint.js';
import { modelJsonPath } from '../../model/io.js';
import { ATTACK_NAMES, buildSuite, type AttackName } from '../../eval/suite.js';
import { helpText, parseArgs, get, type CommandSpec } from '../args.js';
import { COMMON_OPTIONS, DATA_OPTIONS, MODEL_INPUT_OPTIONS, emit, guardOutput, openModelJob, pct, table, versions } from '../common.js';
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
    { name: 'attacks', type: 'strings', choices: ATTACK_NAMES, default: ['fgsm', 'pgd-ce', 'pgd-cw', 'apgd-dlr'], help: 'attacks in the suite; the worst case per example is reported (apgd-dlr = APGD-T, targeted DLR over 9 classes)' },
    { name: 'steps', type: 'int', default: 40, help: 'PGD steps' },
    { name: 'restarts', type: 'int', default: 5, help: 'random restarts per attack (APGD-T runs once per target class instead, as in AutoAttack)' },
    { name: 'step-size', type: 'number', help: 'PGD step size (default 2.5·ε/steps)' },
    { name: 'eps-sweep', type: 'numbers', metavar: 'E,E,...', help: 'also report worst-case PGD accuracy at these radii' },
    { name: 'swaps', type: 'numbers', metavar: 'K,K,...', help: 'text models: also robust accuracy under at most K real word swaps per message, for each K' },
    { name: 'word-attacks', type: 'strings', choices: WORD_ATTACK_NAMES, default: ['hotflip', 'greedy-swap'], help: 'text: word-substitution attacks for --swaps (worst case per message)' },
    ...WORD_SWAP_OPTIONS,
    { name: 'batch-size', type: 'int', default: 250, help: 'examples attacked at once' },
    { name: 'seed', type: 'int', default: 0, help: 'seed for random starts' },
    { name: 'out', type: 'string', metavar: 'FILE', help: 'write the JSON result here (default: eval.json beside model.json; NAME.eval.json beside a model file NAME.json)' },
    { name: 'force', type: 'boolean', help: 'replace an output that holds the eval of other weights or settings' },
    ...COMMON_OPTIONS,
  ],
  examples: [
    'alp eval --model runs/demo/alp',
    'alp eval --model runs/demo/alp --eps 0.3 --steps 100 --restarts 10 --attacks pgd-ce,pgd-cw',
    'alp eval --model runs/demo/standard --eps-sweep 0,0.05,0.1,0.2,0.3,0.4 --json',
    'alp eval --model runs/spam-std --norm l2 --eps 0.5 --swaps 1,2,5 --word-attacks hotflip,greedy-swap',
  ],
};

export async function evalCommand(argv: string[]): Promise<void> {
  const p = parseArgs(argv, EVAL_SPEC);
  if (get.bool(p, 'help')) {
    process.stdout.write(helpText(EVAL_SPEC) + '\n');
    return;
  }
  const ks = get.nums(p, 'swaps');
  for (const k of ks ?? []) if (!Number.isInteger(k) || k < 1) throw new UserError(`--swaps: expected integers ≥ 1, found ${k}`);
  const job = await openModelJob(p, 'eval');
  const { modelPath, quiet, backend, ds, model, threat, warnings } = job;
  // Set up (and check) the word-level attacks before the long embedding suite runs.
  const words = ks !== undefined ? wordSwapSetup(p, job, 'swaps') : null;
  const wordAttacks = ks !== undefined ? wordAttacksOf(p, get.strs(p, 'word-attacks') ?? []) : [];
  const inputSize = ds.shape[0] * ds.shape[1] * ds.shape[2];
  const stepSize = get.num(p, 'step-size');
  const spec = {
    threat, attacks: (get.strs(p, 'attacks') ?? []) as AttackName[], steps: get.num(p, 'steps') as number,
    restarts: get.num(p, 'restarts') as number, seed: get.num(p, 'seed') as number,
    ...(stepSize !== undefined ? { stepSize } : {}),
  };
  const suite = buildSuite(spec);
  const sweepEps = get.nums(p, 'eps-sweep');
  const outPath = get.str(p, 'out') ?? defaultResultPath(modelPath, 'eval');
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
  const result = await evaluateRobustness(model, ds, suite, { batchSize, onProgress, signal: interrupt.signal });
  bar?.done();
  let sweep: SweepPoint[] | null = null;
  if (sweepEps !== undefined) {
    for (const e of sweepEps) validateThreatModel({ norm: threat.norm, eps: e }, inputSize, 'epsSweep');
    say(quiet, `ε sweep: ${sweepEps.join(', ')}`);
    sweep = await epsSweep(model, ds, { norm: threat.norm, ...(threat.bounds !== undefined ? { bounds: threat.bounds } : {}), epsilons: sweepEps, steps: spec.steps, restarts: 1, losses: ['ce', 'cw'], seed: spec.seed }, { batchSize, signal: interrupt.signal });
  }
  let wordSwaps: SwapEval | null = null;
  if (words !== null && ks !== undefined) {
    say(quiet, `word swaps: k = ${ks.join(', ')}, ${wordAttacks.map((a) => a.name).join(' + ')}, ${words.candidates.kind} candidates${words.fraction !== undefined ? `, at most ${words.fraction} of the words` : ''}`);
    let wbar: Progress | undefined;
    let wcur = '';
    wordSwaps = evaluateWordSwaps(words.model, words.ids, words.labels, {
      ks, attacks: wordAttacks, candidates: words.candidates, ...(words.fraction !== undefined ? { fraction: words.fraction } : {}),
      onProgress: (e) => {
        const key = `${e.attack} k=${e.k}`;
        if (key !== wcur) { wbar?.done(); wbar = new Progress(key.padEnd(22), e.total, { quiet }); wcur = key; }
        wbar?.update(e.done);
      },
    });
    wbar?.done();
  }
  // Word swaps do not stop on a signal; one that came during them stops the run here, before writing.
  await checkpointInterrupt(interrupt.signal);
  const report = evalArtifact({
    model: modelPath, weightsHash: hash, dataset: ds.name, threat, suite: spec, result, epsSweep: sweep,
    seconds: (Date.now() - t0) / 1000, versions: versions(backend), warnings,
    ...(wordSwaps !== null ? { wordSwaps } : {}),
  });
  writeEvalArtifact(outPath, report);
  const rows = [['attack', 'robust acc', 'success rate', 'max ‖δ‖', 'seconds'], ['clean', pct(result.cleanAccuracy), '', '', '']];
  for (const a of result.attacks) rows.push([a.name, pct(a.robustAccuracy), pct(a.successRate), a.maxPerturbation.toFixed(4), a.seconds.toFixed(1)]);
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
