/**
 * Where the model zoo is and how `zoo:NAME` names one of its models. The zoo is the `zoo/` folder of the
 * package (beside `dist/`), one folder per model; `ALP_ZOO_DIR` points elsewhere (tests, a mirror).
 * No TF.js here: the CLI resolves `--model zoo:NAME` while it parses options.
 */
import { existsSync, readdirSync } from 'node:fs';
import { join, relative, resolve, isAbsolute, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { UserError } from '../util/errors.js';

export const ZOO_PREFIX = 'zoo:';
/** Where results of zoo models go by default (relative to the working directory): never the zoo itself. */
export const ZOO_RUNS = join('runs', 'zoo');
const NAME = /^[a-z0-9][a-z0-9-]*$/;

/** The zoo folder: $ALP_ZOO_DIR, else the package's own `zoo/`. */
export function zooRoot(): string {
  const env = process.env['ALP_ZOO_DIR'];
  return env !== undefined && env !== '' ? resolve(env) : fileURLToPath(new URL('../../zoo', import.meta.url));
}

/** The names of the zoo's models (folders holding model.json and card.json), sorted. */
export function zooNames(root = zooRoot()): string[] {
  if (!existsSync(root)) return [];
  return readdirSync(root, { withFileTypes: true })
    .filter((e) => e.isDirectory() && NAME.test(e.name) && existsSync(join(root, e.name, 'model.json')) && existsSync(join(root, e.name, 'card.json')))
    .map((e) => e.name)
    .sort();
}

/** The folder of zoo model `name`; a UserError naming the models there when it is not one. */
export function zooModelDir(name: string, root = zooRoot()): string {
  if (!NAME.test(name)) throw new UserError(`zoo:${name}: expected a zoo model name (lower-case letters, digits, '-'), got '${name}'`);
  const dir = join(root, name);
  if (!existsSync(join(dir, 'model.json')) || !existsSync(join(dir, 'card.json'))) {
    const names = zooNames(root);
    throw new UserError(`zoo:${name}: no such model in ${root} (expected one of: ${names.length > 0 ? names.join(', ') : 'none, the zoo is empty'})`);
  }
  return dir;
}

/** `zoo:NAME` → the model's folder; any other reference is returned as given. */
export function resolveModelRef(ref: string): string {
  return ref.startsWith(ZOO_PREFIX) ? zooModelDir(ref.slice(ZOO_PREFIX.length)) : ref;
}

/** The zoo model a path lies in (its name), or undefined when the path is outside the zoo. */
export function zooModelOf(path: string, root = zooRoot()): string | undefined {
  const rel = relative(root, resolve(path));
  if (rel === '' || rel.startsWith('..') || isAbsolute(rel)) return rel === '' ? '' : undefined;
  return rel.split(sep)[0];
}

/** True when `path` is the zoo folder or anything inside it. */
export function insideZoo(path: string, root = zooRoot()): boolean {
  return zooModelOf(path, root) !== undefined;
}

/**
 * Refuses (exit 2) an output inside the zoo: a packaged model's folder holds only what `alp zoo add`
 * wrote, so every number beside it is the card's. Results of zoo models go under runs/zoo/NAME.
 */
export function refuseZooOutput(path: string, what = 'output'): void {
  const name = zooModelOf(path);
  if (name === undefined) return;
  const instead = name === '' ? ZOO_RUNS : join(ZOO_RUNS, name);
  throw new UserError(`${path}: refusing to write ${what} into the model zoo (${zooRoot()}); its models are read-only, write under ${instead} instead`);
}

