import { DEMO_SPEC } from '../specs/demo.js';
import { prepareOutput } from '../../jobs/train.js';
import { readResultSchema } from '../../artifacts/outputs.js';
import { TRAIN_SPEC } from '../specs/train.js';
import { join } from 'node:path';
import { DEMO_SCHEMA } from '../../artifacts/demo.js';
import { evalArtifact, writeEvalArtifact } from '../../artifacts/eval.js';
import { evaluateRobustness, type EvalResult } from '../../eval/evaluate.js';
import { weightsHash } from '../../model/fingerprint.js';
import { buildSuite, DEFAULT_EVAL_ATTACKS, DEFAULT_SURVIVORS, survivorsMask, type SuiteSpec } from '../../eval/suite.js';
import { UserError } from '../../util/errors.js';
import type * as tf from '@tensorflow/tfjs';
import { logitsOf, type LogitsFn } from '../../model/classifier.js';
import { EvalRecorder, pgdCeOf, QUICK_NOT_RUN, QUICK_SWEEP, quickAudit as runQuickAudit } from '../../eval/quick-audit.js';
import { QUICK_AUDIT_FILE, QUICK_EXAMPLES_FILE, quickAuditArtifact, writeQuickAudit } from '../../artifacts/quick-audit.js';
import { fitSuiteToClasses, replacementLines } from '../../eval/few-classes.js';

import { resolveConfig, type ConfigOverrides, type TrainConfig } from '../../train/config.js';
import { runTraining } from '../../jobs/train.js';
import { writeJsonAtomic } from '../../util/atomic.js';
import { writeReport } from '../../report/report.js';
import { parseCommand, get, type Parsed } from '../args.js';
import { emit, initBackend, isQuiet, loadEvalData, pct, table, versions } from '../common.js';
import { Progress, say } from '../progress.js';
import { checkWorkers, defaultWorkers } from '../../parallel/pool.js';

export { DEMO_SPEC };

interface ModelReport {
  name: string;
  folder: string;
  config: TrainConfig;
  trainSeconds: number;
  /** Training examples per second (clean examples; ALP adds as many adversarial ones). */
  trainExamplesPerSec: number;
  workers: number;
  evalSeconds: number;
  validation: unknown;
  eval: Omit<EvalResult, 'robust'>;
  /** The quick audit beside eval.json (ε curve, masking checks, example images), or null with --quick-n 0. */
  quickAudit: { file: string; seconds: number; findings: Record<'pass' | 'warn' | 'fail', number> } | null;
  /**
   * Images passed through the model (forward passes, each gradient step one), by part of the demo: what
   * the quick audit adds to the evaluation, independent of the machine's load.
   */
  forwardRows: { eval: number; quickAudit: number };
}

/** Fooled and resisted examples shown per model (lowest test indices first). */
const SHOW_FOOLED = 8;
const SHOW_RESISTED = 4;

/** The model's logits, counting the images that go through it. */
function counting(model: tf.LayersModel, count: (rows: number) => void): LogitsFn {
  const f = logitsOf(model);
  return (x) => {
    count(x.shape[0] as number);
    return f(x);
  };
}

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
  say(quiet, `alp demo: MNIST, backend ${backend}; training ${runs.map((r) => r.name).join(' and ')} (${workers} worker${workers === 1 ? '' : 's'}), then ${suite.map((a) => a.name).join(', ')} at ε=0.3 on ${test.count} test images → ${out}`);
  for (const l of replacedText) say(quiet, l);

  // The demo rewrites its own --out; models there that no demo wrote (no demo report.json) are another
  // run's, kept unless --force (the one output rule, docs/outputs-and-resume.md).
  if (!get.bool(p, 'resume') && readResultSchema(join(out, 'report.json'))?.startsWith('alp.demo/') !== true) {
    for (const run of runs) prepareOutput(join(out, run.name), { force: get.bool(p, 'force') });
  }
  const reports: ModelReport[] = [];
  for (const run of runs) {
    const folder = join(out, run.name);
    let bar: Progress | undefined;
    const r = await runTraining(run.config, {
      out: folder, resume: get.bool(p, 'resume'), checkpointEvery: 200, workers,
      ...(dataDir !== undefined ? { dataDir } : {}),
      meta: { versions: versions(backend) },
      onProgress: (e) => {
        bar ??= new Progress(`train ${run.name}`.padEnd(14), e.totalSteps, { quiet });
        const ev = e.lastEval ? ` val ${pct(e.lastEval.cleanAcc)}/${pct(e.lastEval.robustAcc)}` : '';
        bar.update(e.step, `loss ${e.loss.toFixed(3)} ${e.examplesPerSec.toFixed(0)} ex/s${ev}`);
      },
    });
    bar?.done();
    const te = Date.now();
    let ebar: Progress | undefined;
    let current = '';
    const rows = { eval: 0, quickAudit: 0 };
    let part: keyof typeof rows = 'eval';
    const f = counting(r.model, (k) => (rows[part] += k));
    // Keeps, per example, the first attack that fooled it and that image; for the rest PGD-CE's try.
    const recorder = new EvalRecorder(pgdCeOf(suite));
    const ev = await evaluateRobustness(f, test, suite, {
      onSurvivors, onAttackBatch: recorder.onAttackBatch,
      onProgress: (e) => {
        if (e.attack !== current) {
          ebar?.done();
          ebar = new Progress(`eval ${run.name} ${e.attack}`.padEnd(30), e.total, { quiet });
          current = e.attack;
        }
        ebar?.update(e.done, `robust ${e.robustSoFar}/${e.done}`);
      },
    });
    ebar?.done();
    const evalSeconds = (Date.now() - te) / 1000;
    const { robust: _robust, ...evalSummary } = ev;
    void _robust;
    let quickAudit: ModelReport['quickAudit'] = null;
    if (quickN > 0) {
      // The quick audit: an ε curve on the first images, the model-level checks, and the findings the
      // evaluation above supports (eval/quick-audit.ts); the images shown come from the evaluation.
      part = 'quickAudit';
      const cbar = new Progress(`ε curve ${run.name}`.padEnd(30), QUICK_SWEEP.radii.length, { quiet });
      let radius = 0;
      const sweep = { ...QUICK_SWEEP, examples: quickN, seed };
      const q = await runQuickAudit(r.model, f, test, {
        threat, suite, result: ev, recorder, sweep, show: { fooled: SHOW_FOOLED, resisted: SHOW_RESISTED },
        onProgress: (e) => cbar.update(radius, `${e.attack} ${e.done}/${e.total}`),
        onRadius: (eps, acc) => cbar.update(++radius, `ε=${eps}: ${pct(acc)}`),
      });
      cbar.done();
      const findings = q.findings;
      writeQuickAudit(join(folder, QUICK_AUDIT_FILE), join(folder, QUICK_EXAMPLES_FILE), quickAuditArtifact({
        command: 'alp demo', model: folder, weightsHash: weightsHash(join(folder, 'model.json')), dataset: test.name, threat,
        examples: ev.examples, cleanAccuracy: ev.cleanAccuracy, cascade: q.cascade, epsSweep: q.epsSweep, sweep: { ...sweep, monotone: true }, findings,
        notRun: [...QUICK_NOT_RUN], seconds: q.seconds, seed, versions: versions(backend),
      }, q.shown, test.shape));
      const count = { pass: 0, warn: 0, fail: 0 };
      for (const x of findings) count[x.status]++;
      quickAudit = { file: join(folder, QUICK_AUDIT_FILE), seconds: q.seconds, findings: count };
    }
    reports.push({
      name: run.name, folder, config: run.config, trainSeconds: r.state.elapsedMs / 1000,
      trainExamplesPerSec: (r.state.step * run.config.batchSize) / Math.max(r.state.elapsedMs / 1000, 1e-9), workers, evalSeconds,
      validation: r.state.evals[r.state.evals.length - 1] ?? null, eval: evalSummary, quickAudit, forwardRows: rows,
    });
    // The same eval.json `alp eval` writes, so the report reads one shape and can rebuild the command.
    writeEvalArtifact(join(folder, 'eval.json'), evalArtifact({
      model: folder, weightsHash: weightsHash(join(folder, 'model.json')), dataset: test.name, threat, suite: suiteSpec,
      result: ev, epsSweep: null, seconds: evalSeconds, versions: versions(backend),
    }));
  }

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
  const seconds = (Date.now() - t0) / 1000;
  const report = {
    schema: DEMO_SCHEMA, command: 'alp demo', argv, seed, dataset: 'mnist', testExamples: test.count, threat,
    suite: suite.map((a) => a.describe()), ...(fitted.replaced.length > 0 ? { replaced: fitted.replaced } : {}), models: reports, totalSeconds: seconds, versions: versions(backend),
    quickAudit: quickN > 0 ? { examples: quickN, radii: QUICK_SWEEP.radii, steps: QUICK_SWEEP.steps, losses: QUICK_SWEEP.losses, notRun: QUICK_NOT_RUN.map((x) => x.id) } : null,
    note: "The demo runs FGSM, PGD-40 (CE and CW margin) and APGD-T (targeted DLR, 9 classes), each once, then the Square attack on the examples they all left robust; 'alp eval --model DIR' runs 5 restarts of each gradient attack, 'alp audit' adds APGD-CE, longer APGD-T and the masking checks.",
  };
  writeJsonAtomic(join(out, 'report.json'), report);
  // Its own page in its own folder (checked before training).
  const html = await writeReport([out], { out: join(out, 'report.html'), force: true, title: 'alp demo: standard vs ALP on MNIST', trainOptions: new Set(TRAIN_SPEC.options.map((o) => o.name)), ...(dataDir !== undefined ? { dataDir } : {}) });
  emit(p, report, `\n${table(rows)}\n${replacedText.map((l) => `\n${l}`).join('')}\nMNIST test[0:${test.count}], L∞ ε=0.3. Total ${seconds.toFixed(0)} s. Models in ${out}/{standard,alp}/model.json; numbers in ${out}/report.json; page ${html.html}.\n` +
    `For the full evaluation (5 restarts per attack): npm run alp -- eval --model ${out}/alp\nFor the audit (APGD, Square, every masking check; the page has the quick version): npm run alp -- audit --model ${out}/alp, then npm run alp -- report ${out}\n` +
    `To attack both models in the browser: npm run alp -- playground ${out}`);
}
