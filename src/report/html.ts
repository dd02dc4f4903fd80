/**
 * The report page: one self-contained HTML file (inline CSS, inline SVG charts, PNG data: URIs, no
 * script, nothing fetched), readable offline and printable. Every piece of text that came from a
 * file or the command line goes through esc(); the only raw markup inserted is the SVG Vega wrote,
 * whose text Vega escapes itself.
 */
import { excerpt } from '../attack/text/marked.js';
import type { ExampleSet } from './examples.js';
import { shellQuote } from './commands.js';
import type { ChartData, Command, ModelReport, PageModel } from './page-model.js';
import type { FindingData, Threat } from './runs.js';

/** Escapes text for HTML content and for double- or single-quoted attribute values. */
export function esc(s: unknown): string {
  return String(s).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] as string);
}

export function pct(v: number | null | undefined, digits = 1): string {
  return v === null || v === undefined || !Number.isFinite(v) ? '—' : `${(v * 100).toFixed(digits)}%`;
}

export function duration(s: number | null | undefined): string {
  if (s === null || s === undefined || !Number.isFinite(s)) return '—';
  if (s < 1) return `${(s * 1000).toFixed(0)} ms`;
  if (s < 60) return `${s.toFixed(s < 10 ? 1 : 0)} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ${String(Math.round(s - 60 * m)).padStart(2, '0')} s`;
  return `${Math.floor(m / 60)} h ${String(m % 60).padStart(2, '0')} min`;
}

export function normLabel(norm: string): string {
  return norm === 'linf' ? 'L∞' : norm === 'l2' ? 'L2' : norm;
}

export function threatLabel(t: Threat | null): string {
  return t === null ? '—' : `${normLabel(t.norm)} ε=${t.eps}`;
}

function count(n: number | null): string {
  if (n === null) return '—';
  if (n >= 1e6) return `${(n / 1e6).toFixed(2)} M`;
  if (n >= 1e4) return `${(n / 1e3).toFixed(1)} k`;
  return String(n);
}

/** A short rendering of one evidence value. */
export function evidenceValue(v: unknown): string {
  if (typeof v === 'number') return Number.isInteger(v) ? String(v) : Math.abs(v) >= 1e-3 && Math.abs(v) < 1e6 ? String(+v.toPrecision(4)) : v.toExponential(3);
  if (typeof v === 'string') return v;
  if (typeof v === 'boolean' || v === null) return String(v);
  if (Array.isArray(v) && v.every((x) => typeof x === 'number' || typeof x === 'string')) {
    const shown = v.slice(0, 12).map(evidenceValue).join(', ');
    return v.length > 12 ? `${shown}, … (${v.length} values)` : `[${shown}]`;
  }
  const j = JSON.stringify(v) ?? String(v);
  return j.length > 300 ? `${j.slice(0, 300)}…` : j;
}

/** JSON with one key per line but short arrays kept on one line. */
export function compactJson(v: unknown, indent = ''): string {
  if (Array.isArray(v)) {
    if (v.every((x) => x === null || typeof x !== 'object')) return `[${v.map((x) => JSON.stringify(x)).join(', ')}]`;
    return `[\n${v.map((x) => `${indent}  ${compactJson(x, indent + '  ')}`).join(',\n')}\n${indent}]`;
  }
  if (typeof v === 'object' && v !== null) {
    const e = Object.entries(v);
    if (e.length === 0) return '{}';
    return `{\n${e.map(([k, x]) => `${indent}  ${JSON.stringify(k)}: ${compactJson(x, indent + '  ')}`).join(',\n')}\n${indent}}`;
  }
  return JSON.stringify(v) ?? 'null';
}

const STATUS_ORDER: Record<FindingData['status'], number> = { fail: 0, warn: 1, unknown: 2, pass: 3 };

function badge(status: FindingData['status'], text?: string): string {
  return `<span class="badge ${status}">${esc(text ?? status.toUpperCase())}</span>`;
}

function swatch(colour: string): string {
  return `<span class="swatch" style="background:${colour}"></span>`;
}

/** A percentage cell with a faint bar behind the number. */
function pctCell(v: number | null, best: boolean, colour: string): string {
  if (v === null || !Number.isFinite(v)) return '<td class="num muted">—</td>';
  const w = Math.max(0, Math.min(100, v * 100)).toFixed(1);
  return `<td class="num${best ? ' best' : ''}" style="background:linear-gradient(90deg, ${colour}2e ${w}%, transparent ${w}%)">${pct(v)}</td>`;
}

function meter(v: number | null, colour: string): string {
  const w = v === null || !Number.isFinite(v) ? 0 : Math.max(0, Math.min(100, v * 100));
  return `<div class="meter"><span style="width:${w.toFixed(1)}%;background:${colour}"></span></div>`;
}

function empty(text: string): string {
  return `<p class="empty">${text}</p>`;
}

function modelHeading(m: ModelReport, level = 3): string {
  const s = m.summary;
  return `<h${level} class="model-heading">${swatch(s.colour)}${esc(s.name)} <span class="muted small">${esc(s.folder)}</span></h${level}>`;
}

// ---------------------------------------------------------------- sections

function overview(p: PageModel): string {
  const cards = p.data.models.map((m) => {
    const s = m.summary;
    const facts = [s.method, s.arch, s.dataset].filter((x): x is string => x !== null);
    const f = s.findings;
    const quickTag = s.findingsSource === 'quick' ? '<span class="muted small" title="from the demo\'s quick audit (quick-audit.json), not a full alp audit">quick checks: </span>' : '';
    const badges = m.findings.length === 0 ? '' : `<div class="badges">${quickTag}${f.fail > 0 ? badge('fail', `${f.fail} fail`) : ''}${f.warn > 0 ? badge('warn', `${f.warn} warn`) : ''}${f.pass > 0 ? badge('pass', `${f.pass} pass`) : ''}${f.unknown > 0 ? badge('unknown', `${f.unknown} other`) : ''}</div>`;
    const worstNote = s.worstCaseSource === null ? '' : s.evalWorstCase !== null && s.auditWorstCase !== null
      ? `lowest of eval ${pct(s.evalWorstCase)} and audit ${pct(s.auditWorstCase)}` : `from ${s.worstCaseSource}.json`;
    const metric = (v: number | null, label: string): string =>
      `<div class="metric"><div class="value">${pct(v)}</div><div class="label">${esc(label)}</div>${meter(v, s.colour)}</div>`;
    const v = s.validation;
    // Without an evaluation, the last validation point of training is the best there is; say so.
    const useVal = s.cleanAccuracy === null && s.worstCase === null && v !== null;
    const metrics = useVal
      ? `<div class="metrics">${metric(v.cleanAcc, 'validation clean')}${metric(v.robustAcc, 'validation robust (training PGD)')}</div>`
      : `<div class="metrics">${metric(s.cleanAccuracy, 'clean accuracy')}${metric(s.worstCase, `worst-case robust, ${threatLabel(s.threat)}`)}</div>`;
    const foot = useVal
      ? [`not evaluated: last validation at step ${v.step}${v.examples !== null ? ` on ${v.examples} held-out examples` : ''}`, s.trainSeconds !== null ? `trained in ${duration(s.trainSeconds)}` : '']
      : [worstNote, s.examples !== null ? `${s.examples} test examples` : '', s.trainSeconds !== null ? `trained in ${duration(s.trainSeconds)}` : ''];
    return `<div class="card" style="border-top-color:${s.colour}">
  <div class="card-title">${swatch(s.colour)}${esc(s.name)}</div>
  <div class="muted small">${esc(facts.join(' · ') || 'no training config found')}</div>
  ${metrics}
  <div class="muted small">${esc(foot.filter((x) => x !== '').join(' · '))}</div>
  ${badges}
</div>`;
  }).join('\n');

  const ms = p.data.models;
  const bestOf = (get: (m: ModelReport) => number | null): number | null => {
    const vs = ms.map(get).filter((v): v is number => v !== null && Number.isFinite(v));
    return ms.length > 1 && vs.length > 1 ? Math.max(...vs) : null;
  };
  const attacks = p.data.attacks;
  const cols: Array<{ head: string; title: string; get: (m: ModelReport) => number | null }> = [
    { head: 'clean', title: 'clean accuracy', get: (m) => m.summary.cleanAccuracy },
    ...attacks.map((a) => ({ head: a, title: `robust accuracy under ${a} alone (eval.json)`, get: (m: ModelReport) => m.summary.attacks[a] ?? null })),
    { head: 'worst case', title: 'lowest worst-case robust accuracy over eval.json and audit.json', get: (m) => m.summary.worstCase },
  ];
  const head = ['model', 'method', 'arch', 'dataset', 'threat'].map((h) => `<th>${h}</th>`).join('') +
    cols.map((c) => `<th class="num" title="${esc(c.title)}">${esc(c.head)}</th>`).join('') +
    '<th class="num">params</th><th class="num">training</th><th>findings</th>';
  const rows = ms.map((m) => {
    const s = m.summary;
    const f = s.findings;
    const fcell = m.findings.length === 0 ? '<td class="muted">—</td>'
      : `<td class="nowrap">${f.fail > 0 ? badge('fail', String(f.fail)) : ''}${f.warn > 0 ? badge('warn', String(f.warn)) : ''}${f.pass > 0 ? badge('pass', String(f.pass)) : ''}${f.unknown > 0 ? badge('unknown', String(f.unknown)) : ''}${s.findingsSource === 'quick' ? '<span class="muted small">quick</span>' : ''}</td>`;
    return `<tr><td class="nowrap">${swatch(s.colour)}<strong>${esc(s.name)}</strong></td><td>${esc(s.method ?? '—')}</td><td>${esc(s.arch ?? '—')}</td><td>${esc(s.dataset ?? '—')}</td><td class="nowrap">${esc(threatLabel(s.threat))}</td>` +
      cols.map((c) => {
        const v = c.get(m);
        const best = bestOf(c.get);
        return pctCell(v, best !== null && v !== null && v === best, s.colour);
      }).join('') +
      `<td class="num">${esc(count(s.params))}</td><td class="num nowrap">${esc(duration(s.trainSeconds))}</td>${fcell}</tr>`;
  }).join('\n');
  return `<section id="overview">
<h2>Models side by side</h2>
<div class="cards">${cards}</div>
<div class="table-wrap"><table class="summary"><thead><tr>${head}</tr></thead><tbody>${rows}</tbody></table></div>
<p class="note">Robust accuracy counts an example only if it is classified correctly and no attack in the suite fools it. The highest value in each column is in bold. Percentages are of the evaluated test examples.</p>
</section>`;
}

function chartFigure(c: ChartData, svg: string | undefined, why: string): string {
  if (svg === undefined) return `<figure class="chart missing" id="chart-${c.id}"><figcaption><strong>${esc(c.title)}</strong></figcaption>${empty(why)}</figure>`;
  return `<figure class="chart" id="chart-${c.id}"><figcaption><strong>${esc(c.title)}</strong></figcaption><div class="svg">${svg}</div><p class="caption">${esc(c.caption)}</p></figure>`;
}

function chart(p: PageModel, id: ChartData['id'], why: string): string {
  const c = p.data.charts.find((x) => x.id === id);
  return c === undefined ? '' : chartFigure(c, p.svgs[id], why);
}

function robustness(p: PageModel): string {
  return `<section id="robustness">
<h2>Robustness</h2>
<div class="charts">
${chart(p, 'sweep', 'No ε sweep: run <code>alp audit</code>, or <code>alp eval --eps-sweep 0,0.1,0.2,0.3,0.4</code>.')}
${chart(p, 'attacks', 'No eval.json: run <code>alp eval --model DIR</code>.')}
${chart(p, 'cascade', 'No audit.json: run <code>alp audit --model DIR</code>.')}
</div>
</section>`;
}

function training(p: PageModel): string {
  const rows = p.data.models.filter((m) => m.training !== null || m.summary.trainSeconds !== null).map((m) => {
    const t = m.training;
    const last = t?.evals[t.evals.length - 1];
    return `<tr><td class="nowrap">${swatch(m.summary.colour)}${esc(m.summary.name)}</td><td class="num">${esc(t?.steps ?? '—')}</td><td class="num">${esc(t?.epochs.length ?? '—')}</td><td class="num">${esc(t?.trainExamples ?? '—')}</td><td class="num">${esc(t?.valExamples ?? '—')}</td><td class="num">${pct(last?.cleanAcc ?? null)}</td><td class="num">${pct(last?.robustAcc ?? null)}</td><td class="num nowrap">${esc(duration(m.summary.trainSeconds))}</td><td>${esc(t?.fineTunedFrom ?? '')}</td></tr>`;
  }).join('\n');
  const table = rows === '' ? '' : `<div class="table-wrap"><table><thead><tr><th>model</th><th class="num">steps</th><th class="num">epochs</th><th class="num">train examples</th><th class="num">validation examples</th><th class="num">last val. clean</th><th class="num">last val. robust</th><th class="num">time</th><th>fine-tuned from</th></tr></thead><tbody>${rows}</tbody></table></div>`;
  return `<section id="training">
<h2>Training</h2>
<div class="charts">
${chart(p, 'loss', 'No train.json with per-epoch losses.')}
${chart(p, 'validation', 'No train.json with validation points.')}
</div>
${table}
</section>`;
}

function className(v: number | null, names: string[] | null): string {
  if (v === null) return '?';
  const n = names?.[v];
  return n !== undefined ? `${v} (${n})` : String(v);
}

function exampleCards(m: ModelReport, ex: ExampleSet): string {
  const norm = m.summary.threat?.norm ?? 'linf';
  const cards = ex.cards.map((c) => {
    const label = className(c.label, ex.classNames);
    const adv = c.advPred !== null ? className(c.advPred, ex.classNames) : null;
    const size = norm === 'l2' ? (c.l2 !== null ? `‖δ‖₂ = ${c.l2.toFixed(3)}` : '') : c.linf !== null ? `‖δ‖∞ = ${c.linf.toFixed(3)}` : '';
    const alt = c.audio !== undefined || c.height < 100 && c.width > 300
      ? `test clip ${c.index}: adversarial waveform${c.hasClean ? ' and the perturbation' : ''}`
      : c.hasClean ? `test image ${c.index}: clean, adversarial, and the perturbation` : `adversarial version of test image ${c.index}`;
    const players = c.audio === undefined ? '' : `<div class="players">${c.audio.clean !== null ? `<label>clean <audio controls preload="none" src="${c.audio.clean}"></audio></label>` : ''}<label>adversarial <audio controls preload="none" src="${c.audio.adversarial}"></audio></label></div>`;
    const pred = c.cleanPred !== null && c.cleanPred !== c.label ? ` <span class="muted">(clean pred. ${esc(className(c.cleanPred, ex.classNames))})</span>` : '';
    const resisted = c.fooled === false;
    const outcome = adv === null ? '' : resisted ? ` → <strong class="ok">${esc(adv)}</strong> <span class="badge pass">resisted</span>` : ` → <strong class="bad">${esc(adv)}</strong>`;
    const how = c.attack === null ? '' : resisted ? `best try of ${c.attack}` : `fooled by ${c.attack}`;
    return `<figure class="example${resisted ? ' resisted' : ''}"><img src="${c.png}" width="${c.width}" height="${c.height}" alt="${esc(alt)}">${players}<figcaption><span class="muted">#${esc(c.index)}</span> label <strong class="ok">${esc(label)}</strong>${pred}${outcome}<br><span class="small muted">${esc([how, size].filter((x) => x !== '').join(' · '))}</span></figcaption></figure>`;
  }).join('');
  const notes = ex.notes.map((n) => `<p class="warning">${esc(n)}</p>`).join('');
  const hasClean = ex.cards.some((c) => c.hasClean);
  const isAudio = ex.cards.some((c) => c.audio !== undefined);
  const legend = isAudio
    ? 'Each strip: the adversarial waveform and the perturbation, magnified by the factor shown; play the clean and adversarial clips to hear the difference.'
    : hasClean
    ? 'Each strip: the clean test image, the adversarial one, and the perturbation (red where a pixel went up, blue where it went down, scaled to its largest change).'
    : 'Adversarial images only.';
  // Nothing drawable (a text model, too many channels): the notes say why; no legend for empty strips.
  if (ex.cards.length === 0) return `<div class="model-block">${modelHeading(m)}${notes}</div>`;
  const nFooled = ex.cards.filter((c) => c.fooled !== false).length;
  const nResisted = ex.cards.length - nFooled;
  const shown = ex.source === 'quick'
    ? `From the demo's evaluation (its quick-audit.json): the ${nFooled} lowest-numbered test images an attack fooled, with the first attack of the suite that did${nResisted > 0 ? `, then the ${nResisted} lowest-numbered ones the model resisted every attack on, with PGD's best try` : ''}. <code>alp audit</code> keeps more.`
    : `Showing ${ex.cards.length} of the ${ex.total} adversarial examples the audit kept.`;
  return `<div class="model-block">${modelHeading(m)}<p class="note">${legend} ${shown}</p>${notes}<div class="examples">${cards}</div></div>`;
}

/** A swapped message with each [original→replacement] drawn as a struck original and a marked replacement. */
export function markedHtml(marked: string): string {
  return excerpt(marked, 12).split(' ').map((w) => {
    const sw = /^\[(.+)→(.+)\]$/.exec(w);
    return sw === null ? esc(w) : `<del>${esc(sw[1])}</del>&#8202;<mark>${esc(sw[2])}</mark>`;
  }).join(' ');
}

/** Text models: the audit's robust accuracy under real word swaps per k, and the fooled messages. */
function wordSwapBlock(m: ModelReport): string {
  const w = m.audit?.wordSwaps;
  if (w === null || w === undefined) return '';
  const ks = [...new Set(w.points.map((x) => x.k))].sort((a, b) => a - b);
  const names = [...new Set(w.points.map((x) => x.attack))];
  const cell = (k: number, a: string): string => `<td class="num">${pct(w.points.find((x) => x.k === k && x.attack === a)?.robustAccuracy ?? null)}</td>`;
  const table = `<div class="table-wrap"><table><thead><tr><th>word swaps</th>${ks.map((k) => `<th class="num">k = ${esc(k)}</th>`).join('')}</tr></thead><tbody>` +
    names.map((a) => `<tr><td>${a === 'worst case' ? '<strong>worst case per message</strong>' : esc(a)}</td>${ks.map((k) => cell(k, a)).join('')}</tr>`).join('') + '</tbody></table></div>';
  const msgs = w.messages.map((x) => `<li class="swapped"><span class="muted">#${esc(x.index)}</span> label <strong class="ok">${esc(x.label ?? '?')}</strong> → <strong class="bad">${esc(x.advPred ?? '?')}</strong> <span class="small muted">${esc([x.attack ?? '', x.k !== null ? `k = ${x.k}` : ''].filter((y) => y !== '').join(' · '))}</span><br>${markedHtml(x.marked)}</li>`).join('');
  return `<div class="model-block">${modelHeading(m)}<p class="note">Robust accuracy under real word swaps (at most k per message), verified on the new messages; the audit's fooled messages below show each <del>original</del> word and its <mark>replacement</mark>.</p>${table}${msgs !== '' ? `<ul class="swapped-list">${msgs}</ul>` : ''}</div>`;
}

function examples(p: PageModel): string {
  const blocks = p.data.models.map((m, i) => {
    const ex = p.examples[i];
    return (ex === null || ex === undefined ? '' : exampleCards(m, ex)) + wordSwapBlock(m);
  }).filter((b) => b !== '');
  return `<section id="examples">
<h2>Adversarial examples</h2>
${blocks.length > 0 ? blocks.join('\n') : empty('No adversarial images: <code>alp audit</code> writes them (examples.f32 beside audit.json).')}
</section>`;
}

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

function findings(p: PageModel): string {
  const blocks = p.data.models.filter((m) => m.audit !== null).map((m) => {
    const fs = [...m.findings].sort((a, b) => STATUS_ORDER[a.status] - STATUS_ORDER[b.status]);
    const a = m.audit!;
    const meta = `audit ${esc(a.version ?? '')} · ${esc(threatLabel(a.threat))} · ${esc(a.examples ?? '?')} examples · ${esc(duration(a.seconds))}`;
    const items = fs.length === 0 ? empty('The audit recorded no findings.') : fs.map((f) => `<div class="finding ${f.status}">
  <div class="finding-head">${badge(f.status)} <strong>${esc(f.title)}</strong> <span class="muted small">${esc(f.id)}</span></div>
  ${f.detail !== '' ? `<p>${esc(f.detail)}</p>` : ''}
  ${evidenceTable(f.evidence)}
</div>`).join('\n');
    return `<div class="model-block">${modelHeading(m)}<p class="muted small">${meta}</p>${items}</div>`;
  });
  // Models without an audit: the demo's quick audit, labelled as such, with the command for the full one.
  const quick = p.data.models.filter((m) => m.audit === null && m.quick !== null).map((m) => {
    const q = m.quick!;
    const fs = [...q.findings].sort((a, b) => STATUS_ORDER[a.status] - STATUS_ORDER[b.status]);
    const curve = q.sweepConfig?.examples != null ? `ε curve on the first ${q.sweepConfig.examples} test images` : 'ε curve';
    const meta = `quick audit from ${esc(q.command ?? 'alp demo')} · ${esc(threatLabel(q.threat))} · the evaluation's ${esc(q.examples ?? '?')} examples, ${esc(curve)} · ${esc(duration(q.seconds))} beyond the evaluation`;
    const items = fs.map((f) => `<div class="finding ${f.status}">
  <div class="finding-head">${badge(f.status)} <strong>${esc(f.title)}</strong> <span class="muted small">${esc(f.id)}</span></div>
  ${f.detail !== '' ? `<p>${esc(f.detail)}</p>` : ''}
  ${evidenceTable(f.evidence)}
</div>`).join('\n');
    const notRun = q.notRun.length === 0 ? '' : `<p class="note">Not in the quick version: ${q.notRun.map((x) => `<strong>${esc(x.title)}</strong> <span class="muted">(${esc(x.id)}: ${esc(x.why)})</span>`).join('; ')}.</p>`;
    const full = m.commands.auditToRun !== null ? `<p class="note">The full audit (stronger attack cascade, the audit's ε sweep, every check):</p>${commandBlock(m.commands.auditToRun)}` : '';
    return `<div class="model-block quick">${modelHeading(m)}<p class="muted small"><span class="badge unknown">QUICK VERSION</span> ${meta}</p>${full}${items}${notRun}</div>`;
  });
  blocks.push(...quick);
  return `<section id="findings">
<h2>Gradient-masking findings</h2>
<p class="note">Checks for the ways a defence can look robust without being robust: saturated or non-finite logits, vanishing gradients, randomness, accuracy that does not fall as ε grows, single-step attacks beating iterative ones, gradient-free attacks beating gradient ones.</p>
${blocks.length > 0 ? blocks.join('\n') : empty('No audit.json: run <code>alp audit --model DIR</code> for these checks.')}
</section>`;
}

/** A command line that wraps only between words (never at the hyphens inside an option). */
function commandBlock(c: Command): string {
  return `<pre class="cmd">${c.argv.map((w) => `<span class="w">${esc(shellQuote(w))}</span>`).join(' ')}</pre>`;
}

function reproduce(p: PageModel): string {
  const blocks = p.data.models.map((m) => {
    const c = m.commands;
    const parts: string[] = [];
    if (c.train !== null) {
      const extra = c.trainUnmapped.length > 0 ? `<p class="note">Not expressible as options (kept in the config below): ${esc(c.trainUnmapped.join(', '))}.</p>` : '';
      parts.push(`<h4>Train <span class="muted small">rebuilt from the ${esc(m.configSource ?? '')} config, every option explicit</span></h4>${commandBlock(c.train)}${extra}`);
    }
    if (c.trainRecorded !== null) parts.push(`<h4>Train <span class="muted small">as it was run</span></h4>${commandBlock(c.trainRecorded)}`);
    if (c.eval !== null) parts.push(`<h4>Evaluate</h4>${commandBlock(c.eval)}`);
    if (c.audit !== null) parts.push(`<h4>Audit</h4>${commandBlock(c.audit)}`);
    if (c.auditToRun !== null) parts.push(`<h4>Audit <span class="muted small">not run yet: the page shows the demo's quick version</span></h4>${commandBlock(c.auditToRun)}`);
    if (c.playground !== null && p.data.playground === null) parts.push(`<h4>Attack it live <span class="muted small">a page on 127.0.0.1</span></h4>${commandBlock(c.playground)}`);
    if (parts.length === 0) parts.push(empty('Nothing recorded to rebuild a command from.'));
    const config = m.config === null ? ''
      : `<div class="config"><h4>Training config <span class="muted small">from ${esc(m.configSource ?? '')}</span></h4><pre class="json">${esc(compactJson(m.config))}</pre></div>`;
    return `<div class="model-block">${modelHeading(m)}<div class="repro"><div class="commands">${parts.join('\n')}</div>${config}</div></div>`;
  });
  const live = p.data.playground === null ? ''
    : `<div class="model-block"><h3>Attack these models live</h3><p class="note">Draw or pick a digit and attack ${p.data.models.length > 1 ? 'both models' : 'the model'} in the browser (served on 127.0.0.1, nothing leaves the machine):</p>${commandBlock(p.data.playground)}</div>`;
  return `<section id="reproduce">
<h2>Reproduce</h2>
${live}
${blocks.join('\n')}
</section>`;
}

function pctOrDash(v: number): string {
  return Number.isFinite(v) ? pct(v) : '—';
}

function aucCell(v: number): string {
  return Number.isFinite(v) ? v.toFixed(3) : '—';
}

function detection(p: PageModel): string {
  const results = p.data.detection ?? [];
  if (results.length === 0) return '';
  const tables = results.map((r) => {
    const rows = r.rows.map((d) => `<tr><td class="nowrap">${esc(d.model)}</td><td>${esc(d.detector)}</td><td><code>${esc(d.strongestNonAdaptive)}</code></td>` +
      `<td class="num">${aucCell(d.nonAdaptive.rocAuc)}</td><td class="num">${pctOrDash(d.nonAdaptive.tprAt5)}</td><td class="num">${pctOrDash(d.nonAdaptive.robustOrDetectedAccuracy)}</td>` +
      `<td class="num">${aucCell(d.adaptive?.rocAuc ?? NaN)}</td><td class="num">${pctOrDash(d.adaptive?.tprAt5 ?? NaN)}</td><td class="num"><strong>${pctOrDash(d.adaptive?.robustOrDetectedAccuracy ?? NaN)}</strong></td></tr>`).join('');
    return `<div class="table-wrap"><table><thead><tr><th>model</th><th>detector</th><th>strongest non-adaptive attack</th><th>AUC</th><th>TPR @ 5% FPR</th><th>robust or detected</th><th>AUC, adaptive</th><th>TPR @ 5% FPR, adaptive</th><th>robust or detected, adaptive</th></tr></thead><tbody>${rows}</tbody></table></div>
${r.warnings.length > 0 ? `<ul class="warnings">${r.warnings.map((w) => `<li>${esc(w)}</li>`).join('')}</ul>` : ''}
<p class="note">From <code>${esc(r.file)}</code>. "Robust or detected": share of the evaluated test ${r.modality === 'text' ? `messages that are classified correctly or flagged at the calibrated threshold, against real word swaps (at most ${r.swaps ?? '?'} per message; the detectors score the messages' embeddings)` : 'images that are classified correctly or flagged at the calibrated threshold'}. Only the adaptive columns (an attacker who knows the detector) say what the detector is worth.</p>`;
  });
  return `<section id="detection">
<h2>Detection</h2>
${tables.join('\n')}
</section>`;
}

function comparison(p: PageModel): string {
  const results = p.data.comparison ?? [];
  if (results.length === 0) return '';
  const parts = results.map((c) => {
    const budget = duration(c.budgetSeconds);
    const rows = c.rows.map((r) => `<tr><td class="nowrap">${esc(r.method)}${r.complete ? '' : ' (stopped early)'}</td><td class="num">${esc(r.steps)}</td><td class="num">${Number.isFinite(r.secondsPerStep) ? r.secondsPerStep.toFixed(3) : '—'}</td><td class="num nowrap">${esc(duration(r.trainSeconds))}</td>` +
      `<td class="num">${pctOrDash(r.clean)}</td><td class="num"><strong>${pctOrDash(r.robust)}</strong></td><td>${esc([...r.failed.map((f) => `FAIL ${f}`), ...r.warned.map((f) => `warn ${f}`)].join(', ') || 'all pass')}</td></tr>`).join('');
    const shiftNames = [...new Set(c.shifts.map((s) => s.shift))];
    const methods = [...new Set(c.shifts.map((s) => s.method))];
    const cell = (m: string, s: string): string => pctOrDash(c.shifts.find((x) => x.method === m && x.shift === s)?.accuracy ?? NaN);
    const oodOf = (m: string) => c.ood.find((o) => o.method === m);
    const hasOod = c.ood.length > 0;
    const shiftRows = methods.map((m) => `<tr><td class="nowrap">${esc(m)}</td>${shiftNames.map((s) => `<td class="num">${cell(m, s)}</td>`).join('')}${hasOod ? `<td class="num">${pctOrDash(oodOf(m)?.confidentShare ?? NaN)}</td>` : ''}</tr>`).join('');
    const oodHead = hasOod ? `<th class="num">${esc(c.ood[0]!.dataset)}: confidently wrong (p ≥ ${c.ood[0]!.threshold})</th>` : '';
    const best = c.best !== null ? `<p>Highest audited robust accuracy: <strong>${esc(c.best.methods.join(', '))}</strong>${c.best.methods.length > 1 ? ' (a tie)' : ''} (${pctOrDash(c.best.worstCaseAccuracy)}).</p>` : '';
    return `<p>Every method trained on ${esc(c.dataset)} for the same budget (${esc(budget)} of one core, turned into a step count from each method's measured CPU time per step, which the machine's load hardly changes), then audited with <code>alp audit --budget ${esc(c.auditVersion)}</code> at ${esc(c.norm)} ε = ${esc(c.eps)} on the first ${esc(c.testExamples)} test examples.</p>
${best}
<div class="table-wrap"><table><thead><tr><th>method</th><th class="num">steps</th><th class="num">CPU s / step</th><th class="num">training (wall)</th><th class="num">clean</th><th class="num">audited robust</th><th>masking findings</th></tr></thead><tbody>${rows}</tbody></table></div>
${shiftRows === '' ? '' : `<div class="table-wrap"><table><thead><tr><th>method</th>${shiftNames.map((s) => `<th class="num">${esc(s)}</th>`).join('')}${oodHead}</tr></thead><tbody>${shiftRows}</tbody></table></div>`}
<p class="note">From <code>${esc(c.file)}</code>.</p>`;
  });
  return `<section id="comparison">
<h2>Comparison</h2>
${parts.join('\n')}
<div class="charts">
${chart(p, 'shifts', 'No distribution shifts were measured.')}
</div>
</section>`;
}

function versions(p: PageModel): string {
  const sources: Array<{ label: string; v: Record<string, string> }> = [{ label: 'this report', v: p.data.generator }];
  for (const m of p.data.models) for (const [src, v] of Object.entries(m.versions)) sources.push({ label: `${m.summary.name}: ${src}`, v });
  const keys = [...new Set(sources.flatMap((s) => Object.keys(s.v)))];
  const head = `<tr><th></th>${sources.map((s) => `<th>${esc(s.label)}</th>`).join('')}</tr>`;
  const rows = keys.map((k) => `<tr><th>${esc(k)}</th>${sources.map((s) => `<td>${esc(s.v[k] ?? '')}</td>`).join('')}</tr>`).join('');
  return `<section id="versions">
<h2>Versions</h2>
<div class="table-wrap"><table class="versions"><thead>${head}</thead><tbody>${rows}</tbody></table></div>
</section>`;
}

function inputs(p: PageModel): string {
  const rows = p.data.models.map((m) => `<tr><td class="nowrap">${swatch(m.summary.colour)}${esc(m.summary.name)}</td><td><code>${esc(m.summary.folder)}</code></td><td>${esc(m.summary.files.join(', '))}</td></tr>`).join('');
  const warnings = p.data.models.flatMap((m) => m.warnings.map((w) => `<li><strong>${esc(m.summary.name)}</strong>: ${esc(w)}</li>`));
  return `<section id="inputs">
<h2>Inputs</h2>
<div class="table-wrap"><table><thead><tr><th>model</th><th>folder</th><th>files read</th></tr></thead><tbody>${rows}</tbody></table></div>
${warnings.length > 0 ? `<ul class="warnings">${warnings.join('')}</ul>` : ''}
<p class="note">The numbers behind this page: <code>${esc(p.data.output.json)}</code>.</p>
</section>`;
}

const CSS = `
:root { --fg:#1d2329; --muted:#69737d; --line:#e4e7eb; --bg:#f6f7f9; --card:#fff; --pass:#1a7f37; --warn:#9a6700; --fail:#cf222e; }
* { box-sizing: border-box; }
body { margin:0; background:var(--bg); color:var(--fg); font:14px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; }
header { background:#1f2937; color:#f3f4f6; padding:22px 32px 14px; }
header h1 { margin:0 0 4px; font-size:22px; font-weight:650; }
header .sub { color:#c5cbd3; margin:0 0 10px; }
header .live code { background:#374151; color:#f3f4f6; padding:1px 6px; border-radius:4px; }
header .live a { color:#c9dcff; }
figure.example.resisted { border-color:#b7dfc2; }
nav a { color:#c9dcff; margin-right:16px; text-decoration:none; font-size:13px; }
nav a:hover { text-decoration:underline; }
main { max-width:1280px; margin:0 auto; padding:8px 32px 40px; }
section { margin-top:26px; }
h2 { font-size:18px; margin:0 0 12px; padding-bottom:6px; border-bottom:1px solid var(--line); }
h3 { font-size:15px; margin:18px 0 8px; }
h4 { font-size:13px; margin:14px 0 4px; }
code, pre { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, "Liberation Mono", monospace; font-size:12.5px; }
pre { background:#fff; border:1px solid var(--line); border-radius:6px; padding:10px 12px; margin:4px 0 8px; white-space:pre-wrap; word-break:break-word; }
pre.cmd { background:#f0f3f6; }
pre.cmd .w { white-space:nowrap; }
.charts + .table-wrap { margin-top:14px; }
.muted { color:var(--muted); } .small { font-size:12px; font-weight:normal; } .nowrap { white-space:nowrap; }
.note, .caption { color:var(--muted); font-size:12.5px; margin:6px 0; }
.empty { color:var(--muted); font-style:italic; margin:8px 0; }
.warning { color:var(--warn); font-size:13px; margin:4px 0; }
.swatch { display:inline-block; width:11px; height:11px; border-radius:3px; margin-right:7px; vertical-align:-1px; }
.players label { display:block; font-size:12px; color:var(--muted); } .players audio { height:28px; width:240px; vertical-align:middle; }
.cards { display:grid; grid-template-columns:repeat(auto-fill, minmax(270px, 1fr)); gap:14px; margin-bottom:16px; }
.card { background:var(--card); border:1px solid var(--line); border-top:4px solid #999; border-radius:8px; padding:12px 14px; }
.card-title { font-weight:650; font-size:15px; }
.metrics { display:flex; gap:18px; margin:10px 0 6px; }
.metric { flex:1; min-width:0; }
.metric .value { font-size:26px; font-weight:680; line-height:1.1; font-variant-numeric:tabular-nums; }
.metric .label { color:var(--muted); font-size:12px; margin:2px 0 5px; }
.meter { height:6px; background:#eceff2; border-radius:3px; overflow:hidden; }
.meter span { display:block; height:100%; border-radius:3px; }
.badges { margin-top:8px; }
.badge { display:inline-block; font-size:11px; font-weight:700; letter-spacing:.02em; padding:1px 7px; border-radius:10px; margin-right:5px; color:#fff; vertical-align:1px; }
.badge.pass { background:var(--pass); } .badge.warn { background:#bf8700; } .badge.fail { background:var(--fail); } .badge.unknown { background:#6e7781; }
.table-wrap { overflow-x:auto; }
table { border-collapse:collapse; background:#fff; border:1px solid var(--line); font-size:13px; }
th, td { padding:6px 10px; border-bottom:1px solid var(--line); text-align:left; vertical-align:top; }
thead th { background:#f0f2f4; font-weight:600; font-size:12px; }
td.num, th.num { text-align:right; font-variant-numeric:tabular-nums; }
td.best { font-weight:700; }
.charts { display:flex; flex-wrap:wrap; gap:16px; }
figure { margin:0; }
figure.chart { background:#fff; border:1px solid var(--line); border-radius:8px; padding:10px 12px; max-width:100%; }
figure.chart .svg { overflow-x:auto; }
figure.chart svg { display:block; max-width:none; }
figure.chart .caption { max-width:480px; }
figure.chart.missing { min-width:300px; }
.model-block { margin-bottom:18px; }
.repro { display:grid; grid-template-columns:minmax(0, 3fr) minmax(240px, 2fr); gap:16px; align-items:start; }
@media (max-width: 900px) { .repro { grid-template-columns:minmax(0, 1fr); } }
pre.json { font-size:12px; line-height:1.4; overflow:auto; }
.model-heading { display:flex; align-items:center; gap:2px; }
.model-heading .small { margin-left:8px; }
.examples { display:flex; flex-wrap:wrap; gap:10px; }
figure.example { background:#fff; border:1px solid var(--line); border-radius:6px; padding:6px; }
figure.example img { display:block; image-rendering:pixelated; }
.swapped-list { list-style:none; padding:0; } li.swapped { margin:6px 0; line-height:1.5; } li.swapped mark { background:#fde68a; padding:0 2px; } li.swapped del { color:#b91c1c; }
figure.example figcaption { font-size:12px; margin-top:4px; max-width:320px; }
.ok { color:var(--pass); } .bad { color:var(--fail); }
.finding { background:#fff; border:1px solid var(--line); border-left:4px solid #6e7781; border-radius:6px; padding:8px 12px; margin:8px 0; }
.finding.pass { border-left-color:var(--pass); } .finding.warn { border-left-color:#bf8700; } .finding.fail { border-left-color:var(--fail); }
.finding p { margin:4px 0 6px; }
table.evidence { font-size:12px; margin:2px 0 4px; }
table.evidence th { background:#f6f8fa; font-weight:600; white-space:nowrap; }
table.evidence th, table.evidence td { padding:3px 8px; }
table.evidence.inner { margin:0; border-color:#eef0f2; }
table.evidence.inner td { text-align:right; font-variant-numeric:tabular-nums; }
table.versions td, table.versions th { font-size:12px; }
details summary { cursor:pointer; font-weight:600; font-size:13px; margin-top:10px; }
ul.warnings { color:var(--warn); }
footer { color:var(--muted); font-size:12px; text-align:center; padding:20px; }
@media print { body { background:#fff; } header { background:#fff; color:#000; } nav { display:none; } figure.chart, .card { break-inside:avoid; } }
`;

export function renderPage(p: PageModel): string {
  const d = p.data;
  const datasets = [...new Set(d.models.map((m) => m.summary.dataset).filter((x): x is string => x !== null))];
  const threats = [...new Set(d.models.map((m) => threatLabel(m.summary.threat)).filter((x) => x !== '—'))];
  const sub = [`${d.models.length} model${d.models.length === 1 ? '' : 's'}`, datasets.join(', '), threats.join(', '), `generated ${d.generatedAt.replace('T', ' ').replace(/\.\d+Z$/, ' UTC')}`]
    .filter((x) => x !== '').join(' · ');
  const nav = [['overview', 'Overview'], ['robustness', 'Robustness'], ['training', 'Training'], ['examples', 'Examples'], ['findings', 'Findings'], ...((p.data.comparison ?? []).length > 0 ? [['comparison', 'Comparison']] : []), ...((p.data.detection ?? []).length > 0 ? [['detection', 'Detection']] : []), ['reproduce', 'Reproduce'], ['versions', 'Versions'], ['inputs', 'Inputs']]
    .map(([id, label]) => `<a href="#${id}">${label}</a>`).join('');
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="alp ${esc(d.generator['alp'] ?? '')}">
<title>${esc(d.title)}</title>
<style>${CSS}</style>
</head>
<body>
<header>
<h1>${esc(d.title)}</h1>
<p class="sub">${esc(sub)}</p>
${d.playground !== null ? `<p class="sub live">Attack these models live in your browser: <code>${esc(d.playground.line)}</code> <a href="#reproduce">(more)</a></p>` : ''}
<nav>${nav}</nav>
</header>
<main>
${overview(p)}
${robustness(p)}
${training(p)}
${examples(p)}
${findings(p)}
${comparison(p)}
${detection(p)}
${reproduce(p)}
${versions(p)}
${inputs(p)}
</main>
<footer>Generated by alp ${esc(d.generator['alp'] ?? '')} (vega ${esc(d.generator['vega'] ?? '')}, vega-lite ${esc(d.generator['vega-lite'] ?? '')}). Self-contained: no scripts, nothing loaded from the network.</footer>
</body>
</html>
`;
}
