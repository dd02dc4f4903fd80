/** The page's Gradient-masking findings section: each model's audit findings with their evidence. */
import { duration, esc, evidenceValue, threatLabel } from './html-format.js';
import { badge, commandBlock, empty, modelHeading, section } from './html-pieces.js';
import type { PageModel } from './page-model.js';
import type { FindingData } from './runs.js';

const STATUS_ORDER: Record<FindingData['status'], number> = { fail: 0, warn: 1, unknown: 2, pass: 3 };

const isFlatRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v) && Object.values(v).every((x) => x === null || typeof x !== 'object');

/**
 * One evidence value as HTML: a list of records (an ε sweep, per-attack counts) becomes a small table
 * of their plain fields — transposed when there are more records than fields — a flat record reads
 * "k: v · k: v",
 * anything else is its short text form.
 */
export function evidenceHtml(v: unknown): string {
  const isRecord = (x: unknown): x is Record<string, unknown> => typeof x === 'object' && x !== null && !Array.isArray(x);
  if (Array.isArray(v) && v.length > 0 && v.length <= 24 && v.every(isRecord)) {
    // Nested fields (an attack's config, say) are left out of the table.
    const keys = [...new Set(v.flatMap((r) => Object.keys(r).filter((k) => r[k] === null || typeof r[k] !== 'object')))];
    if (keys.length > 0 && keys.length <= 8) {
      const cell = (r: Record<string, unknown>, k: string): string => `<td>${r[k] === undefined ? '' : esc(evidenceValue(r[k]))}</td>`;
      const body = v.length > keys.length
        ? keys.map((k) => `<tr><th>${esc(k)}</th>${v.map((r) => cell(r, k)).join('')}</tr>`).join('')
        : `<tr>${keys.map((k) => `<th>${esc(k)}</th>`).join('')}</tr>${v.map((r) => `<tr>${keys.map((k) => cell(r, k)).join('')}</tr>`).join('')}`;
      return `<table class="evidence inner"><tbody>${body}</tbody></table>`;
    }
  }
  if (isFlatRecord(v) && Object.keys(v).length > 0 && Object.keys(v).length <= 12) {
    return Object.entries(v).map(([k, x]) => `${esc(k)}: ${esc(evidenceValue(x))}`).join(' · ');
  }
  return esc(evidenceValue(v));
}

function evidenceTable(e: Record<string, unknown>): string {
  const keys = Object.keys(e);
  if (keys.length === 0) return '';
  return `<table class="evidence"><tbody>${keys.map((k) => `<tr><th>${esc(k)}</th><td>${evidenceHtml(e[k])}</td></tr>`).join('')}</tbody></table>`;
}

/** One finding: its status, title, detail and evidence. */
function findingCard(f: FindingData): string {
  return `<div class="finding ${f.status}">
  <div class="finding-head">${badge(f.status)} <strong>${esc(f.title)}</strong> <span class="muted small">${esc(f.id)}</span></div>
  ${f.detail !== '' ? `<p>${esc(f.detail)}</p>` : ''}
  ${evidenceTable(f.evidence)}
</div>`;
}

export function findings(p: PageModel): string {
  const blocks = p.data.models.filter((m) => m.audit !== null).map((m) => {
    const fs = [...m.findings].sort((a, b) => STATUS_ORDER[a.status] - STATUS_ORDER[b.status]);
    const a = m.audit!;
    const meta = `audit ${esc(a.version ?? '')} · ${esc(threatLabel(a.threat))} · ${esc(a.examples ?? '?')} examples · ${esc(duration(a.seconds))}`;
    const items = fs.length === 0 ? empty('The audit recorded no findings.') : fs.map(findingCard).join('\n');
    return `<div class="model-block">${modelHeading(m)}<p class="muted small">${meta}</p>${items}</div>`;
  });
  // Models without an audit: the demo's quick audit, labelled as such, with the command for the full one.
  const quick = p.data.models.filter((m) => m.audit === null && m.quick !== null).map((m) => {
    const q = m.quick!;
    const fs = [...q.findings].sort((a, b) => STATUS_ORDER[a.status] - STATUS_ORDER[b.status]);
    const curve = q.sweepConfig?.examples != null ? `ε curve on the first ${q.sweepConfig.examples} test images` : 'ε curve';
    const meta = `quick audit from ${esc(q.command ?? 'alp demo')} · ${esc(threatLabel(q.threat))} · the evaluation's ${esc(q.examples ?? '?')} examples, ${esc(curve)} · ${esc(duration(q.seconds))} beyond the evaluation`;
    const items = fs.map(findingCard).join('\n');
    const notRun = q.notRun.length === 0 ? '' : `<p class="note">Not in the quick version: ${q.notRun.map((x) => `<strong>${esc(x.title)}</strong> <span class="muted">(${esc(x.id)}: ${esc(x.why)})</span>`).join('; ')}.</p>`;
    const full = m.commands.auditToRun !== null ? `<p class="note">The full audit (stronger attack cascade, the audit's ε sweep, every check):</p>${commandBlock(m.commands.auditToRun)}` : '';
    return `<div class="model-block quick">${modelHeading(m)}<p class="muted small"><span class="badge unknown">QUICK VERSION</span> ${meta}</p>${full}${items}${notRun}</div>`;
  });
  blocks.push(...quick);
  return section('findings', 'Gradient-masking findings', `<p class="note">Checks for the ways a defence can look robust without being robust: saturated or non-finite logits, vanishing gradients, randomness, accuracy that does not fall as ε grows, single-step attacks beating iterative ones, gradient-free attacks beating gradient ones.</p>
${blocks.length > 0 ? blocks.join('\n') : empty('No audit.json: run <code>alp audit --model DIR</code> for these checks.')}`);
}

