/**
 * `alp report`: reads run folders, gathers the numbers into one ReportData (also written as JSON
 * beside the page), renders the charts and example images, and writes a self-contained HTML page.
 */
import { createRequire } from 'node:module';
import { findDetection } from './detection.js';
import { findComparison, type ComparisonResults } from './comparison.js';
import { basename, dirname, extname, join } from 'node:path';
import * as vega from 'vega';
import { version as vegaLiteVersion } from 'vega-lite';
import { writeFileAtomic, writeJsonAtomic } from '../util/atomic.js';
import {
  attackBarsSpec, cascadeSpec, lossSpec, PALETTE, renderSvg, sweepSpec, validationSpec,
  type AttackRow, type CascadeRow, type LossRow, type SweepRow, type ValRow,
} from './charts.js';
import { auditArgv, commandLine, evalArgv, trainArgv } from './commands.js';
import { buildExamples, dataLayerLoader, type CleanLoader, type ExampleSet } from './examples.js';
import { renderPage } from './html.js';
import { archLabel } from '../model/arch-names.js';
import { guardReport, reportRuns } from './report-output.js';
import type { ChartData, Command, Commands, ModelReport, ModelSummary, PageModel, ReportData } from './page-model.js';
import { datasetOf, loadRuns, runThreat, type FindingData, type RunData, type Threat } from './runs.js';

export interface ReportOptions {
  /** The HTML file to write (the JSON goes to dataPathFor(out)). */
  out: string;
  title?: string;
  /** Folder with dataset files, for the clean images (default: the data layer's own). */
  dataDir?: string;
  /** Most example strips shown per model. Default 12. */
  maxExamples?: number;
  /** Replaces the data layer for the clean images (tests). */
  cleanLoader?: CleanLoader;
  /** The options `alp train` accepts; config fields outside them are left off rebuilt train commands. */
  trainOptions?: ReadonlySet<string>;
  /** The time stamped on the page (default now). */
  now?: Date;
  /** Replace a page at `out` of other runs, or a file that is no alp report (report-output.ts). */
  force?: boolean;
}

export type { ModelSummary, Command, Commands, ModelReport, ChartData, ReportData, PageModel } from './page-model.js';

/** report.html → report.data.json (beside it, never clobbering a demo's report.json). */
export function dataPathFor(out: string): string {
  const ext = extname(out);
  const stem = ext.toLowerCase() === '.html' || ext.toLowerCase() === '.htm' ? basename(out, ext) : basename(out);
  return join(dirname(out), `${stem}.data.json`);
}

export function generatorVersions(): Record<string, string> {
  const require = createRequire(import.meta.url);
  let alp = 'unknown';
  try {
    alp = (require('../../package.json') as { version: string }).version;
  } catch {
    // running from an unusual layout; the page says unknown
  }
  return { alp, node: process.version, vega: (vega as unknown as { version?: string }).version ?? 'unknown', 'vega-lite': vegaLiteVersion };
}

const str = (v: unknown): string | null => (typeof v === 'string' ? v : null);

function minOf(a: number | null, b: number | null): number | null {
  if (a === null) return b;
  if (b === null) return a;
  return Math.min(a, b);
}

function summarise(r: RunData, colour: string): ModelSummary {
  // A result over no examples (an empty shard) has no accuracy: shown as none, not 0%.
  const measured = <T>(v: T | null | undefined, n: number | null | undefined): T | null => (n === 0 ? null : v ?? null);
  const attacks: Record<string, number | null> = {};
  const arch = str(r.config?.['arch']);
  for (const a of r.eval?.attacks ?? []) attacks[a.name] = measured(a.robustAccuracy, r.eval?.examples);
  const evalWorst = measured(r.eval?.worstCaseAccuracy, r.eval?.examples);
  const auditWorst = measured(r.audit?.worstCaseAccuracy, r.audit?.examples);
  const worst = minOf(evalWorst, auditWorst);
  const findings = { pass: 0, warn: 0, fail: 0, unknown: 0 };
  const findingsSource = r.audit !== null ? 'audit' : r.quick !== null ? 'quick' : null;
  for (const f of findingsOf(r)) findings[f.status]++;
  return {
    name: r.name,
    folder: r.folder,
    colour,
    files: r.files,
    method: str(r.config?.['method']),
    arch: arch !== null ? archLabel(arch, r.config?.['activation']) : r.train?.modelLabel ?? null,
    dataset: datasetOf(r),
    threat: runThreat(r),
    params: r.model?.params ?? null,
    layers: r.model?.layers ?? null,
    examples: r.eval?.examples ?? r.audit?.examples ?? null,
    cleanAccuracy: measured(r.eval?.cleanAccuracy, r.eval?.examples) ?? measured(r.audit?.cleanAccuracy, r.audit?.examples),
    attacks,
    evalWorstCase: evalWorst,
    auditWorstCase: auditWorst,
    worstCase: worst,
    worstCaseSource: worst === null ? null : worst === auditWorst ? 'audit' : 'eval',
    trainSeconds: r.train?.trainSeconds ?? r.demo?.trainSeconds ?? null,
    evalSeconds: r.eval?.seconds ?? r.demo?.evalSeconds ?? null,
    auditSeconds: r.audit?.seconds ?? null,
    validation: (() => {
      const v = r.train?.evals[r.train.evals.length - 1] ?? r.demo?.validation ?? null;
      return v === null ? null : { step: v.step, cleanAcc: v.cleanAcc, robustAcc: v.robustAcc, examples: v.examples };
    })(),
    findings,
    findingsSource,
  };
}

/** The audit's findings; without an audit, the demo's quick audit's. */
function findingsOf(r: RunData): FindingData[] {
  return r.audit?.findings ?? r.quick?.findings ?? [];
}

function commandsOf(r: RunData, dataset: string | null, trainOptions?: ReadonlySet<string>): Commands {
  const train = r.config !== null ? trainArgv(r.config, r.folder, r.train?.fineTunedFrom ?? null, trainOptions) : null;
  const ev = r.eval !== null ? evalArgv(r.eval, r.folder, dataset) : null;
  const au = r.audit !== null ? auditArgv(r.audit, r.folder, dataset) : null;
  // The full audit of what the quick one covered: same examples and threat, the standard budget.
  const toRun = r.audit === null && r.quick !== null ? auditArgv({ ...r.quick, version: 'standard', seed: null }, r.folder, dataset) : null;
  return {
    train: cmd(train?.argv ?? null),
    trainUnmapped: train?.unmapped ?? [],
    trainRecorded: cmd(r.train?.argv != null ? ['alp', 'train', ...r.train.argv] : null),
    eval: cmd(ev),
    audit: cmd(au),
    auditToRun: cmd(toRun),
    playground: r.model !== null ? cmd(['alp', 'playground', r.folder]) : null,
  };
}

function cmd(argv: string[] | null): Command | null {
  return argv === null ? null : { line: commandLine(argv), argv };
}

/** `alp playground DIR` when every run is a model of one demo folder DIR (the playground's default layout). */
function playgroundOf(runs: RunData[]): Command | null {
  const files = new Set(runs.map((r) => r.demo?.file ?? null));
  const [file] = [...files];
  if (runs.length === 0 || files.size !== 1 || file === null || file === undefined || runs.some((r) => r.model === null)) return null;
  return cmd(['alp', 'playground', dirname(file)]);
}

function versionsOf(r: RunData): Record<string, Record<string, string>> {
  const out: Record<string, Record<string, string>> = {};
  const add = (k: string, v: Record<string, string> | undefined): void => {
    if (v !== undefined && Object.keys(v).length > 0) out[k] = v;
  };
  add('train.json', r.train?.versions);
  add('eval.json', r.eval?.file.endsWith('eval.json') ? r.eval.versions : undefined);
  add('audit.json', r.audit?.versions);
  add('quick-audit.json', r.quick?.versions);
  add('demo report.json', r.demo?.versions);
  return out;
}

function uniqueInOrder(xs: string[]): string[] {
  return [...new Set(xs)];
}

function colours(present: string[], all: string[]): { domain: string[]; range: string[] } {
  return { domain: present, range: present.map((m) => PALETTE[all.indexOf(m) % PALETTE.length] as string) };
}

/** The chart rows, from the runs. */
function chartData(runs: RunData[]): ChartData[] {
  const sweep: SweepRow[] = [];
  const sweepSources: string[] = [];
  const quickSources: string[] = [];
  for (const r of runs) {
    // The audit's curve, else the one `alp eval --eps-sweep` measured, else the demo's quick one.
    const src = (r.audit?.epsSweep.length ?? 0) > 0 ? 'audit.json' : (r.eval?.epsSweep.length ?? 0) > 0 ? 'eval.json' : (r.quick?.epsSweep.length ?? 0) > 0 ? 'quick-audit.json' : null;
    const pts = src === 'audit.json' ? r.audit!.epsSweep : src === 'eval.json' ? r.eval!.epsSweep : src === null ? [] : r.quick!.epsSweep;
    if (src !== null) sweepSources.push(`${r.name}: ${src}`);
    if (src === 'quick-audit.json') quickSources.push(quickSweepText(r));
    for (const p of pts) sweep.push({ model: r.name, eps: p.eps, robustAccuracy: p.robustAccuracy });
  }
  const quickCaption = quickSources.length === 0 ? '' : ` Quick version from the demo (quick-audit.json): ${[...new Set(quickSources)].join('; ')}; an image fooled at one radius counts as fooled at every larger one. For the audit's curve (40 steps, more radii): alp audit --model DIR.`;
  const attacks: AttackRow[] = [];
  for (const r of runs) {
    const e = r.eval;
    if (e === null) continue;
    if (e.cleanAccuracy !== null) attacks.push({ model: r.name, attack: 'clean', accuracy: e.cleanAccuracy });
    for (const a of e.attacks) if (a.robustAccuracy !== null) attacks.push({ model: r.name, attack: a.name, accuracy: a.robustAccuracy });
    if (e.worstCaseAccuracy !== null) attacks.push({ model: r.name, attack: 'worst case', accuracy: e.worstCaseAccuracy });
    // Text: real word swaps (alp eval --swaps) beside the embedding-space numbers.
    for (const w of e.wordSwaps) attacks.push({ model: r.name, attack: `${w.attack === 'worst case' ? 'worst swaps' : w.attack} k=${w.k}`, accuracy: w.robustAccuracy });
  }
  const cascade: CascadeRow[] = [];
  const cascadeSources: string[] = [];
  for (const r of runs) {
    // Without an audit, the demo's evaluation read as a cascade (its quick-audit.json).
    const a = r.audit !== null && r.audit.cascade.length > 0 ? r.audit : r.quick;
    if (a === null || a.cascade.length === 0) continue;
    cascadeSources.push(a === r.audit ? `${r.name}: audit.json` : `${r.name}: quick-audit.json`);
    if (a.cleanAccuracy !== null) cascade.push({ model: r.name, stage: 'clean', accuracy: a.cleanAccuracy });
    for (const s of a.cascade) if (s.robustAccuracyAfter !== null) cascade.push({ model: r.name, stage: s.attack, accuracy: s.robustAccuracyAfter });
  }
  const loss: LossRow[] = [];
  for (const r of runs) {
    for (const e of r.train?.epochs ?? []) {
      if (e.loss !== null) loss.push({ model: r.name, epoch: e.epoch + 1, component: 'total', loss: e.loss });
      for (const [k, v] of Object.entries(e.parts)) loss.push({ model: r.name, epoch: e.epoch + 1, component: k, loss: v });
    }
  }
  const val: ValRow[] = [];
  for (const r of runs) {
    for (const p of r.train?.evals ?? []) {
      if (p.cleanAcc !== null) val.push({ model: r.name, step: p.step, metric: 'clean', accuracy: p.cleanAcc });
      if (p.robustAcc !== null) val.push({ model: r.name, step: p.step, metric: 'robust', accuracy: p.robustAcc });
    }
  }
  return [
    {
      id: 'sweep', title: 'Robust accuracy vs. ε', rows: sweep,
      caption: `Worst case over PGD with cross-entropy and CW losses at each radius; the model should fall to 0% as ε grows (if it doesn't, the attack is failing, not the model succeeding). Source: ${sweepSources.join('; ') || '—'}.${quickCaption}`,
    },
    {
      id: 'attacks', title: 'Accuracy per attack', rows: attacks,
      caption: 'From eval.json: each attack alone on every example, and the worst case per example over the suite; for text models also each word-substitution attack with at most k real word swaps (k=…), verified on the new messages.',
    },
    {
      id: 'cascade', title: 'Attack cascade', rows: cascade,
      caption: `Robust accuracy after each attack and all before it. A later attack that still lowers it found examples the earlier ones missed. Source: ${cascadeSources.join('; ') || '—'}.` +
        (cascadeSources.some((x) => x.endsWith('quick-audit.json')) ? " quick-audit.json is the demo's evaluation read as a cascade: each image counted at the first attack of the suite that fooled it." : ''),
    },
    {
      id: 'loss', title: 'Training loss per epoch', rows: loss,
      caption: 'Mean loss per epoch from train.json: the total (solid) and its terms (dashed).',
    },
    {
      id: 'validation', title: 'Validation accuracy during training', rows: val,
      caption: 'Held-out validation slice from train.json: clean accuracy and robust accuracy under the training-time PGD.',
    },
  ];
}

/** What the quick ε curve ran, in words: 'PGD-20 (ce, cw) on the first 200 test images'. */
function quickSweepText(r: RunData): string {
  const c = r.quick?.sweepConfig;
  if (c === null || c === undefined) return 'PGD';
  return `PGD${c.steps !== null ? `-${c.steps}` : ''}${c.losses.length > 0 ? ` (${c.losses.join(', ')} losses)` : ''}${c.examples !== null ? ` on the first ${c.examples} test images` : ''}`;
}

/** Accuracy under each distribution shift, per method, from compare.json (the first comparison found). */
function comparisonCharts(comparison: ComparisonResults[]): ChartData[] {
  const c = comparison[0];
  if (c === undefined || c.shifts.length === 0) return [];
  return [{
    id: 'shifts', title: 'Accuracy under distribution shifts',
    rows: c.shifts.map((s) => ({ model: s.method, attack: s.shift, accuracy: s.accuracy })),
    caption: `From ${c.file}: clean accuracy of each method's model on the first ${c.testExamples} test examples, unchanged and under deterministic shifts (alp's data/shift.ts).`,
  }];
}

async function renderCharts(charts: ChartData[], runs: RunData[]): Promise<PageModel['svgs']> {
  const all = runs.map((r) => r.name);
  const svgs: PageModel['svgs'] = {};
  const present = (rows: unknown[]): { domain: string[]; range: string[] } =>
    colours(uniqueInOrder((rows as Array<{ model: string }>).map((x) => x.model)), all);
  const eps = uniqueInOrder(runs.map((r) => runThreat(r)).filter((t): t is Threat => t !== null).map((t) => String(t.eps)));
  for (const c of charts) {
    if (c.rows.length === 0) continue;
    const col = present(c.rows);
    switch (c.id) {
      case 'sweep':
        svgs.sweep = await renderSvg(sweepSpec(c.rows as SweepRow[], col, eps.length === 1 ? Number(eps[0]) : null));
        break;
      case 'attacks': {
        const names = uniqueInOrder((c.rows as AttackRow[]).map((x) => x.attack).filter((a) => a !== 'clean' && a !== 'worst case'));
        svgs.attacks = await renderSvg(attackBarsSpec(c.rows as AttackRow[], col, ['clean', ...names, 'worst case']));
        break;
      }
      case 'cascade':
        svgs.cascade = await renderSvg(cascadeSpec(c.rows as CascadeRow[], col, uniqueInOrder((c.rows as CascadeRow[]).map((x) => x.stage))));
        break;
      case 'loss':
        svgs.loss = await renderSvg(lossSpec(c.rows as LossRow[], col, uniqueInOrder((c.rows as LossRow[]).map((x) => x.component))));
        break;
      case 'validation':
        svgs.validation = await renderSvg(validationSpec(c.rows as ValRow[], col));
        break;
      case 'shifts':
        svgs.shifts = await renderSvg(attackBarsSpec(c.rows as AttackRow[], col, uniqueInOrder((c.rows as AttackRow[]).map((x) => x.attack))));
        break;
    }
  }
  return svgs;
}

/** Reads the runs and builds everything the page shows, without writing anything. */
export async function buildReport(runPaths: string[], opts: ReportOptions): Promise<PageModel> {
  const runs = loadRuns(runPaths);
  const loader = opts.cleanLoader ?? dataLayerLoader(opts.dataDir);
  const max = opts.maxExamples ?? 12;
  const examples: Array<ExampleSet | null> = [];
  for (const r of runs) examples.push(await buildExamples(r, loader, max));
  const models: ModelReport[] = runs.map((r, i) => {
    const colour = PALETTE[i % PALETTE.length] as string;
    const summary = summarise(r, colour);
    const ex = examples[i] ?? null;
    const t = r.train;
    const audit = r.audit === null ? null : (() => {
      const { adversarial, ...rest } = r.audit;
      return { ...rest, adversarialFile: adversarial?.file ?? null };
    })();
    const quick = r.quick === null ? null : (() => {
      const { adversarial, ...rest } = r.quick;
      return { ...rest, adversarialFile: adversarial?.file ?? null };
    })();
    return {
      summary,
      config: r.config,
      configSource: r.configSource,
      commands: commandsOf(r, summary.dataset, opts.trainOptions),
      training: t === null ? null : {
        steps: t.steps, trainExamples: t.data?.trainExamples ?? null, valExamples: t.data?.valExamples ?? null,
        fineTunedFrom: t.fineTunedFrom, epochs: t.epochs, evals: t.evals,
      },
      eval: r.eval,
      audit,
      quick,
      findings: findingsOf(r),
      examples: ex === null ? null : { total: ex.total, shown: ex.cards.map(({ png: _png, ...rest }) => rest), notes: ex.notes },
      versions: versionsOf(r),
      warnings: r.warnings,
    };
  });
  const comparison = findComparison(runPaths, runs.map((r) => r.folder));
  const charts = [...chartData(runs), ...comparisonCharts(comparison)];
  const data: ReportData = {
    title: opts.title ?? (runs.length === 1 ? `alp report: ${runs[0]!.name}` : `alp report: ${runs.map((r) => r.name).join(' vs ')}`),
    generatedAt: (opts.now ?? new Date()).toISOString(),
    generator: generatorVersions(),
    output: { html: opts.out, json: dataPathFor(opts.out), runs: reportRuns(opts.out, runPaths) },
    attacks: uniqueInOrder(runs.flatMap((r) => r.eval?.attacks.map((a) => a.name) ?? [])),
    models,
    charts,
    detection: findDetection(runPaths, runs.map((r) => r.folder)),
    comparison,
    playground: playgroundOf(runs),
  };
  return { data, svgs: await renderCharts(charts, runs), examples };
}

export interface WrittenReport {
  html: string;
  json: string;
  bytes: number;
  charts: number;
  data: ReportData;
}

/** Builds the report and writes the page and its JSON, each atomically. */
export async function writeReport(runPaths: string[], opts: ReportOptions): Promise<WrittenReport> {
  const json = dataPathFor(opts.out);
  guardReport(opts.out, json, runPaths, opts.force === true);
  const page = await buildReport(runPaths, opts);
  const html = renderPage(page);
  writeJsonAtomic(json, page.data);
  writeFileAtomic(opts.out, html);
  return { html: opts.out, json, bytes: Buffer.byteLength(html), charts: Object.keys(page.svgs).length, data: page.data };
}
