/**
 * The demo job (`alp demo`): a standard and an ALP model trained on MNIST (resumable from their
 * checkpoints), each evaluated with the suite and quick-audited, their eval.json and quick-audit files,
 * and the demo's report.json and page. No shard: its time is the two trainings (see
 * docs/parallel-and-clusters.md).
 */
import { join } from 'node:path';
import type * as tf from '@tensorflow/tfjs';
import type { ThreatModel } from '../attack/threat-model.js';
import { DEMO_SCHEMA } from '../artifacts/demo.js';
import { evalArtifact, writeEvalArtifact } from '../artifacts/eval.js';
import { readResultSchema } from '../artifacts/outputs.js';
import { QUICK_AUDIT_FILE, QUICK_EXAMPLES_FILE, quickAuditArtifact, writeQuickAudit } from '../artifacts/quick-audit.js';
import type { Dataset } from '../data/dataset.js';
import { evaluateRobustness, type EvalResult } from '../eval/evaluate.js';
import { replacementLines } from '../eval/few-classes.js';
import { EvalRecorder, pgdCeOf, QUICK_NOT_RUN, QUICK_SWEEP, quickAudit as runQuickAudit } from '../eval/quick-audit.js';
import { buildSuite, survivorsMask, type SuiteSpec } from '../eval/suite.js';
import { logitsOf, type LogitsFn } from '../model/classifier.js';
import { weightsHash } from '../model/fingerprint.js';
import { pct } from '../report/html-format.js';
import { writeReport } from '../report/report.js';
import type { TrainConfig } from '../train/config.js';
import { writeJsonAtomic } from '../util/atomic.js';
import type { JobBar, JobLog } from './log.js';
import { prepareOutput, runTraining } from './train.js';

export interface DemoJobSpec {
  out: string;
  seed: number;
  dataDir?: string;
  /** The models trained, in order (the CLI: standard, then ALP). */
  runs: Array<{ name: string; config: TrainConfig }>;
  /** The test images every model is evaluated on. */
  test: Dataset;
  threat: ThreatModel;
  suite: SuiteSpec;
  /** Images of the quick audit's ε curve (0: no quick audit). */
  quickN: number;
  workers: number;
  resume: boolean;
  force: boolean;
  versions: Record<string, string>;
  backend: string;
  /** The command line, recorded in report.json. */
  argv: string[];
  /** The train command's option names, for the page's command lines. */
  trainOptions: Iterable<string>;
  /** When the run started (ms since the epoch), for report.json's totalSeconds. */
  startedAt: number;
}

export interface ModelReport {
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


/** The demo's report.json, as written. */
export type DemoReport = Record<string, unknown> & { models: ModelReport[]; totalSeconds: number; testExamples: number };

export async function runDemoJob(s: DemoJobSpec, log: JobLog): Promise<{ report: DemoReport; html: string }> {
  const { out, seed, dataDir, runs, test, threat, quickN, workers } = s;
  const suiteSpec = s.suite;
  const replaced = suiteSpec.replaced ?? [];
  const onSurvivors = survivorsMask(suiteSpec);
  const suite = buildSuite(suiteSpec);
  log.say(`alp demo: MNIST, backend ${s.backend}; training ${runs.map((r) => r.name).join(' and ')} (${workers} worker${workers === 1 ? '' : 's'}), then ${suite.map((a) => a.name).join(', ')} at ε=${threat.eps} on ${test.count} test images → ${out}`);
  for (const l of replacementLines(replaced)) log.say(`${test.numClasses} classes: ${l}`);

  // The demo rewrites its own --out; models there that no demo wrote (no demo report.json) are another
  // run's, kept unless --force (the one output rule, docs/outputs-and-resume.md).
  if (!s.resume && readResultSchema(join(out, 'report.json'))?.startsWith('alp.demo/') !== true) {
    for (const run of runs) prepareOutput(join(out, run.name), { force: s.force });
  }
  const reports: ModelReport[] = [];
  for (const run of runs) {
    const folder = join(out, run.name);
    let bar: JobBar | undefined;
    const r = await runTraining(run.config, {
      out: folder, resume: s.resume, checkpointEvery: 200, workers,
      ...(dataDir !== undefined ? { dataDir } : {}),
      meta: { versions: s.versions },
      onProgress: (e) => {
        bar ??= log.bar(`train ${run.name}`.padEnd(14), e.totalSteps);
        const ev = e.lastEval ? ` val ${pct(e.lastEval.cleanAcc)}/${pct(e.lastEval.robustAcc)}` : '';
        bar.update(e.step, `loss ${e.loss.toFixed(3)} ${e.examplesPerSec.toFixed(0)} ex/s${ev}`);
      },
    });
    bar?.done();
    const te = Date.now();
    let ebar: JobBar | undefined;
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
          ebar = log.bar(`eval ${run.name} ${e.attack}`.padEnd(30), e.total);
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
      const cbar = log.bar(`ε curve ${run.name}`.padEnd(30), QUICK_SWEEP.radii.length);
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
        notRun: [...QUICK_NOT_RUN], seconds: q.seconds, seed, versions: s.versions,
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
      result: ev, epsSweep: null, seconds: evalSeconds, versions: s.versions,
    }));
  }

  const seconds = (Date.now() - s.startedAt) / 1000;
  const report = {
    schema: DEMO_SCHEMA, command: 'alp demo', argv: s.argv, seed, dataset: 'mnist', testExamples: test.count, threat,
    suite: suite.map((a) => a.describe()), ...(replaced.length > 0 ? { replaced } : {}), models: reports, totalSeconds: seconds, versions: s.versions,
    quickAudit: quickN > 0 ? { examples: quickN, radii: QUICK_SWEEP.radii, steps: QUICK_SWEEP.steps, losses: QUICK_SWEEP.losses, notRun: QUICK_NOT_RUN.map((x) => x.id) } : null,
    note: "The demo runs FGSM, PGD-40 (CE and CW margin) and APGD-T (targeted DLR, 9 classes), each once, then the Square attack on the examples they all left robust; 'alp eval --model DIR' runs 5 restarts of each gradient attack, 'alp audit' adds APGD-CE, longer APGD-T and the masking checks.",
  };
  writeJsonAtomic(join(out, 'report.json'), report);
  // Its own page in its own folder (checked before training).
  const html = await writeReport([out], { out: join(out, 'report.html'), force: true, title: 'alp demo: standard vs ALP on MNIST', trainOptions: new Set(s.trainOptions), ...(dataDir !== undefined ? { dataDir } : {}) });
  return { report: report as DemoReport, html: html.html };
}
