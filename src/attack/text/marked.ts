/** A swapped message as text a person can read, each swapped word marked as [original→replacement]. */
import { PAD_ID, UNK, type Vocabulary } from '../../data/text.js';

export interface SwappedText {
  text: string;
  swaps: Array<{ position: number; from: string; to: string }>;
}

export function markSwaps(orig: ArrayLike<number>, adv: ArrayLike<number>, vocab: Vocabulary): SwappedText {
  const words: string[] = [];
  const swaps: SwappedText['swaps'] = [];
  const word = (id: number): string => vocab.tokens[id] ?? UNK;
  for (let i = 0; i < orig.length; i++) {
    const a = orig[i] as number, b = adv[i] as number;
    if (a === PAD_ID && b === PAD_ID) continue;
    if (a === b) words.push(word(a));
    else {
      words.push(`[${word(a)}→${word(b)}]`);
      swaps.push({ position: i, from: word(a), to: word(b) });
    }
  }
  return { text: words.join(' '), swaps };
}

/** The marked words with `context` words either side, gaps shown as "…": long messages at a glance. */
export function excerpt(marked: string, context = 6): string {
  const words = marked.split(' ');
  const keep = new Uint8Array(words.length);
  words.forEach((w, i) => {
    if (!/^\[.+→.+\]$/.test(w)) return;
    for (let j = Math.max(0, i - context); j <= Math.min(words.length - 1, i + context); j++) keep[j] = 1;
  });
  const out: string[] = [];
  words.forEach((w, i) => {
    if (keep[i]) out.push(w);
    else if (out[out.length - 1] !== '…') out.push('…');
  });
  return out.join(' ');
}
