/**
 * Spoken digits, synthesised offline with espeak-ng (Debian package `espeak-ng`): "zero" … "nine" in
 * several English accents, voice variants, speaking rates and pitches, resampled to 8 kHz, trimmed,
 * peak-normalised to 0.5 and centred in a 1 s window. Inputs have shape [1, 8000, 1] (a one-row
 * "image", so every convolutional model, attack and trainer in alp applies unchanged) with the
 * waveform mapped to the [0,1] box (see audio.ts for what ε means in dB).
 *
 * The test split uses voice variants the training split never hears, so accuracy is speaker-
 * independent. Clips are generated once per (split, count, seed) and cached as IDX files.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { UserError } from '../util/errors.js';
import { writeJsonAtomic } from '../util/atomic.js';
import { Rng } from '../util/rng.js';
import { centreIn, peakNormalise, resample, trimSilence, waveToUnit } from './audio.js';
import type { Dataset } from './dataset.js';
import { readIdx, writeIdx } from './idx.js';
import { checkSplit, type Split } from './locate.js';
import { parseWav } from './wav.js';

export const SPOKEN_DIGITS_CLASSES = ['zero', 'one', 'two', 'three', 'four', 'five', 'six', 'seven', 'eight', 'nine'];
export const SPOKEN_DIGITS_RATE = 8000;
export const SPOKEN_DIGITS_LENGTH = 8000;
/** Peak amplitude of every clip in waveform units; an L∞ ε of 0.0025 in the box is −40 dB of it. */
export const SPOKEN_DIGITS_PEAK = 0.5;

const ACCENTS = ['en-gb', 'en-us', 'en-gb-scotland', 'en-gb-x-rp', 'en-029', 'en-us-nyc', 'en-gb-x-gbclan', 'en-gb-x-gbcwmd'];
// Human-sounding variants of espeak-ng 1.51 (robots, whispers and effects left out). Every fifth is
// held out for the test split.
const VARIANTS = [
  'm1', 'm2', 'm3', 'm4', 'm5', 'm6', 'm7', 'm8', 'f1', 'f2', 'f3', 'f4', 'f5', 'klatt', 'klatt2', 'klatt3',
  'klatt4', 'klatt5', 'klatt6', 'adam', 'Alex', 'Alicia', 'Andrea', 'Andy', 'Annie', 'antonio', 'aunty', 'belinda',
  'benjamin', 'boris', 'caleb', 'david', 'Denis', 'ed', 'edward', 'Gene', 'grandma', 'grandpa', 'gustave', 'Hugo',
  'iven', 'Jacky', 'john', 'Lee', 'linda', 'Marco', 'max', 'Michael', 'michel', 'miguel', 'Mike', 'norbert',
  'pablo', 'paul', 'pedro', 'quincy', 'rob', 'robert', 'sandro', 'shelby', 'steph', 'Storm', 'travis', 'victor', 'zac',
];
const TEST_VARIANTS = VARIANTS.filter((_, i) => i % 5 === 4);
const TRAIN_VARIANTS = VARIANTS.filter((_, i) => i % 5 !== 4);
// Bump when anything above or in the synthesis changes, so stale caches are not reused.
const GENERATOR_VERSION = 1;

export interface SpokenDigitsOptions {
  /**
   * A folder holding a cache made elsewhere (`spoken-digits-v1/…`): read, never written. A user's
   * folder is not alp's scratch space, so when it holds no cache for the split, the clips are read from
   * or synthesised into `cacheDir` instead.
   */
  dataDir?: string;
  /** alp's own cache folder, where clips are synthesised (default: $XDG_CACHE_HOME/alp or ~/.cache/alp). */
  cacheDir?: string;
  /** Clips in the split (default 3000 train, 1000 test). */
  count?: number;
  seed?: number;
  /** Called after every chunk of clips synthesised while a split is generated. */
  onProgress?: (done: number, total: number) => void;
}

const HINT = 'Install it with `apt-get install espeak-ng` (Debian), or pass --data-dir with a cache made elsewhere.';

export function defaultAudioCacheDir(): string {
  return join(process.env['XDG_CACHE_HOME'] ?? join(homedir(), '.cache'), 'alp');
}

/** One synthesis recipe: what espeak-ng is asked to say, and how. */
export interface DigitRecipe {
  label: number;
  voice: string;
  /** Words per minute. */
  speed: number;
  /** espeak-ng pitch, 0–99. */
  pitch: number;
}

/** The seeded recipes of a split (a pure function of split, count and seed). */
export function digitRecipes(split: Split, count: number, seed: number): DigitRecipe[] {
  const rng = new Rng((seed * 7919 + (split === 'train' ? 1 : 2)) >>> 0);
  const variants = split === 'train' ? TRAIN_VARIANTS : TEST_VARIANTS;
  const out: DigitRecipe[] = [];
  for (let i = 0; i < count; i++) {
    const accent = ACCENTS[rng.int(ACCENTS.length)] as string;
    const variant = variants[rng.int(variants.length)] as string;
    // Labels cycle so the classes stay balanced whatever the count.
    out.push({ label: i % 10, voice: `${accent}+${variant}`, speed: 110 + rng.int(81), pitch: 25 + rng.int(51) });
  }
  return out;
}

function shellQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

/**
 * Runs espeak-ng for a chunk of recipes from one small shell: each espeak-ng is then forked from the
 * shell, not from this process, whose large (wasm) address space made a fork per clip cost ~0.1 s.
 */
function espeakChunk(recipes: DigitRecipe[]): Float32Array[] {
  const dir = mkdtempSync(join(tmpdir(), 'alp-espeak-'));
  try {
    const script = recipes.map((r, i) =>
      ['espeak-ng', '-v', r.voice, '-s', String(r.speed), '-p', String(r.pitch), '-w', join(dir, `${i}.wav`), SPOKEN_DIGITS_CLASSES[r.label] as string]
        .map(shellQuote).join(' ') + ` || { echo "espeak-ng -v ${r.voice} failed" >&2; exit 3; }`).join('\n');
    const run = spawnSync('sh', ['-c', `command -v espeak-ng >/dev/null || exit 127\n${script}`], { stdio: ['ignore', 'ignore', 'pipe'] });
    if (run.error !== undefined) throw new UserError(`spoken-digits: cannot run sh: ${run.error.message}`);
    if (run.status === 127) throw new UserError(`spoken-digits: espeak-ng is not installed. ${HINT}`);
    if (run.status !== 0) throw new UserError(`spoken-digits: ${String(run.stderr).trim().slice(0, 300) || `espeak-ng exited with ${String(run.status)}`}`);
    return recipes.map((r, i) => {
      const path = join(dir, `${i}.wav`);
      const w = parseWav(new Uint8Array(readFileSync(path)), `espeak-ng output ${path} (${r.voice})`);
      const x = trimSilence(resample(w.samples, w.sampleRate, SPOKEN_DIGITS_RATE));
      if (x.length === 0) throw new UserError(`spoken-digits: espeak-ng -v ${r.voice} produced silence for '${SPOKEN_DIGITS_CLASSES[r.label]}'`);
      return peakNormalise(centreIn(x, SPOKEN_DIGITS_LENGTH), SPOKEN_DIGITS_PEAK);
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const CHUNK = 100;

/** Synthesises a split (no cache). */
export function synthesiseSpokenDigits(split: Split, count: number, seed: number, onProgress?: (done: number, total: number) => void): Dataset {
  const recipes = digitRecipes(split, count, seed);
  const images = new Float32Array(count * SPOKEN_DIGITS_LENGTH);
  const labels = new Int32Array(count);
  for (let at = 0; at < count; at += CHUNK) {
    const chunk = recipes.slice(at, at + CHUNK);
    espeakChunk(chunk).forEach((wave, j) => {
      waveToUnit(wave, images, (at + j) * SPOKEN_DIGITS_LENGTH);
      labels[at + j] = (chunk[j] as DigitRecipe).label;
    });
    onProgress?.(at + chunk.length, count);
  }
  return { name: 'spoken-digits', images, labels, count, shape: [1, SPOKEN_DIGITS_LENGTH, 1], numClasses: 10, classNames: SPOKEN_DIGITS_CLASSES, sampleRate: SPOKEN_DIGITS_RATE };
}

/** The split from the cache, synthesising and caching it first if needed. */
export function loadSpokenDigits(split: Split, opts: SpokenDigitsOptions = {}): Dataset {
  checkSplit('spoken-digits', split);
  const count = opts.count ?? (split === 'train' ? 3000 : 1000);
  const seed = opts.seed ?? 0;
  if (!Number.isInteger(count) || count < 1) throw new UserError(`spoken-digits: count: expected an integer ≥ 1, found ${count}`);
  const entry = (root: string): { dir: string; imagesPath: string; labelsPath: string } => {
    const dir = join(root, `spoken-digits-v${GENERATOR_VERSION}`);
    const base = join(dir, `${split}-${count}-seed${seed}`);
    return { dir, imagesPath: `${base}-waves.idx`, labelsPath: `${base}-labels.idx` };
  };
  const present = (e: { imagesPath: string; labelsPath: string }): boolean => existsSync(e.imagesPath) && existsSync(e.labelsPath);
  const given = opts.dataDir !== undefined ? entry(opts.dataDir) : undefined;
  const own = entry(opts.cacheDir ?? defaultAudioCacheDir());
  // A cache in the given folder is read; otherwise alp's own cache is read or filled (never the given folder).
  const { dir, imagesPath, labelsPath } = given !== undefined && present(given) ? given : own;
  if (existsSync(imagesPath) && existsSync(labelsPath)) {
    const img = readIdx(imagesPath);
    const lab = readIdx(labelsPath);
    const want = `[${count},${SPOKEN_DIGITS_LENGTH}]`;
    if (img.dtype !== 'float32' || `[${img.shape.join(',')}]` !== want) {
      throw new UserError(`${imagesPath}: expected float32 ${want}, found ${img.dtype} [${img.shape.join(',')}]; delete the file to regenerate it`);
    }
    if (lab.dtype !== 'uint8' || lab.shape[0] !== count) {
      throw new UserError(`${labelsPath}: expected uint8 [${count}], found ${lab.dtype} [${lab.shape.join(',')}]; delete the file to regenerate it`);
    }
    return {
      name: 'spoken-digits', images: img.data as Float32Array, labels: Int32Array.from(lab.data as Uint8Array), count,
      shape: [1, SPOKEN_DIGITS_LENGTH, 1], numClasses: 10, classNames: SPOKEN_DIGITS_CLASSES, sampleRate: SPOKEN_DIGITS_RATE,
    };
  }
  const ds = synthesiseSpokenDigits(split, count, seed, opts.onProgress);
  mkdirSync(dir, { recursive: true });
  // Labels last: a cache entry counts as present only when both files exist, each written atomically.
  writeIdx(imagesPath, { dtype: 'float32', shape: [count, SPOKEN_DIGITS_LENGTH], data: ds.images });
  writeIdx(labelsPath, { dtype: 'uint8', shape: [count], data: Uint8Array.from(ds.labels) });
  writeJsonAtomic(join(dir, 'README.json'), {
    what: 'alp spoken-digits cache: espeak-ng synthesis, 8 kHz, 1 s, peak 0.5, waveform mapped to [0,1] as (w+1)/2',
    generatorVersion: GENERATOR_VERSION,
    testVariants: TEST_VARIANTS,
  });
  return ds;
}
