/**
 * The data a report page is built from: what report.ts gathers and html.ts renders (kept apart so
 * that neither imports the other).
 */
import type { ExampleCard, ExampleSet } from './examples.js';
import type { AuditData, EvalData, FindingData, Obj, QuickAuditData, RunData, Threat } from './runs.js';
import type { DetectionResults } from './detection.js';
import type { ComparisonResults } from './comparison.js';

export interface ModelSummary {
  name: string;
  folder: string;
  colour: string;
  files: string[];
  method: string | null;
  arch: string | null;
  dataset: string | null;
  threat: Threat | null;
  params: number | null;
  layers: number | null;
  examples: number | null;
  cleanAccuracy: number | null;
  /** Robust accuracy per attack of eval.json's suite, by attack name. */
  attacks: Record<string, number | null>;
  evalWorstCase: number | null;
  auditWorstCase: number | null;
  /** The lowest worst case any evaluation found: the number to quote. */
  worstCase: number | null;
  worstCaseSource: 'eval' | 'audit' | null;
  trainSeconds: number | null;
  evalSeconds: number | null;
  auditSeconds: number | null;
  /** The last validation point of training (held-out slice, training-time PGD). */
  validation: { step: number; cleanAcc: number | null; robustAcc: number | null; examples: number | null } | null;
  findings: Record<'pass' | 'warn' | 'fail' | 'unknown', number>;
  /** Whose findings those are: the audit's, or (without one) the demo's quick audit. */
  findingsSource: 'audit' | 'quick' | null;
}

/** A command as a shell line and as its words. */
export interface Command {
  line: string;
  argv: string[];
}

export interface Commands {
  train: Command | null;
  /** Config fields the rebuilt train command cannot express. */
  trainUnmapped: string[];
  /** The command line train.json recorded, when it did. */
  trainRecorded: Command | null;
  eval: Command | null;
  audit: Command | null;
  /** The full audit to run, for a model that has only the demo's quick audit. */
  auditToRun: Command | null;
  /** `alp playground` on the model's folder. */
  playground: Command | null;
}

export interface ModelReport {
  summary: ModelSummary;
  config: Obj | null;
  configSource: string | null;
  commands: Commands;
  training: {
    steps: number | null;
    trainExamples: number | null;
    valExamples: number | null;
    fineTunedFrom: string | null;
    epochs: NonNullable<RunData['train']>['epochs'];
    evals: NonNullable<RunData['train']>['evals'];
  } | null;
  eval: EvalData | null;
  audit: (Omit<AuditData, 'adversarial'> & { adversarialFile: string | null }) | null;
  /** The demo's quick audit (quick-audit.json), when there is one. */
  quick: (Omit<QuickAuditData, 'adversarial'> & { adversarialFile: string | null }) | null;
  /** The audit's findings, else the quick audit's (see summary.findingsSource). */
  findings: FindingData[];
  examples: { total: number; shown: Array<Omit<ExampleCard, 'png'>>; notes: string[] } | null;
  versions: Record<string, Record<string, string>>;
  warnings: string[];
}

export interface ChartData {
  id: 'sweep' | 'attacks' | 'cascade' | 'loss' | 'validation' | 'shifts';
  title: string;
  caption: string;
  rows: unknown[];
}

export interface ReportData {
  title: string;
  generatedAt: string;
  generator: Record<string, string>;
  /** `runs`: the RUN folders shown, relative to the page's folder (what report-output.ts compares before replacing a page). */
  output: { html: string; json: string; runs?: string[] };
  /** eval.json attack names across models, in order of first appearance (the summary's columns). */
  attacks: string[];
  models: ModelReport[];
  charts: ChartData[];
  /** `alp detect eval` results found beside the runs (detect-eval.json). */
  detection: DetectionResults[];
  /** `alp compare` results found beside the runs (compare.json). */
  comparison: ComparisonResults[];
  /** `alp playground` on the folder that holds every model of the page (a demo's), when there is one. */
  playground: Command | null;
}

/** What the page needs beyond the JSON: rendered charts and images. */
export interface PageModel {
  data: ReportData;
  svgs: Partial<Record<ChartData['id'], string>>;
  examples: Array<ExampleSet | null>;
}
