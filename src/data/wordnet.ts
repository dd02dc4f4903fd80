/**
 * WordNet 3.0 synonyms, read offline from the database files Debian's `wordnet-base` installs
 * (/usr/share/wordnet: index.POS lists each lemma's synset offsets, data.POS holds each synset's words at
 * that byte offset; format in wndb(5WN)). Only single-word lemmas are kept: a token is one word.
 * Lookup is exact on the lower-cased surface form (no morphological reduction), so "offers" finds
 * nothing unless WordNet lists it; that keeps every substitution a word WordNet itself names.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { UserError } from '../util/errors.js';

export const WORDNET_DIR = '/usr/share/wordnet';
const POS = ['noun', 'verb', 'adj', 'adv'] as const;

export interface WordNet {
  dir: string;
  /** Single-word synonyms of `word` over all its senses (itself excluded), sorted. */
  synonyms(word: string): string[];
}

/** Opens the database in `dir`; a missing file is one clear error naming it and the package. */
export function openWordNet(dir = WORDNET_DIR): WordNet {
  const files = POS.flatMap((p) => [join(dir, `index.${p}`), join(dir, `data.${p}`)]);
  const missing = files.filter((f) => !existsSync(f));
  if (missing.length > 0) {
    throw new UserError(`WordNet database not found: ${missing[0]} is missing${missing.length > 1 ? ` (and ${missing.length - 1} more files)` : ''}; install the Debian package wordnet-base (apt-get install wordnet-base) or point --wordnet at a folder with WordNet 3.0's index.* and data.* files`);
  }
  const offsets = new Map<string, Array<[number, number]>>(); // lemma → [pos index, byte offset]
  const data: Buffer[] = [];
  POS.forEach((p, k) => {
    data.push(readFileSync(join(dir, `data.${p}`)));
    const index = readFileSync(join(dir, `index.${p}`), 'latin1');
    for (const line of index.split('\n')) {
      if (line === '' || line.startsWith('  ')) continue; // the licence header lines start with two spaces
      const f = line.split(' ');
      const lemma = f[0] as string;
      if (lemma.includes('_')) continue;
      const synsets = Number(f[2]);
      const pointers = Number(f[3]);
      // lemma pos synset_cnt p_cnt [ptr × p_cnt] sense_cnt tagsense_cnt offset × synset_cnt
      const first = 4 + pointers + 2;
      const list = offsets.get(lemma) ?? [];
      for (let s = 0; s < synsets; s++) {
        const off = Number(f[first + s]);
        if (!Number.isInteger(off)) throw new UserError(`${join(dir, `index.${p}`)}: line for ${JSON.stringify(lemma)} is malformed (expected ${synsets} synset offsets)`);
        list.push([k, off]);
      }
      offsets.set(lemma, list);
    }
  });
  const cache = new Map<string, string[]>();
  const synonyms = (word: string): string[] => {
    const hit = cache.get(word);
    if (hit !== undefined) return hit;
    const out = new Set<string>();
    for (const [k, off] of offsets.get(word) ?? []) {
      const buf = data[k] as Buffer;
      const end = buf.indexOf(10, off);
      const f = buf.toString('latin1', off, end < 0 ? buf.length : end).split(' ');
      // offset lex_filenum ss_type w_cnt(hex) [word lex_id] × w_cnt ...
      const count = parseInt(f[3] as string, 16);
      for (let w = 0; w < count; w++) {
        // Adjectives may carry a syntactic marker, e.g. "galore(ip)".
        const lemma = (f[4 + 2 * w] as string).replace(/\(.*\)$/, '').toLowerCase();
        if (!lemma.includes('_') && !lemma.includes('-') && lemma !== word) out.add(lemma);
      }
    }
    const list = [...out].sort();
    cache.set(word, list);
    return list;
  };
  return { dir, synonyms };
}
