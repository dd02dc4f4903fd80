/**
 * Packaging a trained run as a zoo model (`alp zoo add`): its model and weights, train.json, the audit
 * of those weights, and a card written from train.json and the audit JSON (../model/zoo-card.ts), so no
 * number on a card is typed by hand.
 */
import { copyFileSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { fileHash, weightsHash } from '../model/fingerprint.js';
import { CARD_AUDIT, CARD_FILE, CARD_README, cardReadme, checkCard, ZOO_CARD_SCHEMA, type ZooCard } from '../model/zoo-card.js';
import { zooRoot } from '../model/zoo-paths.js';
import { archLabel } from '../model/arch-names.js';
import { writeFileAtomic, writeJsonAtomic } from '../util/atomic.js';
import { EXIT, UserError } from '../util/errors.js';
import { isObj, type Obj } from './fields.js';
import { VOCAB_FILE } from '../data/text.js';

function readJson(file: string, what: string): Obj {
  let j: unknown;
  try {
    j = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new UserError(`${file}: expected ${what} (JSON): ${(e as Error).message}`);
  }
  if (!isObj(j)) throw new UserError(`${file}: expected ${what}, found ${typeof j}`);
  return j;
}

/** The arguments of `alp audit` that reproduce a card's audited number (alp zoo verify runs them). */
export function cardAuditArgs(c: Pick<ZooCard, 'data' | 'threat' | 'numbers'>, model: string): string[] {
  const ws = c.numbers.wordSwaps;
  return ['--model', model, '--data', c.data.dataset, '--n', String(c.data.examples), '--norm', c.threat.norm, '--eps', String(c.threat.eps),
    '--budget', c.numbers.audit.budget, '--seed', String(c.numbers.audit.seed),
    ...(ws !== undefined ? ['--swaps', ws.points.map((pt) => pt.k).join(','), '--candidates', ws.candidates, '--neighbours', String(ws.neighbours), ...(ws.fraction !== null ? ['--swap-fraction', String(ws.fraction)] : [])] : [])];
}

export interface CardInput {
  name: string;
  summary: string;
  tolerance: number;
  independent: ZooCard['numbers']['independent'];
  /** UTC date, YYYY-MM-DD. */
  date: string;
  /** Weight shards of the model (paths relative to model.json) and the SHA-256 over them. */
  weights: ZooCard['weights'];
}

/** The audit's findings counted by status, with the titles of those that did not pass. */
function findingsOf(audit: Obj): NonNullable<ZooCard['numbers']['audit']['findings']> {
  const out = { pass: 0, warn: 0, fail: 0, notPassed: [] as string[] };
  for (const f of Array.isArray(audit['findings']) ? audit['findings'] : []) {
    if (!isObj(f) || (f['status'] !== 'pass' && f['status'] !== 'warn' && f['status'] !== 'fail')) continue;
    out[f['status']]++;
    if (f['status'] !== 'pass') out.notPassed.push(`${f['status']}: ${String(f['title'])}`);
  }
  return out;
}

/** A text model's word-swap numbers from its audit.json (`wordSwaps`), in the card's form. */
function wordSwapsOf(audit: Obj): Pick<ZooCard['numbers'], 'wordSwaps'> {
  const w = audit['wordSwaps'];
  if (!isObj(w) || !Array.isArray(w['points'])) return {};
  const points = w['points'].filter(isObj).map((pt) => ({ k: Number(pt['k']), accuracy: Number(pt['worstCaseAccuracy']) }));
  // Audits written before the neighbour count was recorded used the CLI's default, 8.
  const neighbours = typeof w['neighbours'] === 'number' ? w['neighbours'] : 8;
  const fraction = typeof w['fraction'] === 'number' ? w['fraction'] : null;
  return { wordSwaps: { candidates: String(w['candidates']), neighbours, fraction, examples: Number(w['examples']), points } };
}

/** A card from a run's train.json and the audit of its weights (both parsed). */
export function cardFromRun(train: Obj, audit: Obj, o: CardInput): ZooCard {
  const config = isObj(train['config']) ? train['config'] : {};
  const argv = Array.isArray(train['argv']) ? train['argv'].map(String) : [];
  const threat = isObj(audit['threat']) ? audit['threat'] : {};
  const versions = isObj(train['versions']) ? train['versions'] : {};
  const preset = argv.indexOf('--preset');
  const card: ZooCard = {
    schema: ZOO_CARD_SCHEMA, name: o.name, summary: o.summary,
    data: { dataset: String(audit['dataset']), split: 'test', examples: Number(audit['examples']) },
    threat: { norm: threat['norm'] === 'l2' ? 'l2' : 'linf', eps: Number(threat['eps']), box: threat['bounds'] === null ? null : [0, 1] },
    training: {
      command: `alp train ${argv.join(' ')}`, seed: Number(config['seed']), method: String(config['method']), preset: preset >= 0 ? (argv[preset + 1] ?? null) : null,
      arch: archLabel(String(config['arch']), config['activation']), epochs: Number(config['epochs']), seconds: typeof train['trainSeconds'] === 'number' ? train['trainSeconds'] : null,
      workers: typeof train['workers'] === 'number' ? train['workers'] : null,
    },
    numbers: {
      clean: Number(audit['cleanAccuracy']), audited: Number(audit['worstCaseAccuracy']),
      audit: { budget: String(audit['version']), seed: Number(audit['seed']), command: '', findings: findingsOf(audit) },
      independent: o.independent,
      ...wordSwapsOf(audit),
    },
    tolerance: o.tolerance, date: o.date, alpVersion: String(versions['alp'] ?? 'unknown'), weights: o.weights,
  };
  card.numbers.audit.command = `alp audit ${cardAuditArgs(card, `zoo:${o.name}`).join(' ')}`;
  return checkCard(card, `zoo:${o.name} card`);
}

/** The weight shards model.json lists (relative paths). */
function weightFiles(modelJson: string): string[] {
  const j = readJson(modelJson, 'a TF.js model.json');
  const manifest = Array.isArray(j['weightsManifest']) ? j['weightsManifest'] : [];
  return manifest.flatMap((g) => (isObj(g) && Array.isArray(g['paths']) ? g['paths'].map(String) : []));
}

/**
 * Copies run `runDir` (model.json, its weight shards, train.json) and `auditPath` (with its examples.f32)
 * into the zoo as `name`, and writes card.json and README.md. The audit must be of these weights.
 * Everything is written to a sibling folder first and renamed into place, so a failure leaves no half model.
 */
export function addToZoo(runDir: string, auditPath: string, o: Omit<CardInput, 'weights' | 'date'> & { force?: boolean; root?: string; date?: string }): { dir: string; card: ZooCard } {
  const modelJson = join(runDir, 'model.json');
  const trainJson = join(runDir, 'train.json');
  for (const f of [modelJson, trainJson, auditPath]) if (!existsSync(f)) throw new UserError(`${f}: not found (alp zoo add needs a run folder from alp train and the audit.json of its weights)`);
  const hash = weightsHash(modelJson);
  if (hash === null) throw new UserError(`${modelJson}: its weight files are missing or unreadable`);
  const audit = readJson(auditPath, 'an alp audit.json');
  if (audit['weightsHash'] !== hash) throw new UserError(`${auditPath}: audits weights ${String(audit['weightsHash'])}, but ${runDir} holds ${hash}; audit this run's model first`);
  if (isObj(audit['shard'])) throw new UserError(`${auditPath}: one shard of an audit; merge the shards first (alp merge)`);
  const root = o.root ?? zooRoot();
  const dir = join(root, o.name);
  if (existsSync(dir) && o.force !== true) throw new UserError(`${dir}: zoo model ${o.name} exists; --force replaces it`, EXIT.exists);
  const files = weightFiles(modelJson);
  const card = cardFromRun(readJson(trainJson, 'an alp train.json'), audit, {
    ...o, date: o.date ?? new Date().toISOString().slice(0, 10),
    weights: { sha256: hash, files: files.map((f) => ({ path: f, bytes: statSync(join(runDir, f)).size })) },
  });
  // A text model's vocabulary travels with it (its token ids mean nothing without it), checked like the weights.
  const vocabHash = fileHash(join(runDir, VOCAB_FILE));
  if (vocabHash !== null) card.vocabulary = { path: VOCAB_FILE, sha256: vocabHash };
  const tmp = join(root, `.${o.name}.partial`);
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  for (const f of ['model.json', 'train.json', ...(card.vocabulary !== undefined ? [card.vocabulary.path] : []), ...files]) copyFileSync(join(runDir, f), join(tmp, f));
  copyFileSync(auditPath, join(tmp, CARD_AUDIT));
  const examples = join(dirname(auditPath), 'examples.f32');
  if (existsSync(examples)) copyFileSync(examples, join(tmp, basename(examples)));
  writeJsonAtomic(join(tmp, CARD_FILE), card);
  writeFileAtomic(join(tmp, CARD_README), cardReadme(card));
  rmSync(dir, { recursive: true, force: true });
  renameSync(tmp, dir);
  return { dir, card };
}
