/**
 * The playground as a set of files (Node side): the page, its two scripts, the alp.js bundle, TF.js's
 * wasm binaries, playground.json, the test inputs, and every model's model.json, weights and
 * detector.json. `alp playground` serves this set; `--export` writes it as a static folder.
 */
import { existsSync, readdirSync, readFileSync, realpathSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { basename, dirname, join, resolve, sep } from 'node:path';
import { BUNDLES, DIST } from '../browser/build-bundle.js';
import { subset, type Dataset } from '../data/dataset.js';
import { DATASET_NAMES, loadDataset, type DatasetName } from '../data/registry.js';
import { OptionError, UserError } from '../util/errors.js';
import { playgroundHtml } from './page.js';
import { MANIFEST_FILE, type Modality, type PlaygroundManifest } from './protocol.js';

/** URL path (no leading slash) → file contents or the file to read. */
export type SiteFiles = Map<string, Buffer | { path: string }>;

export interface PlaygroundSite {
  manifest: PlaygroundManifest;
  files: SiteFiles;
}

export interface SiteOptions {
  /** Test inputs from this dataset (default: the one model.json records). */
  dataset?: DatasetName;
  /** Test inputs shipped with the page (the first N of the test split). Default 100. */
  samples?: number;
  dataDir?: string;
  title?: string;
  /** Graph models: the node that gives the logits (`--output-node`), for every model of the page. */
  outputNode?: string;
  /** Use these inputs instead of loading a dataset (tests). */
  data?: Dataset;
  /** Keep only the models trained on `dataset` (a folder of models of several datasets, such as the zoo). */
  onlyDataset?: boolean;
}

interface FoundModel {
  name: string;
  dir: string;
  json: Record<string, unknown>;
}

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function readModelJson(file: string): Record<string, unknown> {
  let v: unknown;
  try {
    v = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new UserError(`${file}: expected a TF.js model.json, could not parse it: ${(e as Error).message}`);
  }
  if (!isObj(v) || !Array.isArray(v['weightsManifest'])) throw new UserError(`${file}: expected a TF.js Layers model.json with a weightsManifest`);
  return v;
}

/** The models of a run folder: the folder itself if it holds model.json, else its subfolders that do. */
export function findModels(runDir: string): FoundModel[] {
  if (!existsSync(runDir)) throw new UserError(`${runDir}: no such folder (expected a run folder such as runs/demo; train one with: npm run demo)`);
  if (!statSync(runDir).isDirectory()) throw new UserError(`${runDir}: expected a run folder, found a file`);
  if (existsSync(join(runDir, 'model.json'))) {
    return [{ name: basename(resolve(runDir)), dir: runDir, json: readModelJson(join(runDir, 'model.json')) }];
  }
  const out: FoundModel[] = [];
  for (const e of readdirSync(runDir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
    const f = join(runDir, e.name, 'model.json');
    if (e.isDirectory() && /^[\w.-]+$/.test(e.name) && existsSync(f)) out.push({ name: e.name, dir: join(runDir, e.name), json: readModelJson(f) });
  }
  if (out.length === 0) throw new UserError(`${runDir}: expected model.json in it or in its subfolders, found none`);
  return out;
}

function alpConfig(m: FoundModel): Record<string, unknown> {
  const meta = m.json['userDefinedMetadata'];
  const alp = isObj(meta) ? meta['alp'] : undefined;
  const c = isObj(alp) ? alp['config'] : undefined;
  return isObj(c) ? c : {};
}

function wasmDir(): string {
  const main = createRequire(import.meta.url).resolve('@tensorflow/tfjs-backend-wasm');
  return dirname(main);
}

function asset(path: string): { path: string } {
  if (!existsSync(path)) throw new UserError(`${path}: missing; build the browser bundle first: npm run build`);
  return { path };
}

/**
 * `file`, checked to be inside the run folder after following links: a link in a run folder that
 * points elsewhere is neither served nor exported (as alp eval refuses such weight files).
 */
function insideRun(runDir: string, file: string): { path: string } {
  const root = realpathSync(runDir);
  const real = realpathSync(file);
  if (real !== root && !real.startsWith(root.endsWith(sep) ? root : root + sep)) {
    throw new UserError(`${file}: expected a file inside the run folder ${root}, found a link to ${real} outside it; copy the file into the run instead`);
  }
  return { path: file };
}

export function buildSite(runDir: string, o: SiteOptions = {}): PlaygroundSite {
  const found = findModels(runDir);
  const only = o.onlyDataset === true ? (o.data?.name ?? o.dataset) : undefined;
  const models = only === undefined ? found : found.filter((m) => alpConfig(m)['dataset'] === only);
  if (models.length === 0) throw new UserError(`${runDir}: no model there was trained on ${String(only)}; pass --data with one of ${[...new Set(found.map((m) => String(alpConfig(m)['dataset'])))].join(', ')}`);
  const recorded = [...new Set(models.map((m) => alpConfig(m)['dataset']).filter((d): d is string => typeof d === 'string'))];
  if (o.dataset === undefined && o.data === undefined && recorded.length > 1) {
    throw new UserError(`${runDir}: the models were trained on different datasets (${recorded.join(', ')}); pass --data`);
  }
  const name = o.data?.name ?? o.dataset ?? recorded[0];
  if (name === undefined) throw new UserError(`${runDir}: model.json records no dataset; pass --data (${DATASET_NAMES.join(', ')})`);
  if (o.data === undefined && !(DATASET_NAMES as readonly string[]).includes(name)) {
    throw new UserError(`${runDir}: model.json records dataset '${name}', expected one of ${DATASET_NAMES.join(', ')}; pass --data`);
  }
  const n = o.samples ?? 100;
  if (!Number.isInteger(n) || n < 1) throw new OptionError(`{samples}: expected an integer ≥ 1, got ${n}`);
  const full = o.data ?? loadDataset(name as DatasetName, 'test', o.dataDir !== undefined ? { dataDir: o.dataDir } : {});
  const ds = subset(full, 0, Math.min(n, full.count));
  const modality: Modality = ds.vocabulary !== undefined ? 'text' : ds.sampleRate !== undefined ? 'audio' : 'image';

  const files: SiteFiles = new Map();
  const first = alpConfig(models[0] as FoundModel);
  const manifest: PlaygroundManifest = {
    format: 'alp-playground',
    title: o.title ?? `alp playground: ${models.map((m) => m.name).join(' vs ')}`,
    dataset: ds.name,
    modality,
    shape: ds.shape,
    numClasses: ds.numClasses,
    classNames: ds.classNames ?? Array.from({ length: ds.numClasses }, (_, k) => String(k)),
    sampleRate: ds.sampleRate ?? null,
    samples: modality === 'text' ? null : { url: 'data/samples.f32', count: ds.count, labels: Array.from(ds.labels) },
    models: [],
    defaults: {
      norm: first['norm'] === 'l2' ? 'l2' : 'linf',
      eps: typeof first['eps'] === 'number' ? first['eps'] : 0.3,
      steps: 40,
    },
  };
  for (const m of models) {
    const base = `models/${m.name}/`;
    files.set(`${base}model.json`, insideRun(runDir, join(m.dir, 'model.json')));
    for (const g of m.json['weightsManifest'] as unknown[]) {
      const paths = isObj(g) && Array.isArray(g['paths']) ? g['paths'] : [];
      for (const p of paths) {
        if (typeof p !== 'string' || !/^[\w.-]+$/.test(p)) throw new UserError(`${join(m.dir, 'model.json')}: weightsManifest path ${JSON.stringify(p)}: expected a file name beside model.json`);
        const w = join(m.dir, p);
        if (!existsSync(w)) throw new UserError(`${w}: missing (listed in the weightsManifest of ${join(m.dir, 'model.json')})`);
        files.set(base + p, insideRun(runDir, w));
      }
    }
    const det = join(m.dir, 'detector.json');
    const hasDet = existsSync(det);
    if (hasDet) files.set(`${base}detector.json`, insideRun(runDir, det));
    const method = alpConfig(m)['method'];
    manifest.models.push({ name: m.name, url: `${base}model.json`, detectorUrl: hasDet ? `${base}detector.json` : null, method: typeof method === 'string' ? method : null, ...(o.outputNode !== undefined ? { outputNode: o.outputNode } : {}) });
  }
  if (manifest.samples !== null) files.set(manifest.samples.url, Buffer.from(ds.images.buffer, ds.images.byteOffset, ds.images.byteLength));
  files.set(MANIFEST_FILE, Buffer.from(JSON.stringify(manifest, null, 1)));
  files.set('index.html', Buffer.from(playgroundHtml(manifest.title)));
  for (const b of Object.values(BUNDLES)) files.set(basename(b), asset(join(DIST, b)));
  const wasm = wasmDir();
  for (const f of readdirSync(wasm).filter((f) => f.endsWith('.wasm'))) files.set(`wasm/${f}`, { path: join(wasm, f) });
  return { manifest, files };
}

export function readSiteFile(v: Buffer | { path: string }): Buffer {
  return Buffer.isBuffer(v) ? v : readFileSync(v.path);
}
