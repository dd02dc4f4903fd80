/**
 * Text formats of the report page: HTML escaping, percentages, durations, threat labels, counts and
 * the short forms of evidence values and configs.
 */
import type { Threat } from './runs.js';

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

export function count(n: number | null): string {
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

export function pctOrDash(v: number): string {
  return Number.isFinite(v) ? pct(v) : '—';
}

export function aucCell(v: number): string {
  return Number.isFinite(v) ? v.toFixed(3) : '—';
}
