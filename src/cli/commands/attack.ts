import { ATTACK_SPEC } from '../specs/attack.js';
import { refuseGiven } from '../inapplicable.js';
import { WORD_SWAP_OPTIONS } from '../options.js';
import { runAttack } from '../../attack/runner.js';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { buildSuite, type AttackName } from '../../eval/suite.js';
import { refuseUnfit } from '../../eval/few-classes.js';
import { logitsOf } from '../../model/classifier.js';
import { encodePng, imageGrid, perturbationMap } from '../../report/index.js';
import { audioTiles } from '../../report/waveform.js';
import { textReadings, writeClipPairs } from '../../artifacts/attack.js';
import { nearestTokens } from '../../model/text.js';
import { writeFileAtomic, writeJsonAtomic } from '../../util/atomic.js';
import { UserError } from '../../util/errors.js';
import { parseCommand, get, type Parsed } from '../args.js';
import { workersFor, emit, guardOutput, openModelJob, pct, versions } from '../common.js';
import { ATTACK_SCHEMA, attackIdentity } from '../../artifacts/outputs.js';
import { weightsHash as modelWeightsHash } from '../../model/fingerprint.js';
import { modelJsonPath } from '../../model/io.js';
import { say } from '../progress.js';
import { decodeIds } from '../../data/text.js';
import { excerpt, markSwaps, runWordAttack } from '../../attack/text/index.js';
import { wordAttacksOf, wordSwapSetup } from '../word-swaps.js';
import type { ModelJob } from '../common.js';
import { attackParallel } from '../../jobs/evaluate-parallel.js';

export { ATTACK_SPEC };

/**
 * The one output rule (artifacts/outputs.ts) for `--out`: its attack.json is replaced only by the same
 * attack on the same weights and examples, before any work; returns the fields that identify this run.
 */
function guardAttackOutput(p: Parsed, job: ModelJob, out: string, attack: unknown, target: number | undefined): { schema: string; weightsHash: string | null } {
  const weightsHash = modelWeightsHash(modelJsonPath(job.modelPath));
  const want = { schema: ATTACK_SCHEMA, weightsHash, dataset: job.ds.name, data: job.data, attack, targeted: target ?? null };
  guardOutput(join(out, 'attack.json'), 'attack', attackIdentity(JSON.parse(JSON.stringify(want)) as Record<string, unknown>), p);
  return { schema: ATTACK_SCHEMA, weightsHash };
}

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
  const [attack] = buildSuite(suiteSpec);
  if (attack === undefined) throw new Error('no attack built');
  const out = get.str(p, 'out') as string;
  const stamp = guardAttackOutput(p, job, out, attack.describe(), target);
  say(quiet, `alp attack: ${attack.name} on ${ds.count} ${ds.name} test examples, backend ${backend} → ${out}`);
  const f = logitsOf(model);
  const [h, w, c] = ds.shape;
  const x = tf.tensor4d(ds.images, [ds.count, h, w, c]);
  const y = tf.tensor1d(ds.labels, 'int32');
  const targets = target !== undefined ? tf.fill([ds.count], target, 'int32') as tf.Tensor1D : undefined;
  const workers = workersFor(p, ds.count);
  const r = workers > 1
    ? await (async () => {
      // Slices of the examples on workers with replicas of the model; seeds are per example, so the
      // result is the in-thread one.
      const s = await attackParallel(model, ds, suiteSpec, [0, ds.count], { workers, ...(target !== undefined ? { target } : {}) });
      return { adversarial: tf.tensor4d(s.data, [ds.count, h, w, c]), success: s.success, pred: s.pred };
    })()
    : runAttack(attack, f, x, y, targets !== undefined ? { targets } : {});
  const cleanPred = tf.tidy(() => f(x).argMax(-1).dataSync() as Int32Array);
  const advPred = r.pred;
  const advData = r.adversarial.dataSync() as Float32Array;
  const nearest = job.text !== undefined ? nearestTokens(r.adversarial.reshape([ds.count, h, w]), job.text.split.table()) : null;
  tf.dispose([x, y, r.adversarial, ...(targets ? [targets] : [])]);
  const fooled = r.success.reduce((a, b) => a + b, 0);
  const outcome = `${attack.name}: ${fooled}/${ds.count} ${target !== undefined ? `classified as ${target}` : 'misclassified'} (${pct(fooled / ds.count)})`;

  if (job.text !== undefined && nearest !== null) {
    // Text: what each adversarial embedding sequence says in words (nearest vocabulary entries).
    const texts = textReadings(job.text.ids, nearest, { count: ds.count, tokens: h, labels: ds.labels, cleanPred, advPred, success: r.success });
    writeFileAtomic(join(out, 'adversarial.f32'), new Uint8Array(advData.buffer, advData.byteOffset, advData.byteLength));
    const report = {
      ...stamp, model: modelPath, dataset: ds.name, data: job.data, attack: attack.describe(), targeted: target ?? null,
      tensor: { file: 'adversarial.f32', dtype: 'float32', shape: [ds.count, h, w], layout: 'adversarial embeddings [N, tokens, dim], little-endian' },
      successRate: fooled / ds.count, texts, versions: versions(backend), warnings: job.warnings,
    };
    writeJsonAtomic(join(out, 'attack.json'), report);
    const changed = texts.filter((t) => t.success && t.substitutions.length > 0).length;
    emit(p, report, `${outcome}; ${changed} of the fooled messages map to different words (nearest embeddings), the rest only move within their words' neighbourhoods; wrote ${out}/: adversarial.f32, attack.json`);
    return;
  }

  const row = h * w * c;
  const audio = ds.sampleRate !== undefined && h === 1 && c === 1;
  const files = ['adversarial.png', 'adversarial.f32', 'attack.json'];
  const tiles = Array.from({ length: ds.count }, (_, i) => {
    const clean = ds.images.slice(i * row, (i + 1) * row);
    const adv = advData.slice(i * row, (i + 1) * row);
    // Audio: waveform strips instead of 1-pixel-high images, and the clips themselves to listen to.
    if (audio) return audioTiles(clean, adv, `${ds.labels[i]}>${cleanPred[i]} ADV ${advPred[i]}`);
    return [
      { pixels: clean, h, w, c, caption: `${ds.labels[i]}>${cleanPred[i]}` },
      { pixels: adv, h, w, c, caption: `ADV ${advPred[i]}` },
      { pixels: perturbationMap(clean, adv, h, w, c), h, w, c: 3, caption: 'DELTA' },
    ];
  });
  const grid = imageGrid(tiles, { scale: audio ? 1 : 3, pad: 4 });
  writeFileAtomic(join(out, 'adversarial.png'), encodePng(grid.width, grid.height, grid.rgba));
  writeFileAtomic(join(out, 'adversarial.f32'), new Uint8Array(advData.buffer, advData.byteOffset, advData.byteLength));
  if (audio) {
    writeClipPairs(out, ds, advData);
    files.splice(2, 0, `wav/ (${2 * ds.count} clips)`);
  }
  const report = {
    ...stamp, model: modelPath, dataset: ds.name, data: job.data, attack: attack.describe(), targeted: target ?? null,
    tensor: { file: 'adversarial.f32', dtype: 'float32', shape: [ds.count, h, w, c], layout: 'NHWC, little-endian, values in [0,1]' },
    ...(audio ? { audio: { sampleRate: ds.sampleRate, files: 'wav/<i>-clean.wav, wav/<i>-adversarial.wav (16-bit PCM mono)', waveform: 'w = 2x − 1' } } : {}),
    labels: Array.from(ds.labels), cleanPredictions: Array.from(cleanPred), adversarialPredictions: Array.from(advPred),
    success: Array.from(r.success), successRate: fooled / ds.count, versions: versions(backend), warnings: job.warnings,
  };
  writeJsonAtomic(join(out, 'attack.json'), report);
  emit(p, report, `${outcome}; wrote ${out}/: ${files.join(', ')}`);
}

/** `--word-attack`: real word swaps on a text model, written as text with every swapped word marked. */
async function wordAttackCommand(p: Parsed, job: ModelJob, target: number | undefined): Promise<void> {
  const w = wordSwapSetup(p, job, 'word-attack');
  const [attack] = wordAttacksOf(p, [get.str(p, 'word-attack') as string]);
  if (attack === undefined) throw new Error('no word attack built');
  const k = get.num(p, 'swaps') as number;
  if (!Number.isInteger(k) || k < 1) throw new UserError(`--swaps: expected an integer ≥ 1, found ${k}`);
  const out = get.str(p, 'out') as string;
  const described = { name: attack.name, swaps: k, fraction: w.fraction ?? null, candidates: w.candidates.kind };
  const stamp = guardAttackOutput(p, job, out, described, target);
  const n = w.labels.length, L = w.model.length;
  say(job.quiet, `alp attack: ${attack.name} (≤ ${k} word swaps${w.fraction !== undefined ? `, ≤ ${w.fraction} of the words` : ''}, ${w.candidates.kind} candidates) on ${n} ${job.ds.name} test messages → ${out}`);
  const targets = target !== undefined ? new Int32Array(n).fill(target) : undefined;
  const r = await runWordAttack(attack, w.model, w.ids, w.labels, {
    budget: { k, ...(w.fraction !== undefined ? { fraction: w.fraction } : {}) }, candidates: w.candidates, ...(targets !== undefined ? { targets } : {}),
  });
  const texts = Array.from({ length: n }, (_, i) => {
    const orig = w.ids.subarray(i * L, (i + 1) * L), adv = r.adversarial.subarray(i * L, (i + 1) * L);
    const marked = markSwaps(orig, adv, w.vocab);
    return {
      index: i, label: w.labels[i] as number, cleanPrediction: r.cleanPred[i] as number, adversarialPrediction: r.pred[i] as number,
      success: r.success[i] === 1, clean: decodeIds(orig, w.vocab), adversarial: decodeIds(adv, w.vocab), marked: marked.text, swaps: marked.swaps,
    };
  });
  const fooled = r.success.reduce((a, b) => a + b, 0);
  const report = {
    ...stamp, model: job.modelPath, dataset: job.ds.name, data: job.data, attack: described, targeted: target ?? null,
    successRate: n === 0 ? 0 : fooled / n, queries: r.queries, texts, versions: versions(job.backend), warnings: job.warnings,
  };
  writeJsonAtomic(join(out, 'attack.json'), report);
  // One message per line: label, predictions, and the text with [original→replacement] marks.
  writeFileAtomic(join(out, 'adversarial.txt'), texts.map((t) => `${t.success ? 'FOOLED' : 'held'}\tlabel ${t.label}\t${t.cleanPrediction}→${t.adversarialPrediction}\t${t.marked}`).join('\n') + '\n');
  const shown = texts.filter((t) => t.success && t.swaps.length > 0).slice(0, 3)
    .map((t) => `  #${t.index} ${t.cleanPrediction}→${t.adversarialPrediction}: ${t.swaps.map((s) => `${s.from}→${s.to}`).join(', ')}\n    ${excerpt(t.marked)}`);
  const outcome = `${attack.name}: ${fooled}/${n} ${target !== undefined ? `classified as ${target}` : 'misclassified'} (${pct(fooled / Math.max(n, 1))}) with ≤ ${k} real word swaps, verified on the new messages`;
  emit(p, report, `${outcome}${shown.length > 0 ? `\n${shown.join('\n')}` : ''}\nwrote ${out}/: adversarial.txt, attack.json`);
}
