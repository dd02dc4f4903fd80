/**
 * The audit's adversarial examples as pictures: for each example a strip of three tiles (clean image,
 * adversarial image, perturbation map) rendered with imageGrid and encoded as a PNG data: URI. The
 * adversarial images come from the run folder (float32 little-endian NHWC); the clean ones from the
 * data layer's test split, by the indices audit.json lists. Without an audit, the demo's quick-audit.json
 * gives the images instead: the first ones its evaluation fooled and the first ones the model resisted.
 */
import { existsSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { readExamplesFile } from '../artifacts/audit.js';
import type { Dataset } from '../data/dataset.js';
import { UserError } from '../util/errors.js';
import { imageGrid, perturbationMap, type Tile } from './image-grid.js';
import { audioTiles, wavUri } from './waveform.js';
import { encodePng } from './png.js';
import type { RunData } from './runs.js';

export interface ExampleCard {
  /** Test-set index. */
  index: number;
  label: number | null;
  cleanPred: number | null;
  advPred: number | null;
  attack: string | null;
  /** False for an image the model resisted (its adversarial tile is the attack's best try); null when not recorded. */
  fooled: boolean | null;
  /** ‖adv − clean‖∞ and ‖adv − clean‖₂, when the clean image is known. */
  linf: number | null;
  l2: number | null;
  /** data:image/png;base64,… of the strip [clean, adversarial, perturbation] (or the adversarial image alone). */
  png: string;
  width: number;
  height: number;
  hasClean: boolean;
  /** For audio inputs (one-row [1, T, 1]) of a known sample rate: playable WAV data: URIs. */
  audio?: { clean: string | null; adversarial: string };
}

export interface ExampleSet {
  /** Where the images come from: audit.json's kept examples, or the demo's quick-audit.json. */
  source: 'audit' | 'quick';
  /** How many adversarial examples the audit kept, and how many are shown. */
  total: number;
  cards: ExampleCard[];
  classNames: string[] | null;
  /** Why the clean images or some examples are missing, when they are. */
  notes: string[];
}

/** Clean test images by dataset name (a user's data: found through the run folder's train.json); an error when they cannot be loaded. */
export type CleanLoader = (dataset: string, runFolder?: string) => Promise<{ ds: Dataset } | { error: string }>;

/** A CleanLoader over the data layer, loading each dataset's test split once. */
export function dataLayerLoader(dataDir?: string): CleanLoader {
  const cache = new Map<string, Promise<{ ds: Dataset } | { error: string }>>();
  return (name, runFolder) => {
    const key = `${name}\0${runFolder ?? ''}`;
    let p = cache.get(key);
    if (p === undefined) {
      p = (async () => {
        const { loadDataset, DATASET_NAMES, loadSource, sourceOfRecord } = await import('../data/index.js');
        try {
          if ((DATASET_NAMES as readonly string[]).includes(name)) return { ds: loadDataset(name as (typeof DATASET_NAMES)[number], 'test', dataDir !== undefined ? { dataDir } : {}) };
          // A user's data: the source train.json recorded, read again the same way.
          const trainJson = runFolder !== undefined ? join(runFolder, 'train.json') : undefined;
          const recorded = trainJson !== undefined && existsSync(trainJson) ? (JSON.parse(readFileSync(trainJson, 'utf8')) as { data?: { source?: unknown } }).data?.source : undefined;
          const src = recorded !== undefined && trainJson !== undefined ? sourceOfRecord(recorded, trainJson) : undefined;
          if (src === undefined) return { error: `unknown dataset '${name}'` };
          return { ds: (await loadSource(src, 'test')).ds };
        } catch (e) {
          if (e instanceof UserError) return { error: e.message };
          throw e;
        }
      })();
      cache.set(key, p);
    }
    return p;
  };
}

export { readExamplesFile };

/** Sample rates of the audio datasets alp knows, so their examples can be played back. */
const SAMPLE_RATES: Record<string, number> = { 'spoken-digits': 8000 };
/** Datasets of token ids, whose audits keep adversarial embeddings. */
const TEXT_DATASETS = new Set(['spam-assassin']);

function pngUri(tiles: Tile[], scale: number): { uri: string; width: number; height: number } {
  const g = imageGrid([tiles], { scale, pad: 3 });
  return { uri: `data:image/png;base64,${Buffer.from(encodePng(g.width, g.height, g.rgba)).toString('base64')}`, width: g.width, height: g.height };
}

/** Integer upscaling that brings a tile to about 84 pixels. */
export function tileScale(h: number, w: number): number {
  return Math.max(1, Math.min(8, Math.round(84 / Math.max(h, w))));
}

/** The audit's kept examples; without an audit, the ones the demo's quick audit shows. */
export async function buildExamples(run: RunData, load: CleanLoader, max: number): Promise<ExampleSet | null> {
  const from = run.audit?.adversarial != null ? run.audit : run.quick?.adversarial != null ? run.quick : null;
  const meta = from?.adversarial;
  if (from === null || meta === null || meta === undefined) return null;
  const source = from === run.audit ? 'audit' : 'quick';
  const [n, h, w, c] = meta.shape;
  const notes: string[] = [];
  if (from.dataset !== null && TEXT_DATASETS.has(from.dataset)) {
    notes.push(`a text model: its ${n} adversarial examples kept by the audit are perturbed embeddings, not images; \`alp attack\` reads them back as the nearest words`);
    return { source, total: n, cards: [], classNames: null, notes };
  }
  if (c !== 1 && c !== 3) {
    notes.push(`the adversarial images have ${c} channels; only 1 or 3 can be drawn`);
    return { source, total: n, cards: [], classNames: null, notes };
  }
  const adv = readExamplesFile(run.folder, meta);
  const dataset = from.dataset;
  let clean: Dataset | null = null;
  if (dataset === null) notes.push(`${basename(from.file)} names no dataset, so the clean images are not shown`);
  else {
    const r = await load(dataset, run.folder);
    if ('error' in r) notes.push(`clean images unavailable (${r.error})`);
    else if (r.ds.shape[0] !== h || r.ds.shape[1] !== w || r.ds.shape[2] !== c) {
      notes.push(`the ${dataset} test images are [${r.ds.shape.join(',')}], the adversarial ones [${h},${w},${c}]; clean images not shown`);
    } else clean = r.ds;
  }
  const size = h * w * c;
  // One-row, one-channel inputs are audio: waveforms, not 1-pixel-high images.
  const isAudio = h === 1 && c === 1 && w >= 64;
  const rate = dataset !== null ? SAMPLE_RATES[dataset] : undefined;
  const scale = isAudio ? 1 : tileScale(h, w);
  const cards: ExampleCard[] = [];
  for (let j = 0; j < Math.min(n, max); j++) {
    const index = meta.clean[j] as number;
    const a = adv.subarray(j * size, (j + 1) * size);
    let x: Float32Array | null = null;
    if (clean !== null) {
      if (index < clean.count) x = clean.images.subarray(index * size, (index + 1) * size);
      else notes.push(`test index ${index} is beyond the ${clean.count} ${dataset} test images`);
    }
    let linf: number | null = null;
    let l2: number | null = null;
    const tiles: Tile[] = [];
    if (x !== null) {
      let m = 0;
      let s = 0;
      for (let i = 0; i < size; i++) {
        const d = (a[i] as number) - (x[i] as number);
        m = Math.max(m, Math.abs(d));
        s += d * d;
      }
      linf = m;
      l2 = Math.sqrt(s);
      if (isAudio) tiles.push(...audioTiles(x, a));
      else tiles.push({ pixels: x, h, w, c }, { pixels: a, h, w, c }, { pixels: perturbationMap(x, a, h, w, c), h, w, c: 3 });
    } else if (isAudio) tiles.push(...audioTiles(null, a));
    else tiles.push({ pixels: a, h, w, c });
    const img = pngUri(tiles, scale);
    const label = meta.labels[j] ?? (clean !== null && x !== null ? (clean.labels[index] as number) : null);
    cards.push({
      index, label, cleanPred: meta.cleanPred[j] ?? null, advPred: meta.advPred[j] ?? null, attack: meta.attack[j] ?? null, fooled: meta.fooled[j] ?? null,
      linf, l2, png: img.uri, width: img.width, height: img.height, hasClean: x !== null,
      ...(isAudio && rate !== undefined ? { audio: { clean: x !== null ? wavUri(x, rate) : null, adversarial: wavUri(a, rate) } } : {}),
    });
  }
  return { source, total: n, cards, classNames: clean?.classNames ?? null, notes: [...new Set(notes)] };
}
