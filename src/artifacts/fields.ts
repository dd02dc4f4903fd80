/**
 * Lenient readers shared by every run-file parser: a field of the wrong type reads as null (or is
 * dropped), so a hand-edited or older file still gives a page; malformed JSON is a UserError naming
 * the file.
 */
import { readFileSync } from 'node:fs';
import { UserError } from '../util/errors.js';

export type Obj = Record<string, unknown>;

export interface Threat {
  norm: string;
  eps: number;
}

export interface SweepPoint {
  eps: number;
  robustAccuracy: number;
}

export const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

export const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);

export const str = (v: unknown): string | null => (typeof v === 'string' ? v : null);

export const arr = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);

export const obj = (v: unknown): Obj | null => (isObj(v) ? v : null);

export function versionsOf(v: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (!isObj(v)) return out;
  for (const [k, x] of Object.entries(v)) if (typeof x === 'string' || typeof x === 'number' || typeof x === 'boolean') out[k] = String(x);
  return out;
}

export function threatOf(v: unknown): Threat | null {
  if (!isObj(v)) return null;
  const norm = str(v['norm']);
  const eps = num(v['eps']);
  return norm !== null && eps !== null ? { norm, eps } : null;
}

export function sweepOf(v: unknown): SweepPoint[] {
  const out: SweepPoint[] = [];
  for (const p of arr(v)) {
    if (!isObj(p)) continue;
    const eps = num(p['eps']);
    const acc = num(p['robustAccuracy']);
    if (eps !== null && acc !== null) out.push({ eps, robustAccuracy: acc });
  }
  return out.sort((a, b) => a.eps - b.eps);
}

export function numbersOrNull(v: unknown, n: number): Array<number | null> {
  const a = arr(v);
  return Array.from({ length: n }, (_, i) => num(a[i]));
}

/** Parses a JSON file that must hold an object; the error names the file and what went wrong. */
export function readJsonObject(path: string): Obj {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new UserError(`${path}: cannot read: ${e instanceof Error ? e.message : String(e)}`);
  }
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    throw new UserError(`${path}: malformed JSON: ${e instanceof Error ? e.message : String(e)}`);
  }
  if (!isObj(v)) throw new UserError(`${path}: expected a JSON object, found ${Array.isArray(v) ? 'an array' : v === null ? 'null' : typeof v}`);
  return v;
}

/** The fields every eval/audit file carries about its run: what was measured, on which weights, by which build. */
export interface RunHeader {
  model: string | null;
  dataset: string | null;
  threat: Threat | null;
  seconds: number | null;
  versions: Record<string, string>;
  /** The file's schema id, or null for files written before schemas (read leniently all the same). */
  schema: string | null;
  /** sha256 of the weights the numbers were measured on, when the file recorded it. */
  weightsHash: string | null;
}

export function runHeaderOf(j: Obj): RunHeader {
  return {
    model: str(j['model']), dataset: str(j['dataset']), threat: threatOf(j['threat']), seconds: num(j['seconds']),
    versions: versionsOf(j['versions']), schema: str(j['schema']), weightsHash: str(j['weightsHash']),
  };
}
