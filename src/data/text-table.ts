/**
 * Labelled texts from a table: CSV or TSV with a header row (csv-parse), or JSON Lines (one object per
 * line). The text and label columns are named by the user (default `text` and `label`). A row that
 * lacks either, or has more or fewer fields than the header, is refused with its line number.
 */
import { readFileSync } from 'node:fs';
import { extname } from 'node:path';
import { parse } from 'csv-parse/sync';
import { UserError } from '../util/errors.js';

export interface TextRow {
  text: string;
  label: string;
  /** 1-based line of the row in its file, for messages. */
  line: number;
}

export interface TableOptions {
  textColumn?: string;
  labelColumn?: string;
}

function readText(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (e) {
    throw new UserError(`${path}: cannot read it (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
}

/** The rows of a .csv, .tsv or .jsonl/.ndjson file. */
export function readTextTable(path: string, o: TableOptions = {}): TextRow[] {
  const textCol = o.textColumn ?? 'text';
  const labelCol = o.labelColumn ?? 'label';
  const ext = extname(path).toLowerCase();
  const src = readText(path);
  const rows: TextRow[] = [];
  if (ext === '.jsonl' || ext === '.ndjson') {
    src.split(/\r?\n/).forEach((line, i) => {
      if (line.trim() === '') return;
      let v: unknown;
      try {
        v = JSON.parse(line);
      } catch (e) {
        throw new UserError(`${path}: line ${i + 1}: not JSON (${(e as Error).message})`);
      }
      if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new UserError(`${path}: line ${i + 1}: expected a JSON object`);
      const r = v as Record<string, unknown>;
      const text = r[textCol];
      const label = r[labelCol];
      if (typeof text !== 'string') throw new UserError(`${path}: line ${i + 1}: expected a string field "${textCol}" (--text-column), found ${text === undefined ? 'none' : typeof text}`);
      if (typeof label !== 'string' && typeof label !== 'number') throw new UserError(`${path}: line ${i + 1}: expected a string or number field "${labelCol}" (--label-column), found ${label === undefined ? 'none' : typeof label}`);
      rows.push({ text, label: String(label), line: i + 1 });
    });
    return rows;
  }
  let records: string[][];
  try {
    records = parse(src, { delimiter: ext === '.tsv' ? '\t' : ',', skip_empty_lines: true, bom: true, relax_quotes: false }) as string[][];
  } catch (e) {
    throw new UserError(`${path}: ${(e as Error).message.replace(/^Invalid Record Length: /, 'a row has the wrong number of fields: ')}`);
  }
  const header = records[0];
  if (header === undefined) throw new UserError(`${path}: empty table (expected a header row with "${textCol}" and "${labelCol}")`);
  const ti = header.indexOf(textCol);
  const li = header.indexOf(labelCol);
  if (ti < 0 || li < 0) {
    throw new UserError(`${path}: no column "${ti < 0 ? textCol : labelCol}" (${ti < 0 ? '--text-column' : '--label-column'}); the header has ${header.map((h) => JSON.stringify(h)).join(', ')}`);
  }
  for (let r = 1; r < records.length; r++) {
    const rec = records[r] as string[];
    if (rec.length !== header.length) throw new UserError(`${path}: row ${r + 1}: expected ${header.length} fields like the header, found ${rec.length}`);
    const label = (rec[li] as string).trim();
    if (label === '') throw new UserError(`${path}: row ${r + 1}: empty label in column "${labelCol}"`);
    rows.push({ text: rec[ti] as string, label, line: r + 1 });
  }
  if (rows.length === 0) throw new UserError(`${path}: no rows below the header`);
  return rows;
}

/** Class names of label values: numeric order when every label is an integer, else code-point order. */
export function classNamesOf(labels: Iterable<string>): string[] {
  const set = [...new Set(labels)];
  if (set.every((l) => /^-?\d+$/.test(l))) return set.sort((a, b) => Number(a) - Number(b));
  return set.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}
