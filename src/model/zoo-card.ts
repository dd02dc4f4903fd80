/**
 * A zoo model's card (card.json): what the model is for, how it was trained (the exact command and
 * seed), the numbers measured on it with the command that measured them, and the SHA-256 of its weights.
 * README.md in the model's folder is generated from it (`cardReadme`), so the two never disagree.
 * No TF.js here: `alp zoo list` reads cards without loading a model.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileHash, weightsHash } from './fingerprint.js';
import { zooModelOf, zooNames, zooRoot } from './zoo-paths.js';
import { EXIT, UserError } from '../util/errors.js';

export const ZOO_CARD_SCHEMA = 'alp.zoo-card/1';
export const CARD_FILE = 'card.json';
export const CARD_README = 'README.md';
export const CARD_AUDIT = 'audit.json';

export interface ZooCard {
  schema: typeof ZOO_CARD_SCHEMA;
  name: string;
  summary: string;
  /** Where the numbers were measured: the first `examples` images of the dataset's test split. */
  data: { dataset: string; split: 'test'; examples: number };
  threat: { norm: 'linf' | 'l2'; eps: number; box: [number, number] | null };
  training: { command: string; seed: number; method: string; preset: string | null; arch: string; epochs: number; seconds: number | null; workers: number | null };
  numbers: {
    /** Fractions in [0,1]. */
    clean: number;
    audited: number;
    /** The audit that gave `audited` (its JSON is audit.json beside the card). */
    /** `findings`: the audit's gradient-masking findings by status, and the titles of those not passed. */
    audit: { budget: string; seed: number; command: string; findings?: { pass: number; warn: number; fail: number; notPassed: string[] } };
    /** A measurement by an implementation other than alp's, or null when none was made. */
    independent: { accuracy: number; by: string; command: string } | null;
    /**
     * Text models: the audit's real word swaps, robust accuracy (worst case over its word attacks) at
     * most k swaps per message (and at most `fraction` of its words, when set), on the first `examples`
     * messages, words replaced from `candidates` built with `neighbours` embedding neighbours per word.
     */
    wordSwaps?: { candidates: string; neighbours: number; fraction: number | null; examples: number; points: Array<{ k: number; accuracy: number }> };
  };
  /** How far (absolute, as a fraction: 0.005 = half a point) `alp zoo verify` may find a number from the card's. */
  tolerance: number;
  /** When the card was written (UTC, YYYY-MM-DD) and by which alp. */
  date: string;
  alpVersion: string;
  weights: { sha256: string; files: Array<{ path: string; bytes: number }> };
  /** Text models: the vocabulary their token ids index, and its SHA-256 (checked with the weights). */
  vocabulary?: { path: string; sha256: string };
}

function fail(file: string, field: string, expected: string, got: unknown): never {
  throw new UserError(`${file}: ${field}: expected ${expected}, found ${JSON.stringify(got) ?? 'nothing'}`);
}

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const frac = (v: unknown): boolean => typeof v === 'number' && v >= 0 && v <= 1;

/** Checks a parsed card.json (`file` names it in errors): one line naming the first bad field. */
export function checkCard(j: unknown, file: string): ZooCard {
  if (!isObj(j)) fail(file, 'card', 'a JSON object', j);
  if (j['schema'] !== ZOO_CARD_SCHEMA) fail(file, 'schema', ZOO_CARD_SCHEMA, j['schema']);
  if (typeof j['name'] !== 'string') fail(file, 'name', 'a string', j['name']);
  const data = j['data'], threat = j['threat'], training = j['training'], numbers = j['numbers'], weights = j['weights'];
  if (!isObj(data) || typeof data['dataset'] !== 'string' || !(Number.isInteger(data['examples']) && (data['examples'] as number) > 0)) fail(file, 'data', '{dataset, split, examples > 0}', data);
  if (!isObj(threat) || (threat['norm'] !== 'linf' && threat['norm'] !== 'l2') || !(typeof threat['eps'] === 'number' && threat['eps'] >= 0)) fail(file, 'threat', '{norm: linf|l2, eps ≥ 0, box}', threat);
  if (!isObj(training) || typeof training['command'] !== 'string' || !Number.isInteger(training['seed'])) fail(file, 'training', '{command, seed, …}', training);
  if (!isObj(numbers) || !frac(numbers['clean']) || !frac(numbers['audited'])) fail(file, 'numbers', '{clean, audited} as fractions in [0,1]', numbers);
  const audit = numbers['audit'];
  if (!isObj(audit) || typeof audit['budget'] !== 'string' || !Number.isInteger(audit['seed']) || typeof audit['command'] !== 'string') fail(file, 'numbers.audit', '{budget, seed, command}', audit);
  const swaps = numbers['wordSwaps'];
  if (swaps !== undefined && (!isObj(swaps) || typeof swaps['candidates'] !== 'string' || !Number.isInteger(swaps['neighbours']) || !(swaps['fraction'] === null || frac(swaps['fraction'])) || !Number.isInteger(swaps['examples']) || !Array.isArray(swaps['points']) || swaps['points'].length === 0
    || !swaps['points'].every((pt) => isObj(pt) && Number.isInteger(pt['k']) && (pt['k'] as number) >= 1 && frac(pt['accuracy'])))) {
    fail(file, 'numbers.wordSwaps', '{candidates, neighbours, fraction, examples, points: [{k ≥ 1, accuracy as a fraction}]}', swaps);
  }
  if (!(typeof j['tolerance'] === 'number' && j['tolerance'] >= 0 && j['tolerance'] < 1)) fail(file, 'tolerance', 'a fraction in [0,1)', j['tolerance']);
  if (!isObj(weights) || typeof weights['sha256'] !== 'string' || !/^[0-9a-f]{64}$/.test(weights['sha256']) || !Array.isArray(weights['files'])) fail(file, 'weights', '{sha256: 64 hex digits, files}', weights);
  const vocab = j['vocabulary'];
  if (vocab !== undefined && (!isObj(vocab) || typeof vocab['path'] !== 'string' || typeof vocab['sha256'] !== 'string' || !/^[0-9a-f]{64}$/.test(vocab['sha256']))) fail(file, 'vocabulary', '{path, sha256: 64 hex digits}', vocab);
  return j as unknown as ZooCard;
}

/** Reads and checks `dir`/card.json. */
export function readCard(dir: string): ZooCard {
  const file = join(dir, CARD_FILE);
  let j: unknown;
  try {
    j = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new UserError(`${file}: expected a zoo model card (JSON): ${(e as Error).message}`);
  }
  return checkCard(j, file);
}

/** The card of the zoo model `path` lies in, or undefined for a path outside the zoo. */
export function zooCardOf(path: string): ZooCard | undefined {
  const name = zooModelOf(path);
  return name === undefined || name === '' ? undefined : readCard(join(zooRoot(), name));
}

const pct = (v: number): string => `${(100 * v).toFixed(1)}%`;

/** The threat model in words, e.g. "L∞ ε = 0.3 in the [0,1] input box". */
export function threatText(t: ZooCard['threat']): string {
  return `${t.norm === 'linf' ? 'L∞' : 'L2'} ε = ${t.eps}${t.box !== null ? ` in the [${t.box[0]},${t.box[1]}] input box` : ' (no input box)'}`;
}

/** README.md of a zoo model, generated from its card. */
export function cardReadme(c: ZooCard): string {
  const ind = c.numbers.independent;
  const ws = c.numbers.wordSwaps;
  return [
    `# zoo:${c.name}`,
    '',
    c.summary,
    '',
    '| | |',
    '|---|---|',
    `| data | ${c.data.dataset}, first ${c.data.examples} ${ws !== undefined ? 'messages' : 'examples'} of the ${c.data.split} split |`,
    `| threat model | ${threatText(c.threat)}, white-box |`,
    `| clean accuracy | ${pct(c.numbers.clean)} |`,
    `| robust accuracy, \`alp audit --budget ${c.numbers.audit.budget}\` (worst case per example) | **${pct(c.numbers.audited)}** |`,
    ...(c.numbers.audit.findings !== undefined ? [`| the audit's gradient-masking findings | ${c.numbers.audit.findings.pass} pass, ${c.numbers.audit.findings.warn} warn, ${c.numbers.audit.findings.fail} fail${c.numbers.audit.findings.notPassed.length > 0 ? `: ${c.numbers.audit.findings.notPassed.join('; ')} (evidence in [${CARD_AUDIT}](${CARD_AUDIT}))` : ''} |`] : []),
    ...(ws !== undefined ? [`| robust accuracy under real word swaps (first ${ws.examples} messages, ${ws.candidates} candidates) | ${ws.points.map((pt) => `k ≤ ${pt.k}: **${pct(pt.accuracy)}**`).join(', ')} |`] : []),
    `| independent evaluation | ${ind === null ? 'none yet' : `${pct(ind.accuracy)} (${ind.by})`} |`,
    `| training | ${c.training.method}${c.training.preset !== null ? `, preset ${c.training.preset}` : ''}, ${c.training.arch}, ${c.training.epochs} epoch${c.training.epochs === 1 ? '' : 's'}, seed ${c.training.seed}${c.training.seconds !== null ? `, ${Math.round(c.training.seconds)} s` : ''} |`,
    `| date, alp | ${c.date}, alp ${c.alpVersion} |`,
    `| weights SHA-256 | \`${c.weights.sha256}\` (${c.weights.files.map((f) => `${f.path}, ${f.bytes} bytes`).join('; ')}) |`,
    ...(c.vocabulary !== undefined ? [`| vocabulary SHA-256 | \`${c.vocabulary.sha256}\` (${c.vocabulary.path}) |`] : []),
    '',
    'Trained with:',
    '',
    '```sh',
    c.training.command,
    '```',
    '',
    `Audited with (its JSON: [${CARD_AUDIT}](${CARD_AUDIT})):`,
    '',
    '```sh',
    c.numbers.audit.command,
    '```',
    ...(ind !== null ? ['', 'Independent evaluation:', '', '```sh', ind.command, '```'] : []),
    '',
    `\`alp zoo verify ${c.name}\` checks the weights' SHA-256 and recomputes the clean and audited numbers${ws !== undefined ? ' (and the word-swap ones)' : ''};`,
    `it fails when one differs from this card by more than ${(100 * c.tolerance).toFixed(1)} points.`,
    `Use it as \`--model zoo:${c.name}\` in any alp command, \`loadZooModel('${c.name}')\` in the library.`,
    '',
  ].join('\n');
}

/** One row of `alp zoo list`. */
export interface ZooEntry {
  name: string;
  dataset: string;
  threat: string;
  method: string;
  clean: number;
  audited: number;
  budget: string;
  examples: number;
  independent: number | null;
  /** Text models: robust accuracy under at most k real word swaps, per k (the card's). */
  wordSwaps?: Array<{ k: number; accuracy: number }>;
  /** Bytes on disk of the model's folder (model, weights, card, audit JSON). */
  bytes: number;
  path: string;
}

function folderBytes(dir: string): number {
  return readdirSync(dir, { withFileTypes: true }).reduce((a, e) => a + (e.isFile() ? statSync(join(dir, e.name)).size : e.isDirectory() ? folderBytes(join(dir, e.name)) : 0), 0);
}

/** Every zoo model with its card's numbers and its size. */
export function listZoo(root = zooRoot()): ZooEntry[] {
  return zooNames(root).map((name) => {
    const dir = join(root, name);
    const c = readCard(dir);
    return {
      name, dataset: c.data.dataset, threat: threatText(c.threat), method: c.training.method, clean: c.numbers.clean, audited: c.numbers.audited,
      budget: c.numbers.audit.budget, examples: c.data.examples, independent: c.numbers.independent?.accuracy ?? null, bytes: folderBytes(dir), path: dir,
      ...(c.numbers.wordSwaps !== undefined ? { wordSwaps: c.numbers.wordSwaps.points } : {}),
    };
  });
}

/**
 * Throws (exit 7, as a damaged file) when the weights in `dir` are not the ones the card names: another
 * SHA-256, or missing shards.
 */
export function checkZooWeights(dir: string, card: ZooCard): void {
  const have = weightsHash(join(dir, 'model.json'));
  if (have !== card.weights.sha256) {
    throw new UserError(`${dir}: the weights' SHA-256 is ${have ?? 'unreadable (a shard is missing)'}, the card says ${card.weights.sha256}: the files were changed after the card was written`, EXIT.corrupt);
  }
  const v = card.vocabulary;
  if (v !== undefined) {
    const file = join(dir, v.path);
    const sha = fileHash(file);
    if (sha !== v.sha256) throw new UserError(`${file}: the vocabulary's SHA-256 is ${sha ?? 'unreadable (the file is missing)'}, the card says ${v.sha256}: the file was changed after the card was written`, EXIT.corrupt);
  }
}

/** What a verification measured, beside the card. */
export interface ZooCheck {
  /** clean, audited, or a text model's word-swap number at k. */
  field: 'clean' | 'audited' | `word swaps k ≤ ${number}`;
  card: number;
  measured: number;
  ok: boolean;
}

/**
 * The card's clean and audited numbers (and a text model's word-swap numbers per k) against measured
 * ones, each within the card's tolerance; a k the card has and the measurement lacks fails.
 */
export function compareWithCard(card: ZooCard, measured: { clean: number; audited: number; wordSwaps?: Array<{ k: number; accuracy: number }> }): ZooCheck[] {
  // A hair of slack for the float sums behind a fraction of whole examples.
  const within = (a: number, b: number): boolean => Math.abs(a - b) <= card.tolerance + 1e-9;
  const checks: ZooCheck[] = (['clean', 'audited'] as const).map((field) => ({ field, card: card.numbers[field], measured: measured[field], ok: within(card.numbers[field], measured[field]) }));
  for (const pt of card.numbers.wordSwaps?.points ?? []) {
    const m = measured.wordSwaps?.find((x) => x.k === pt.k)?.accuracy ?? NaN;
    checks.push({ field: `word swaps k ≤ ${pt.k}`, card: pt.accuracy, measured: m, ok: within(pt.accuracy, m) });
  }
  return checks;
}
