/** Small pieces of report markup that several sections use: badges, swatches, meters, headings, charts, commands. */
import { shellQuote } from './commands.js';
import { esc, pct } from './html-format.js';
import type { ChartData, Command, ModelReport, PageModel } from './page-model.js';
import type { FindingData } from './runs.js';

export function badge(status: FindingData['status'], text?: string): string {
  return `<span class="badge ${status}">${esc(text ?? status.toUpperCase())}</span>`;
}

export function swatch(colour: string): string {
  return `<span class="swatch" style="background:${colour}"></span>`;
}

/** A percentage cell with a faint bar behind the number. */
export function pctCell(v: number | null, best: boolean, colour: string): string {
  if (v === null || !Number.isFinite(v)) return '<td class="num muted">—</td>';
  const w = Math.max(0, Math.min(100, v * 100)).toFixed(1);
  return `<td class="num${best ? ' best' : ''}" style="background:linear-gradient(90deg, ${colour}2e ${w}%, transparent ${w}%)">${pct(v)}</td>`;
}

export function meter(v: number | null, colour: string): string {
  const w = v === null || !Number.isFinite(v) ? 0 : Math.max(0, Math.min(100, v * 100));
  return `<div class="meter"><span style="width:${w.toFixed(1)}%;background:${colour}"></span></div>`;
}

export function empty(text: string): string {
  return `<p class="empty">${text}</p>`;
}

export function modelHeading(m: ModelReport, level = 3): string {
  const s = m.summary;
  return `<h${level} class="model-heading">${swatch(s.colour)}${esc(s.name)} <span class="muted small">${esc(s.folder)}</span></h${level}>`;
}

export function chartFigure(c: ChartData, svg: string | undefined, why: string): string {
  if (svg === undefined) return `<figure class="chart missing" id="chart-${c.id}"><figcaption><strong>${esc(c.title)}</strong></figcaption>${empty(why)}</figure>`;
  return `<figure class="chart" id="chart-${c.id}"><figcaption><strong>${esc(c.title)}</strong></figcaption><div class="svg">${svg}</div><p class="caption">${esc(c.caption)}</p></figure>`;
}

export function chart(p: PageModel, id: ChartData['id'], why: string): string {
  const c = p.data.charts.find((x) => x.id === id);
  return c === undefined ? '' : chartFigure(c, p.svgs[id], why);
}

/** A command line that wraps only between words (never at the hyphens inside an option). */
export function commandBlock(c: Command): string {
  return `<pre class="cmd">${c.argv.map((w) => `<span class="w">${esc(shellQuote(w))}</span>`).join(' ')}</pre>`;
}


/** One section of the page: its anchor, its heading and what follows. */
export function section(id: string, title: string, body: string): string {
  return `<section id="${id}">\n<h2>${title}</h2>\n${body}\n</section>`;
}
