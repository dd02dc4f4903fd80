/**
 * The page's sections other than examples and findings: the models side by side, robustness and
 * training charts, comparison and detection tables, the commands that reproduce each run, versions
 * and inputs.
 */
import { aucCell, compactJson, count, duration, esc, pct, pctOrDash, threatLabel } from './html-format.js';
import { badge, chart, commandBlock, empty, meter, modelHeading, pctCell, section, swatch } from './html-pieces.js';
import type { ModelReport, PageModel } from './page-model.js';

export function overview(p: PageModel): string {
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
  return section('overview', 'Models side by side', `<div class="cards">${cards}</div>
<div class="table-wrap"><table class="summary"><thead><tr>${head}</tr></thead><tbody>${rows}</tbody></table></div>
<p class="note">Robust accuracy counts an example only if it is classified correctly and no attack in the suite fools it. The highest value in each column is in bold. Percentages are of the evaluated test examples.</p>`);
}

export function robustness(p: PageModel): string {
  return section('robustness', 'Robustness', `<div class="charts">
${chart(p, 'sweep', 'No ε sweep: run <code>alp audit</code>, or <code>alp eval --eps-sweep 0,0.1,0.2,0.3,0.4</code>.')}
${chart(p, 'attacks', 'No eval.json: run <code>alp eval --model DIR</code>.')}
${chart(p, 'cascade', 'No audit.json: run <code>alp audit --model DIR</code>.')}
</div>`);
}

export function training(p: PageModel): string {
  const rows = p.data.models.filter((m) => m.training !== null || m.summary.trainSeconds !== null).map((m) => {
    const t = m.training;
    const last = t?.evals[t.evals.length - 1];
    return `<tr><td class="nowrap">${swatch(m.summary.colour)}${esc(m.summary.name)}</td><td class="num">${esc(t?.steps ?? '—')}</td><td class="num">${esc(t?.epochs.length ?? '—')}</td><td class="num">${esc(t?.trainExamples ?? '—')}</td><td class="num">${esc(t?.valExamples ?? '—')}</td><td class="num">${pct(last?.cleanAcc ?? null)}</td><td class="num">${pct(last?.robustAcc ?? null)}</td><td class="num nowrap">${esc(duration(m.summary.trainSeconds))}</td><td>${esc(t?.fineTunedFrom ?? '')}</td></tr>`;
  }).join('\n');
  const table = rows === '' ? '' : `<div class="table-wrap"><table><thead><tr><th>model</th><th class="num">steps</th><th class="num">epochs</th><th class="num">train examples</th><th class="num">validation examples</th><th class="num">last val. clean</th><th class="num">last val. robust</th><th class="num">time</th><th>fine-tuned from</th></tr></thead><tbody>${rows}</tbody></table></div>`;
  return section('training', 'Training', `<div class="charts">
${chart(p, 'loss', 'No train.json with per-epoch losses.')}
${chart(p, 'validation', 'No train.json with validation points.')}
</div>
${table}`);
}

export function reproduce(p: PageModel): string {
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
  return section('reproduce', 'Reproduce', `${live}
${blocks.join('\n')}`);
}

export function detection(p: PageModel): string {
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
  return section('detection', 'Detection', tables.join('\n'));
}

export function comparison(p: PageModel): string {
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
  return section('comparison', 'Comparison', `${parts.join('\n')}
<div class="charts">
${chart(p, 'shifts', 'No distribution shifts were measured.')}
</div>`);
}

export function versions(p: PageModel): string {
  const sources: Array<{ label: string; v: Record<string, string> }> = [{ label: 'this report', v: p.data.generator }];
  for (const m of p.data.models) for (const [src, v] of Object.entries(m.versions)) sources.push({ label: `${m.summary.name}: ${src}`, v });
  const keys = [...new Set(sources.flatMap((s) => Object.keys(s.v)))];
  const head = `<tr><th></th>${sources.map((s) => `<th>${esc(s.label)}</th>`).join('')}</tr>`;
  const rows = keys.map((k) => `<tr><th>${esc(k)}</th>${sources.map((s) => `<td>${esc(s.v[k] ?? '')}</td>`).join('')}</tr>`).join('');
  return section('versions', 'Versions', `<div class="table-wrap"><table class="versions"><thead>${head}</thead><tbody>${rows}</tbody></table></div>`);
}

export function inputs(p: PageModel): string {
  const rows = p.data.models.map((m) => `<tr><td class="nowrap">${swatch(m.summary.colour)}${esc(m.summary.name)}</td><td><code>${esc(m.summary.folder)}</code></td><td>${esc(m.summary.files.join(', '))}</td></tr>`).join('');
  const warnings = p.data.models.flatMap((m) => m.warnings.map((w) => `<li><strong>${esc(m.summary.name)}</strong>: ${esc(w)}</li>`));
  return section('inputs', 'Inputs', `<div class="table-wrap"><table><thead><tr><th>model</th><th>folder</th><th>files read</th></tr></thead><tbody>${rows}</tbody></table></div>
${warnings.length > 0 ? `<ul class="warnings">${warnings.join('')}</ul>` : ''}
<p class="note">The numbers behind this page: <code>${esc(p.data.output.json)}</code>.</p>`);
}
