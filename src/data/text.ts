/**
 * Text as alp feeds it to a model: a word tokenizer, a vocabulary built from the training split, and
 * fixed-length sequences of token ids. Adversaries perturb the *embeddings* of these ids (Miyato et
 * al. 2017), never the ids themselves, so every gradient attack applies; see model/text.ts.
 */
import { UserError } from '../util/errors.js';

export const PAD = '<pad>';
export const UNK = '<unk>';
/** Id 0 pads sequences to their fixed length; id 1 stands for words outside the vocabulary. */
export const PAD_ID = 0;
/** Saved beside a text model's model.json: { sequenceLength, tokens }. */
export const VOCAB_FILE = 'vocab.json';
export const UNK_ID = 1;

/**
 * Lower-cased words, with URLs, e-mail addresses and numbers folded into one token each and `!`, `$`
 * and `%` kept as tokens (they carry signal in spam and reviews alike).
 */
export function tokenize(text: string): string[] {
  const folded = text
    .toLowerCase()
    .replace(/(https?:\/\/|www\.)\S+/g, ' <url> ')
    .replace(/[\w.+-]+@[\w-]+\.[\w.-]+/g, ' <email> ')
    .replace(/\d+(?:[.,]\d+)*/g, ' <num> ');
  return folded.match(/<url>|<email>|<num>|[a-z][a-z']*[a-z]|[a-z]|[!$%]/g) ?? [];
}

export interface Vocabulary {
  /** Token of each id; [0] is PAD, [1] is UNK. */
  tokens: string[];
  /** Id of each token. */
  index: Map<string, number>;
}

/**
 * The `size` most frequent tokens of `docs` seen at least `minCount` times (ties broken
 * alphabetically, so the vocabulary is a pure function of the documents), after PAD and UNK.
 */
export function buildVocabulary(docs: Iterable<string[]>, size: number, minCount = 2): Vocabulary {
  if (!Number.isInteger(size) || size < 3) throw new UserError(`vocabulary size: expected an integer ≥ 3, found ${size}`);
  const counts = new Map<string, number>();
  for (const doc of docs) for (const t of doc) counts.set(t, (counts.get(t) ?? 0) + 1);
  const ranked = [...counts.entries()]
    .filter(([t, n]) => n >= minCount && t !== PAD && t !== UNK)
    .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
    .slice(0, size - 2)
    .map(([t]) => t);
  return vocabularyOf([PAD, UNK, ...ranked]);
}

/** A vocabulary from its token list (as saved in vocab.json). */
export function vocabularyOf(tokens: string[]): Vocabulary {
  if (tokens[PAD_ID] !== PAD || tokens[UNK_ID] !== UNK) throw new UserError(`vocabulary: expected "${PAD}" and "${UNK}" as ids 0 and 1, found ${JSON.stringify(tokens.slice(0, 2))}`);
  const index = new Map<string, number>();
  tokens.forEach((t, i) => {
    if (index.has(t)) throw new UserError(`vocabulary: token ${JSON.stringify(t)} appears twice (ids ${index.get(t)} and ${i})`);
    index.set(t, i);
  });
  return { tokens, index };
}

/** The first `length` tokens as ids (UNK for unknown words), padded with PAD at the end. */
export function encodeTokens(tokens: string[], vocab: Vocabulary, length: number, out = new Int32Array(length)): Int32Array {
  out.fill(PAD_ID);
  const n = Math.min(tokens.length, length);
  for (let i = 0; i < n; i++) out[i] = vocab.index.get(tokens[i] as string) ?? UNK_ID;
  return out;
}

/** Ids back to text (padding dropped), for reports. */
export function decodeIds(ids: ArrayLike<number>, vocab: Vocabulary): string {
  const words: string[] = [];
  for (let i = 0; i < ids.length; i++) {
    const id = ids[i] as number;
    if (id === PAD_ID) continue;
    words.push(vocab.tokens[id] ?? UNK);
  }
  return words.join(' ');
}
