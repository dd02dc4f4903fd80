/**
 * Which words may replace a word: the whole vocabulary (HotFlip's unconstrained setting), its k nearest
 * neighbours in the model's own embedding space (cosine), its WordNet synonyms that are in the
 * vocabulary, or the union of the last two. Padding and <unk> are never candidates, and <unk> has no
 * synonyms or neighbours (its word is unknown), so only the unconstrained set may replace it.
 */
import { PAD_ID, UNK_ID, type Vocabulary } from '../../data/text.js';
import type { WordNet } from '../../data/wordnet.js';

export const CANDIDATE_KINDS = ['vocabulary', 'neighbours', 'wordnet', 'wordnet+neighbours'] as const;
export type CandidateKind = (typeof CANDIDATE_KINDS)[number];

/**
 * How a candidate set is built from a model and its vocabulary (buildCandidates): plain data, so that a
 * worker holding a replica of the model and the vocabulary builds exactly the same set.
 */
export interface CandidateSpec {
  kind: CandidateKind;
  /** Embedding neighbours per word (`neighbours`, `wordnet+neighbours`); default 8. */
  neighbours?: number;
  /** WordNet database folder (`wordnet`, `wordnet+neighbours`); default /usr/share/wordnet. */
  wordnetDir?: string;
}

export interface CandidateSet {
  kind: CandidateKind;
  /** How to build this set again (set by buildCandidates); absent for a set built by hand. */
  spec?: CandidateSpec;
  /** Ids that may replace `id`, ascending; null means every id but PAD, UNK and `id` itself. */
  of(id: number): Int32Array | null;
  /** Whether `to` may replace `from`. */
  allows(from: number, to: number): boolean;
}

function fromLists(kind: CandidateKind, list: (id: number) => Int32Array): CandidateSet {
  const cache = new Map<number, Int32Array>();
  const of = (id: number): Int32Array => {
    let c = cache.get(id);
    if (c === undefined) cache.set(id, (c = id === PAD_ID || id === UNK_ID ? new Int32Array(0) : list(id)));
    return c;
  };
  return { kind, of, allows: (from, to) => of(from).includes(to) };
}

export function vocabularyCandidates(vocabularySize: number): CandidateSet {
  return {
    kind: 'vocabulary', of: (id) => (id === PAD_ID ? new Int32Array(0) : null),
    allows: (from, to) => from !== PAD_ID && to !== from && to !== PAD_ID && to !== UNK_ID && to >= 0 && to < vocabularySize && Number.isInteger(to),
  };
}

/** The k rows of `table` [V·D] with the highest cosine similarity to each row (itself, PAD, UNK excluded). */
export function neighbourCandidates(table: Float32Array, vocabularySize: number, dim: number, k: number): CandidateSet {
  const norms = new Float32Array(vocabularySize);
  for (let v = 0; v < vocabularySize; v++) {
    let s = 0;
    for (let d = 0; d < dim; d++) s += (table[v * dim + d] as number) ** 2;
    norms[v] = Math.sqrt(s) || 1;
  }
  return fromLists('neighbours', (id) => {
    const sims: Array<[number, number]> = [];
    for (let v = 2; v < vocabularySize; v++) {
      if (v === id) continue;
      let s = 0;
      for (let d = 0; d < dim; d++) s += (table[v * dim + d] as number) * (table[id * dim + d] as number);
      sims.push([s / ((norms[v] as number) * (norms[id] as number)), v]);
    }
    sims.sort((a, b) => b[0] - a[0] || a[1] - b[1]);
    return Int32Array.from(sims.slice(0, k).map((s) => s[1])).sort();
  });
}

export function wordnetCandidates(wordnet: WordNet, vocab: Vocabulary): CandidateSet {
  return fromLists('wordnet', (id) => {
    const word = vocab.tokens[id];
    if (word === undefined) return new Int32Array(0);
    const ids = wordnet.synonyms(word).map((w) => vocab.index.get(w)).filter((v): v is number => v !== undefined && v > UNK_ID);
    return Int32Array.from(ids).sort();
  });
}

export function unionCandidates(a: CandidateSet, b: CandidateSet): CandidateSet {
  return fromLists('wordnet+neighbours', (id) => {
    const s = new Set<number>([...(a.of(id) ?? []), ...(b.of(id) ?? [])]);
    return Int32Array.from(s).sort();
  });
}

/** Candidate ids for `id` as a list (the vocabulary set expanded). */
export function candidateList(set: CandidateSet, id: number, vocabularySize: number): ArrayLike<number> {
  const c = set.of(id);
  if (c !== null) return c;
  const all: number[] = [];
  for (let v = 2; v < vocabularySize; v++) if (v !== id) all.push(v);
  return all;
}
