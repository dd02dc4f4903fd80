import { ATTACK_SPEC } from '../specs/attack.js';
import { refuseGiven } from '../inapplicable.js';
import { WORD_SWAP_OPTIONS } from '../options.js';
import type { AttackName } from '../../eval/suite.js';
import { refuseUnfit } from '../../eval/few-classes.js';
import { UserError } from '../../util/errors.js';
import { parseCommand, get, type Parsed } from '../args.js';
import { workersFor, emit, jobLog, openModelJob, pct, versions } from '../common.js';
import { weightsHash as modelWeightsHash } from '../../model/fingerprint.js';
import { modelJsonPath } from '../../model/io.js';
import { parseShard, shardRange } from '../../artifacts/shard.js';
import { excerpt } from '../../attack/text/index.js';
import { wordAttacksOf, wordSwapSetup } from '../word-swaps.js';
import type { ModelJob } from '../common.js';
import { runAttackJob, runWordAttackJob, type AttackJobSpec } from '../../jobs/attack.js';

export { ATTACK_SPEC };

/** `alp attack ARGS` (cli/main.ts parses them itself before loading this module, then calls runAttackCommand). */
export async function attackCommand(argv: string[]): Promise<void> {
  const p = parseCommand(argv, ATTACK_SPEC);
  if (p !== undefined) await runAttackCommand(p, argv);
}

/** `alp attack` on arguments parsed and checked against ATTACK_SPEC. */
export async function runAttackCommand(p: Parsed, argv: string[]): Promise<void> {
  const job = await openModelJob(p, 'attack');
  const { modelPath, quiet, backend, ds, model, threat } = job;
  const target = get.num(p, 'target');
  if (target !== undefined && (target < 0 || target >= ds.numClasses)) {
    throw new UserError(`--target: expected a class in 0..${ds.numClasses - 1}, got ${target}`);
  }
  if (get.str(p, 'word-attack') !== undefined) {
    // A word attack swaps real words: the image attacks' settings would be ignored.
    refuseGiven(argv, ['attack', 'steps', 'restarts'], 'an option of the gradient attacks; --word-attack swaps real words (--swaps, --candidates, …)');
    if (get.str(p, 'shard') !== undefined) throw new UserError('--shard: not with --word-attack (a word attack runs whole; its results cannot be merged yet); run it unsharded');
    await wordAttackCommand(p, job, target);
    return;
  }
  // An attack the model's classes cannot carry (APGD-T needs 4) is refused here, before any work.
  refuseUnfit([get.str(p, 'attack') as AttackName], ds.numClasses, '--attack', target !== undefined);
  refuseGiven(argv, ['swaps', ...WORD_SWAP_OPTIONS.map((o) => o.name)], 'an option of word attacks; add --word-attack NAME (text models) or leave it out');
  const suiteSpec = {
    threat, attacks: [get.str(p, 'attack') as AttackName], steps: get.num(p, 'steps') as number,
    restarts: get.num(p, 'restarts') as number, seed: get.num(p, 'seed') as number,
  };
  const shardText = get.str(p, 'shard');
  const shard = shardText !== undefined ? parseShard(shardText) : undefined;
  const range = shard !== undefined ? shardRange(ds.count, shard, get.num(p, 'batch-size') as number) : [0, ds.count] as [number, number];
  const r = await runAttackJob({
    ...jobBase(p, job, target), model, suite: suiteSpec, batchSize: get.num(p, 'batch-size') as number, ...(job.text !== undefined ? { text: job.text } : {}),
    ...(shard !== undefined ? { shard } : {}), workers: workersFor(p, range[1] - range[0]),
  }, jobLog(quiet));
  const out = get.str(p, 'out') as string;
  const outcome = r.examples === 0 ? `shard ${shard?.index}/${shard?.count}: no examples`
    : `${r.attack}: ${r.fooled}/${r.examples} ${target !== undefined ? `classified as ${target}` : 'misclassified'} (${pct(r.fooled / r.examples)})`;
  if (job.text !== undefined) {
    const texts = r.report['texts'] as Array<{ success: boolean; substitutions: unknown[] }>;
    const changed = texts.filter((t) => t.success && t.substitutions.length > 0).length;
    emit(p, r.report, `${outcome}; ${changed} of the fooled messages map to different words (nearest embeddings), the rest only move within their words' neighbourhoods; wrote ${out}/: ${r.files.join(', ')}`);
    return;
  }
  emit(p, r.report, `${outcome}; wrote ${out}/: ${r.files.join(', ')}`);
}

/** What every attack job takes from the command line and the opened model. */
function jobBase(p: Parsed, job: ModelJob, target: number | undefined): Omit<AttackJobSpec, 'model' | 'suite' | 'workers' | 'batchSize'> {
  return {
    modelPath: job.modelPath, weightsHash: modelWeightsHash(modelJsonPath(job.modelPath)), ds: job.ds, data: job.data,
    ...(target !== undefined ? { target } : {}), out: get.str(p, 'out') as string, force: get.bool(p, 'force'),
    versions: versions(job.backend), warnings: job.warnings, backend: job.backend,
  };
}

/** `--word-attack`: real word swaps on a text model, written as text with every swapped word marked. */
async function wordAttackCommand(p: Parsed, job: ModelJob, target: number | undefined): Promise<void> {
  const w = wordSwapSetup(p, job, 'word-attack');
  const [attack] = wordAttacksOf(p, [get.str(p, 'word-attack') as string]);
  if (attack === undefined) throw new Error('no word attack built');
  const r = await runWordAttackJob({
    ...jobBase(p, job, target), attack, swaps: get.num(p, 'swaps') as number,
    model: w.model, vocab: w.vocab, ids: w.ids, labels: w.labels, candidates: w.candidates, ...(w.fraction !== undefined ? { fraction: w.fraction } : {}),
  }, jobLog(job.quiet));
  const k = get.num(p, 'swaps') as number;
  const { texts } = r.report;
  const n = r.examples, fooled = r.fooled;
  const out = get.str(p, 'out') as string;
  const shown = texts.filter((t) => t.success && t.swaps.length > 0).slice(0, 3)
    .map((t) => `  #${t.index} ${t.cleanPrediction}→${t.adversarialPrediction}: ${t.swaps.map((s) => `${s.from}→${s.to}`).join(', ')}\n    ${excerpt(t.marked)}`);
  const outcome = `${attack.name}: ${fooled}/${n} ${target !== undefined ? `classified as ${target}` : 'misclassified'} (${pct(fooled / Math.max(n, 1))}) with ≤ ${k} real word swaps, verified on the new messages`;
  emit(p, r.report, `${outcome}${shown.length > 0 ? `\n${shown.join('\n')}` : ''}\nwrote ${out}/: adversarial.txt, attack.json`);
}
