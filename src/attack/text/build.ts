/** Word attacks and candidate sets by name, as the CLI asks for them. */
import type { Vocabulary } from '../../data/text.js';
import { openWordNet } from '../../data/wordnet.js';
import { UserError } from '../../util/errors.js';
import { neighbourCandidates, unionCandidates, vocabularyCandidates, wordnetCandidates, type CandidateKind, type CandidateSet, type CandidateSpec } from './candidates.js';
import { greedySwap } from './greedy-swap.js';
import { hotflip } from './hotflip.js';
import { synonymAttack } from './synonym.js';
import type { WordAttack, WordAttackName } from './word-attack.js';
import type { WordModel } from './word-model.js';

export function buildWordAttack(name: WordAttackName, o: { seed?: number; beamWidth?: number } = {}): WordAttack {
  switch (name) {
    case 'hotflip': return hotflip(o.beamWidth !== undefined ? { beamWidth: o.beamWidth } : {});
    case 'synonym': return synonymAttack();
    case 'greedy-swap': return greedySwap({ seed: o.seed ?? 0 });
    default: throw new UserError(`word attack: unknown name ${JSON.stringify(name)}; expected hotflip, synonym or greedy-swap`);
  }
}

/**
 * The candidate set `kind` for model `m` with vocabulary `vocab`; `neighbours` nearest words in its
 * embedding. The set carries its spec, so a worker can build it again from a replica of the model.
 */
export function buildCandidates(kind: CandidateKind, m: WordModel, vocab: Vocabulary, o: Omit<CandidateSpec, 'kind'> = {}): CandidateSet {
  const set = candidatesOfKind(kind, m, vocab, o);
  return { ...set, spec: { kind, ...(o.neighbours !== undefined ? { neighbours: o.neighbours } : {}), ...(o.wordnetDir !== undefined ? { wordnetDir: o.wordnetDir } : {}) } };
}

function candidatesOfKind(kind: CandidateKind, m: WordModel, vocab: Vocabulary, o: Omit<CandidateSpec, 'kind'>): CandidateSet {
  const knn = (): CandidateSet => neighbourCandidates(m.table(), m.vocabularySize, m.dim, o.neighbours ?? 8);
  const wn = (): CandidateSet => wordnetCandidates(openWordNet(o.wordnetDir), vocab);
  switch (kind) {
    case 'vocabulary': return vocabularyCandidates(m.vocabularySize);
    case 'neighbours': return knn();
    case 'wordnet': return wn();
    case 'wordnet+neighbours': return unionCandidates(wn(), knn());
    default: throw new UserError(`candidates: unknown kind ${JSON.stringify(kind)}; expected vocabulary, neighbours, wordnet or wordnet+neighbours`);
  }
}
