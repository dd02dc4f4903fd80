import { DEMO_SPEC } from '../specs/demo.js';
import { TRAIN_SPEC } from '../specs/train.js';
import { buildSuite, DEFAULT_EVAL_ATTACKS, DEFAULT_SURVIVORS, survivorsMask, type SuiteSpec } from '../../eval/suite.js';
import { UserError } from '../../util/errors.js';
import { fitSuiteToClasses, replacementLines } from '../../eval/few-classes.js';
import { resolveConfig, type ConfigOverrides, type TrainConfig } from '../../train/config.js';
import { runDemoJob } from '../../jobs/demo.js';
import { parseCommand, get, type Parsed } from '../args.js';
import { emit, initBackend, isQuiet, jobLog, loadEvalData, pct, table, versions } from '../common.js';
import { checkWorkers, defaultWorkers } from '../../parallel/pool.js';

export { DEMO_SPEC };

/** `alp demo ARGS` (cli/main.ts parses them itself before loading this module, then calls runDemoCommand). */
export async function demoCommand(argv: string[]): Promise<void> {
  const p = parseCommand(argv, DEMO_SPEC);
  if (p !== undefined) await runDemoCommand(p, argv);
}

/** `alp demo` on arguments parsed and checked against DEMO_SPEC. */
export async function runDemoCommand(p: Parsed, argv: string[]): Promise<void> {
  const quiet = isQuiet(p);
  const workers = checkWorkers(get.num(p, 'workers') ?? defaultWorkers(), '--workers');
  const t0 = Date.now();
  const backend = await initBackend(p);
  const out = get.str(p, 'out') as string;
  const seed = get.num(p, 'seed') as number;
  const dataDir = get.str(p, 'data-dir');
  const overrides: ConfigOverrides = { seed, dataset: 'mnist', epochs: get.num(p, 'epochs'), trainSize: get.num(p, 'train-size') };
  const runs: Array<{ name: string; config: TrainConfig }> = [
    { name: 'standard', config: resolveConfig('quick', { ...overrides, method: 'standard', epochs: get.num(p, 'epochs') ?? 1 }) },
    { name: 'alp', config: resolveConfig('quick', { ...overrides, method: 'alp' }) },
  ];
  const n = get.num(p, 'n') as number;
  const test = await loadEvalData({ ...p, data: 'mnist' }, n);
  const threat = { norm: 'linf' as const, eps: 0.3 };
  const queries = get.num(p, 'eval-queries') as number;
  if (queries < 1) throw new UserError(`--eval-queries: expected an integer ≥ 1, got ${queries}`);
  const quickN = Math.min(get.num(p, 'quick-n') as number, test.count);
  if (quickN < 0) throw new UserError(`--quick-n: expected an integer ≥ 0, got ${quickN}`);
  // alp eval's default suite, with one restart of each gradient attack, fitted to the data's classes as alp eval fits it.
  const fitted = fitSuiteToClasses(DEFAULT_EVAL_ATTACKS, test.numClasses, DEFAULT_SURVIVORS);
  const suiteSpec: SuiteSpec = {
    threat, attacks: fitted.attacks, steps: get.num(p, 'eval-steps') as number, restarts: get.num(p, 'eval-restarts') as number, seed,
    queries, survivors: fitted.survivors, ...(fitted.replaced.length > 0 ? { replaced: fitted.replaced } : {}),
  };
  const replacedText = replacementLines(fitted.replaced).map((l) => `${test.numClasses} classes: ${l}`);
  const onSurvivors = survivorsMask(suiteSpec);
  const suite = buildSuite(suiteSpec);
  const { report, html } = await runDemoJob({
    out, seed, ...(dataDir !== undefined ? { dataDir } : {}), runs, test, threat, suite: suiteSpec, quickN, workers,
    resume: get.bool(p, 'resume'), force: get.bool(p, 'force'), versions: versions(backend), backend, argv,
    trainOptions: TRAIN_SPEC.options.map((o) => o.name), startedAt: t0,
  }, jobLog(quiet));
  const reports = report.models;
  const seconds = report.totalSeconds;
  const header = ['', ...reports.map((r) => r.name)];
  const rows = [header, ['clean accuracy', ...reports.map((r) => pct(r.eval.cleanAccuracy))]];
  for (let i = 0; i < suite.length; i++) rows.push([`robust: ${suite[i]?.name}${onSurvivors[i] === true ? ' (on survivors)' : ''}`, ...reports.map((r) => pct(r.eval.attacks[i]?.robustAccuracy ?? NaN))]);
  rows.push(['robust: worst case', ...reports.map((r) => pct(r.eval.worstCaseAccuracy))]);
  rows.push(['train seconds', ...reports.map((r) => r.trainSeconds.toFixed(0))]);
  rows.push([`train examples/s (${workers} worker${workers === 1 ? '' : 's'})`, ...reports.map((r) => r.trainExamplesPerSec.toFixed(0))]);
  rows.push(['eval seconds', ...reports.map((r) => r.evalSeconds.toFixed(0))]);
  if (quickN > 0) {
    rows.push(['quick audit seconds', ...reports.map((r) => r.quickAudit?.seconds.toFixed(0) ?? '—')]);
    rows.push(['quick audit findings (pass/warn/fail)', ...reports.map((r) => (r.quickAudit === null ? '—' : `${r.quickAudit.findings.pass}/${r.quickAudit.findings.warn}/${r.quickAudit.findings.fail}`))]);
    rows.push(['images through the model: eval + quick audit', ...reports.map((r) => `${r.forwardRows.eval} + ${r.forwardRows.quickAudit}`)]);
  }
  emit(p, report, `\n${table(rows)}\n${replacedText.map((l) => `\n${l}`).join('')}\nMNIST test[0:${test.count}], L∞ ε=0.3. Total ${seconds.toFixed(0)} s. Models in ${out}/{standard,alp}/model.json; numbers in ${out}/report.json; page ${html}.\n` +
    `For the full evaluation (5 restarts per attack): npm run alp -- eval --model ${out}/alp\nFor the audit (APGD, Square, every masking check; the page has the quick version): npm run alp -- audit --model ${out}/alp, then npm run alp -- report ${out}\n` +
    `To attack both models in the browser: npm run alp -- playground ${out}`);
}
