import { TRAIN_SPEC } from './train.js';
import { writeReport } from '../../report/report.js';
import { UserError } from '../../util/errors.js';
import { OUTPUT_OPTIONS, parseCommand, get, type CommandSpec } from '../args.js';
import { emit, pct } from '../common.js';

export const REPORT_SPEC: CommandSpec = {
  name: 'report',
  summary: 'a self-contained HTML page comparing runs: charts, examples, findings, how to reproduce',
  usage: 'alp report RUN... [--out report.html]',
  positionals: 'RUN folders',
  options: [
    { name: 'out', type: 'string', metavar: 'FILE', default: 'report.html', help: 'the HTML page to write; its data goes beside it as <name>.data.json' },
    { name: 'title', type: 'string', metavar: 'TEXT', help: 'page title (default: the run names)' },
    { name: 'examples', type: 'int', default: 12, help: 'adversarial examples shown per model (from audit.json)' },
    { name: 'data-dir', type: 'string', metavar: 'DIR', help: 'folder with the dataset files, for the clean images (default: as alp eval finds them)' },
    ...OUTPUT_OPTIONS,
  ],
  examples: [
    'alp report runs/demo',
    'alp report runs/standard runs/alp runs/trades --out compare.html',
    'alp report runs/demo/alp --title "ALP, quick preset" --examples 24',
  ],
};

export async function reportCommand(argv: string[]): Promise<void> {
  const p = parseCommand(argv, REPORT_SPEC);
  if (p === undefined) return;
  if (p._.length === 0) throw new UserError("alp report: name at least one RUN folder (see 'alp report --help')");
  const examples = get.num(p, 'examples') as number;
  if (!Number.isInteger(examples) || examples < 0) throw new UserError(`alp report: --examples expects an integer ≥ 0, got ${examples}`);
  const title = get.str(p, 'title');
  const dataDir = get.str(p, 'data-dir');
  const r = await writeReport(p._, {
    out: get.str(p, 'out') as string,
    maxExamples: examples,
    trainOptions: new Set(TRAIN_SPEC.options.map((o) => o.name)),
    ...(title !== undefined ? { title } : {}),
    ...(dataDir !== undefined ? { dataDir } : {}),
  });
  const summary = {
    html: r.html, json: r.json, bytes: r.bytes, charts: r.charts,
    models: r.data.models.map((m) => ({
      name: m.summary.name, folder: m.summary.folder, clean: m.summary.cleanAccuracy, worstCase: m.summary.worstCase,
      findings: m.summary.findings, warnings: m.warnings,
    })),
  };
  if (get.bool(p, 'quiet') && !get.bool(p, 'json')) return;
  const lines = r.data.models.map((m) => `  ${m.summary.name}: clean ${pct(m.summary.cleanAccuracy ?? NaN)}, worst case ${pct(m.summary.worstCase ?? NaN)}` +
    (m.findings.length > 0 ? `, findings ${m.summary.findings.fail} fail / ${m.summary.findings.warn} warn / ${m.summary.findings.pass} pass` : '') +
    m.warnings.map((w) => `\n    note: ${w}`).join(''));
  emit(p, summary, `${lines.join('\n')}\nwritten ${r.html} (${(r.bytes / 1024).toFixed(0)} KiB, ${r.charts} chart${r.charts === 1 ? '' : 's'}) and ${r.json}`);
}
