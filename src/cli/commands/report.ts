import { REPORT_SPEC } from '../specs/report.js';
import { TRAIN_SPEC } from '../specs/train.js';
import { writeReport } from '../../report/report.js';
import { defaultReportPath } from '../../report/report-output.js';
import { parseCommand, get, type Parsed } from '../args.js';
import { emit, pct } from '../common.js';

export { REPORT_SPEC };

/** `alp report ARGS` (cli/main.ts parses them itself before loading this module, then calls runReportCommand). */
export async function reportCommand(argv: string[]): Promise<void> {
  const p = parseCommand(argv, REPORT_SPEC);
  if (p !== undefined) await runReportCommand(p);
}

/** `alp report` on arguments parsed and checked against REPORT_SPEC. */
export async function runReportCommand(p: Parsed): Promise<void> {
  const examples = get.num(p, 'examples') as number;
  const title = get.str(p, 'title');
  const dataDir = get.str(p, 'data-dir');
  const r = await writeReport(p._, {
    out: get.str(p, 'out') ?? defaultReportPath(p._), force: get.bool(p, 'force'),
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
  // A training-only run has no accuracy to print, and an empty shard has none either: said in words, never NaN% or 0%.
  const acc = (v: number | null, n: number | null): string => (n === 0 ? 'no examples' : v === null || !Number.isFinite(v) ? 'not evaluated' : pct(v));
  const lines = r.data.models.map((m) => `  ${m.summary.name}: clean ${acc(m.summary.cleanAccuracy, m.summary.examples)}, worst case ${acc(m.summary.worstCase, m.summary.examples)}` +
    (m.findings.length > 0 ? `, findings ${m.summary.findings.fail} fail / ${m.summary.findings.warn} warn / ${m.summary.findings.pass} pass` : '') +
    m.warnings.map((w) => `\n    note: ${w}`).join(''));
  emit(p, summary, `${lines.join('\n')}\nwritten ${r.html} (${(r.bytes / 1024).toFixed(0)} KiB, ${r.charts} chart${r.charts === 1 ? '' : 's'}) and ${r.json}`);
}
