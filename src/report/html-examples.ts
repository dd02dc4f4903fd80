/** The page's Adversarial examples section: image and audio strips per model, and word-swapped messages. */
import { excerpt } from '../attack/text/marked.js';
import type { ExampleSet } from './examples.js';
import { esc, pct } from './html-format.js';
import { empty, modelHeading, section } from './html-pieces.js';
import type { ModelReport, PageModel } from './page-model.js';

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

export function examples(p: PageModel): string {
  const blocks = p.data.models.map((m, i) => {
    const ex = p.examples[i];
    return (ex === null || ex === undefined ? '' : exampleCards(m, ex)) + wordSwapBlock(m);
  }).filter((b) => b !== '');
  return section('examples', 'Adversarial examples', `${blocks.length > 0 ? blocks.join('\n') : empty('No adversarial images: <code>alp audit</code> writes them (examples.f32 beside audit.json).')}`);
}
