/**
 * The options `alp eval` and `alp attack` share for word-substitution attacks on text models, and how
 * they become a word model, attacks and a candidate set. Kept apart so the commands stay thin.
 */
import { buildCandidates, buildWordAttack, CANDIDATE_KINDS, WORD_ATTACK_NAMES, wordModel, type CandidateKind, type CandidateSet, type WordAttack, type WordAttackName, type WordModel } from '../attack/text/index.js';
import { vocabularyOf, type Vocabulary } from '../data/text.js';
import { UserError } from '../util/errors.js';
import { get, type OptSpec, type Parsed } from './args.js';
import type { ModelJob } from './common.js';

export const WORD_SWAP_OPTIONS: OptSpec[] = [
  { name: 'candidates', type: 'string', choices: CANDIDATE_KINDS, default: 'vocabulary', help: 'text: which words may replace a word (wordnet reads Debian wordnet-base)' },
  { name: 'swap-fraction', type: 'number', help: 'text: also at most this fraction of a message\'s words may be swapped' },
  { name: 'neighbours', type: 'int', default: 8, help: 'text: embedding neighbours per word for --candidates neighbours' },
  { name: 'wordnet', type: 'string', metavar: 'DIR', help: 'text: WordNet 3.0 database folder (default /usr/share/wordnet)' },
  { name: 'beam', type: 'int', default: 1, help: 'text: HotFlip beam width' },
];

export interface WordSwapSetup {
  model: WordModel;
  vocab: Vocabulary;
  ids: Int32Array;
  labels: Int32Array;
  candidates: CandidateSet;
  fraction?: number;
}

/** The word-level view of a text job, or a clear error when the model is not a text model. */
export function wordSwapSetup(p: Parsed, job: ModelJob, option: string): WordSwapSetup {
  if (job.text === undefined) throw new UserError(`--${option}: word swaps need a text model (one with an Embedding layer); ${job.modelPath} is not one`);
  const model = wordModel(job.text.split);
  const vocab = vocabularyOf(job.text.ids.vocabulary as string[]);
  const wordnet = get.str(p, 'wordnet');
  const candidates = buildCandidates(get.str(p, 'candidates') as CandidateKind, model, vocab, {
    neighbours: get.num(p, 'neighbours') as number, ...(wordnet !== undefined ? { wordnetDir: wordnet } : {}),
  });
  const fraction = get.num(p, 'swap-fraction');
  if (fraction !== undefined && !(fraction > 0 && fraction <= 1)) throw new UserError(`--swap-fraction: expected a number in (0, 1], found ${fraction}`);
  return {
    model, vocab, ids: Int32Array.from(job.text.ids.images), labels: job.text.ids.labels, candidates,
    ...(fraction !== undefined ? { fraction } : {}),
  };
}

export function wordAttacksOf(p: Parsed, names: string[]): WordAttack[] {
  return names.map((name) => {
    if (!(WORD_ATTACK_NAMES as readonly string[]).includes(name)) throw new UserError(`--word-attacks: unknown attack ${JSON.stringify(name)}; expected one of ${WORD_ATTACK_NAMES.join(', ')}`);
    return buildWordAttack(name as WordAttackName, { seed: get.num(p, 'seed') ?? 0, beamWidth: get.num(p, 'beam') as number });
  });
}
