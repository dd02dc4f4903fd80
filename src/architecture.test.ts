/**
 * The dependency rule, computed from the sources: no folder of src/ imports a folder that imports it
 * back (directly or round a longer loop; `import type` counts, since a type belongs to the layer that
 * owns the data), and no file of src/ is over 450 lines. Tests are left out of the folder graph (a
 * test may reach up to run what it checks) but not out of the line limit.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { REPO_ROOT } from './testing/readme.js';

const SRC = join(REPO_ROOT, 'src');
const MAX_LINES = 450;

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    return statSync(p).isDirectory() ? sources(p) : p.endsWith('.ts') ? [p] : [];
  });
}

/** The relative module specifiers of one file: `import … from`, `export … from`, side-effect imports and `import()`. */
export function relativeImports(text: string): string[] {
  const out: string[] = [];
  for (const m of text.matchAll(/(?:^|[;\s])(?:import|export)\s[^'"`;]*?from\s*['"](\.[^'"]+)['"]|(?:^|\s)import\s*['"](\.[^'"]+)['"]|import\(\s*['"](\.[^'"]+)['"]\s*\)/gm)) {
    out.push((m[1] ?? m[2] ?? m[3]) as string);
  }
  return out;
}

/** Folder → the folders it imports, with one importing file per edge (for the message). */
export function folderGraph(files: readonly string[], root: string): Map<string, Map<string, string>> {
  const top = (p: string): string | null => {
    const parts = relative(root, p).split(sep);
    return parts.length > 1 ? (parts[0] as string) : null; // files directly in src/ sit above every folder
  };
  const g = new Map<string, Map<string, string>>();
  for (const f of files) {
    const from = top(f);
    if (from === null) continue;
    for (const spec of relativeImports(readFileSync(f, 'utf8'))) {
      const to = top(resolve(dirname(f), spec));
      if (to === null || to === from) continue;
      if (!g.has(from)) g.set(from, new Map());
      const edges = g.get(from) as Map<string, string>;
      if (!edges.has(to)) edges.set(to, `${relative(root, f)} → ${spec}`);
    }
  }
  return g;
}

/** The strongly connected components with more than one folder (Tarjan): each is a cycle or a knot of them. */
export function cycles(g: Map<string, Map<string, string>>): string[][] {
  let next = 0;
  const index = new Map<string, number>(), low = new Map<string, number>(), stack: string[] = [], on = new Set<string>();
  const found: string[][] = [];
  const visit = (v: string): void => {
    index.set(v, next);
    low.set(v, next++);
    stack.push(v);
    on.add(v);
    for (const w of g.get(v)?.keys() ?? []) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v) as number, low.get(w) as number));
      } else if (on.has(w)) low.set(v, Math.min(low.get(v) as number, index.get(w) as number));
    }
    if (low.get(v) === index.get(v)) {
      const scc: string[] = [];
      let w: string;
      do {
        w = stack.pop() as string;
        on.delete(w);
        scc.push(w);
      } while (w !== v);
      if (scc.length > 1) found.push(scc.sort());
    }
  };
  for (const v of g.keys()) if (!index.has(v)) visit(v);
  return found;
}

test('the import scanner sees every form of relative import, type imports included', () => {
  const text = "import type { A } from '../a/x.js';\nimport { b } from './b.js';\nexport { c } from '../c/y.js';\nimport '../d/z.js';\nconst m = await import('../e/w.js');\nimport * as tf from '@tensorflow/tfjs';";
  assert.deepEqual(relativeImports(text), ['../a/x.js', './b.js', '../c/y.js', '../d/z.js', '../e/w.js']);
});

test('cycles finds a two-folder cycle and a longer loop, and nothing in a layered graph', () => {
  const g = (edges: Array<[string, string]>): Map<string, Map<string, string>> => {
    const m = new Map<string, Map<string, string>>();
    for (const [a, b] of edges) m.set(a, (m.get(a) ?? new Map()).set(b, `${a}→${b}`));
    return m;
  };
  assert.deepEqual(cycles(g([['a', 'b'], ['b', 'a'], ['c', 'a']])), [['a', 'b']]);
  assert.deepEqual(cycles(g([['a', 'b'], ['b', 'c'], ['c', 'a']])), [['a', 'b', 'c']]);
  assert.deepEqual(cycles(g([['cli', 'jobs'], ['jobs', 'eval'], ['jobs', 'artifacts'], ['artifacts', 'eval']])), []);
});

test('no folder of src/ imports a folder that imports it back (type imports count; tests left out)', () => {
  const files = sources(SRC).filter((f) => !f.endsWith('.test.ts'));
  const g = folderGraph(files, SRC);
  const found = cycles(g);
  const explain = found.map((scc) => `{${scc.join(', ')}}: ` + scc.flatMap((a) => scc.filter((b) => g.get(a)?.has(b)).map((b) => g.get(a)?.get(b) as string)).join('; '));
  assert.deepEqual(explain, []);
});

test(`no file of src/ is over ${MAX_LINES} lines`, () => {
  const long = sources(SRC)
    .map((f) => ({ file: relative(REPO_ROOT, f), lines: readFileSync(f, 'utf8').split('\n').length - 1 }))
    .filter((f) => f.lines > MAX_LINES)
    .map((f) => `${f.file}: ${f.lines} lines`);
  assert.deepEqual(long, []);
});
