/**
 * The text modality through the CLI, end to end (kept apart from cli.test.ts: its ~16 CLI runs each load
 * the SpamAssassin corpus, and as its own file it runs beside the others under --test-concurrency).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { assertRejectsUserError, assertUserError, runAlp } from '../testing/cli.js';
import { parseCommand, type Parsed } from './args.js';
import { ATTACK_SPEC } from './specs/attack.js';
import { compareWithCard, readCard } from '../model/zoo-card.js';
import { EVAL_SPEC } from './specs/eval.js';

/** alp eval's and alp detect's work, in-process: for further refusals of a kind a real process here already checks. */
const evalInProcess = async (args: string[]): Promise<void> => (await import('./commands/eval.js')).runEvalCommand(parseCommand(args, EVAL_SPEC) as Parsed, args);
const attackInProcess = async (args: string[]): Promise<void> => (await import('./commands/attack.js')).runAttackCommand(parseCommand(args, ATTACK_SPEC) as Parsed, args);
const detectInProcess = async (args: string[]): Promise<void> => (await import('./commands/detect.js')).detectCommand(args);

const alp = runAlp;
const userError = assertUserError;

const tmp = mkdtempSync(join(tmpdir(), 'alp-cli-text-'));
process.on('exit', () => rmSync(tmp, { recursive: true, force: true }));

test('text end to end: train on SpamAssassin, eval in embedding space, attack writes the nearest words', async () => {
  const out = join(tmp, 'spam');
  const t = alp(['train', '--method', 'alp', '--preset', 'spam', '--train-size', '300', '--val-size', '50', '--epochs', '1', '--attack-steps', '2', '--out', out, '--quiet', '--workers', '1']);
  assert.equal(t.code, 0, t.stderr);
  const vocab = JSON.parse(readFileSync(join(out, 'vocab.json'), 'utf8')) as { sequenceLength: number; tokens: string[] };
  assert.equal(vocab.sequenceLength, 128);
  assert.deepEqual(vocab.tokens.slice(0, 2), ['<pad>', '<unk>']);

  // No --data: the dataset comes from train.json; the threat model is L2 in embedding space, no box.
  const e = alp(['eval', '--model', out, '--n', '40', '--norm', 'l2', '--eps', '2', '--steps', '5', '--restarts', '1', '--attacks', 'pgd-ce', '--json']);
  assert.equal(e.code, 0, e.stderr);
  const r = JSON.parse(e.stdout) as { dataset: string; result: { cleanAccuracy: number; worstCaseAccuracy: number; attacks: Array<{ maxPerturbation: number }> } };
  assert.equal(r.dataset, 'spam-assassin');
  assert.deepEqual((JSON.parse(readFileSync(join(out, 'eval.json'), 'utf8')) as { result: unknown }).result, r.result);
  assert.ok((r.result.attacks[0]?.maxPerturbation ?? 0) <= 2 + 1e-4);

  const adir = join(tmp, 'spam-attack');
  const a = alp(['attack', '--model', out, '--n', '3', '--norm', 'l2', '--eps', '3', '--steps', '5', '--batch-size', '2', '--out', adir, '--json']);
  assert.equal(a.code, 0, a.stderr);
  const at = JSON.parse(a.stdout) as { texts: Array<{ clean: string; nearestWords: string; substitutions: Array<{ from: string; to: string }> }> };
  assert.equal(at.texts.length, 3);
  for (const x of at.texts) {
    assert.ok(x.clean.length > 0);
    // Unchanged positions decode to the same words; the substitutions list the rest.
    assert.equal(x.nearestWords.split(' ').length, x.clean.split(' ').length);
    for (const s of x.substitutions) assert.notEqual(s.from, s.to);
  }
  // Two shards of the same attack, merged, are the unsharded folder: adversarial.f32 and attack.json byte for byte.
  for (const k of [1, 2]) {
    const sa = alp(['attack', '--model', out, '--n', '3', '--norm', 'l2', '--eps', '3', '--steps', '5', '--batch-size', '2', '--shard', `${k}/2`, '--out', join(tmp, `spam-attack-${k}`), '--quiet']);
    assert.equal(sa.code, 0, sa.stderr);
  }
  const mg = alp(['merge', join(tmp, 'spam-attack-2'), join(tmp, 'spam-attack-1'), '--out', join(tmp, 'spam-attack-merged'), '--quiet']);
  assert.equal(mg.code, 0, mg.stderr);
  for (const f of ['adversarial.f32', 'attack.json']) assert.ok(readFileSync(join(adir, f)).equals(readFileSync(join(tmp, 'spam-attack-merged', f))), `merged ${f} differs from the unsharded one`);
  userError(['attack', '--model', out, '--n', '2', '--word-attack', 'hotflip', '--shard', '1/2', '--out', join(tmp, 'spam-word-shard'), '--quiet'], /--shard: not with --word-attack/);
  // Real word swaps: robust accuracy per k beside the embedding numbers, and the swapped messages as text.
  const w = alp(['eval', '--model', out, '--n', '6', '--norm', 'l2', '--eps', '0.5', '--steps', '3', '--restarts', '1', '--attacks', 'pgd-ce', '--swaps', '1,2', '--word-attacks', 'hotflip,greedy-swap', '--json', '--out', join(tmp, 'spam-swaps.json')]);
  assert.equal(w.code, 0, w.stderr);
  const ws = (JSON.parse(w.stdout) as { wordSwaps: { examples: number; cleanAccuracy: number; points: Array<{ k: number; worstCaseAccuracy: number; attacks: Array<{ name: string; robustAccuracy: number }> }> } }).wordSwaps;
  assert.equal(ws.examples, 6);
  assert.deepEqual(ws.points.map((pt) => pt.k), [1, 2]);
  for (const pt of ws.points) {
    assert.deepEqual(pt.attacks.map((a) => a.name), ['hotflip', 'greedy-swap']);
    for (const a of pt.attacks) assert.ok(pt.worstCaseAccuracy <= a.robustAccuracy && a.robustAccuracy <= ws.cleanAccuracy);
  }
  const wdir = join(tmp, 'spam-swaps');
  const wa = alp(['attack', '--model', out, '--n', '6', '--word-attack', 'hotflip', '--swaps', '2', '--target', '0', '--out', wdir, '--json']);
  assert.equal(wa.code, 0, wa.stderr);
  const wt = JSON.parse(wa.stdout) as { texts: Array<{ clean: string; adversarial: string; marked: string; success: boolean; adversarialPrediction: number; swaps: Array<{ from: string; to: string }> }> };
  assert.equal(wt.texts.length, 6);
  for (const x of wt.texts) {
    assert.ok(x.swaps.length <= 2);
    assert.equal(x.success, x.adversarialPrediction === 0);
    assert.equal((x.marked.match(/\[[^\]]+→[^\]]+\]/g) ?? []).length, x.swaps.length, x.marked);
    assert.equal(x.adversarial.split(' ').length, x.clean.split(' ').length);
  }
  assert.equal(readFileSync(join(wdir, 'adversarial.txt'), 'utf8').trim().split('\n').length, 6);
  userError(['attack', '--model', out, '--n', '2', '--word-attack', 'synonym', '--candidates', 'wordnet', '--wordnet', join(tmp, 'no-wordnet'), '--out', wdir, '--quiet'], /WordNet database not found: .*no-wordnet.*wordnet-base/);
  userError(['eval', '--model', out, '--n', '2', '--swaps', '0'], /--swaps: expected integers ≥ 1, found 0/);
  await assertRejectsUserError(evalInProcess(['--model', out, '--input-range=-1,1', '--n', '5']), /--input-range: not for text models/);
  // Detection on text: calibrated and evaluated on embeddings against real word swaps; checking inputs stays image-only.
  const d = alp(['detect', 'eval', '--model', out, '--n', '6', '--calib-n', '20', '--fpr', '0.1', '--detectors', 'margin', '--swaps', '1', '--lambdas', '1', '--probe', '2', '--json', '--out', join(tmp, 'spam-detect.json')]);
  assert.equal(d.code, 0, d.stderr);
  const de = JSON.parse(d.stdout) as { setup: { modality: string }; models: Array<{ detectors: Array<{ attacks: Array<{ attack: string; adaptive: boolean }> }> }> };
  assert.equal(de.setup.modality, 'text');
  assert.deepEqual(de.models[0]?.detectors[0]?.attacks.map((a) => [a.attack, a.adaptive]), [['hotflip-1', false], ['adaptive-swaps-1', true]]);
  userError(['detect', 'eval', '--model', out, '--n', '6', '--eps', '0.1'], /--eps: an option of the image attacks; a text model is attacked with real word swaps/);
  await assertRejectsUserError(detectInProcess(['eval', '--model', out, '--n', '6', '--swaps', '0']), /--swaps: expected an integer ≥ 1, found 0/);
  await assertRejectsUserError(detectInProcess(['eval', '--model', out, '--n', '6', '--lambdas', '0']), /--lambdas: a text model needs at least one λ > 0/);
  userError(['detect', 'serve', '--model', out, '--detector', join(tmp, 'spam-detector.json')], /spam-detector.json: no such file/);
  const c = alp(['detect', 'calibrate', '--model', out, '--detector', 'logit-discrepancy', '--samples', '4', '--calib-n', '20', '--fpr', '0.1', '--out', join(tmp, 'spam-detector.json'), '--json']);
  assert.equal(c.code, 0, c.stderr);
  assert.equal((JSON.parse(c.stdout) as { detector: { box?: boolean } }).detector.box, false);
  userError(['detect', 'serve', '--model', out, '--detector', join(tmp, 'spam-detector.json')], /a text model; alp detect serve reads images and audio, not messages/);
});

test('a binary classifier (the spam filter) runs alp eval\'s default suite, APGD-T replaced by APGD on the margin and said so; APGD-T asked for by name is refused', async () => {
  const out = join(tmp, 'spam');
  const file = join(tmp, 'spam-default-suite.json');
  const e = alp(['eval', '--model', out, '--n', '12', '--norm', 'l2', '--eps', '1', '--steps', '3', '--restarts', '1', '--queries', '20', '--out', file]);
  assert.equal(e.code, 0, e.stderr);
  assert.match(e.stdout, /2 classes: apgd-dlr replaced by apgd-cw: APGD-T's targeted DLR loss .* needs 4 classes; the model has 2; APGD on the CW margin/);
  const r = JSON.parse(readFileSync(file, 'utf8')) as { suite: { attacks: string[]; replaced: Array<{ attack: string; by: string; reason: string }> }; result: { attacks: Array<{ name: string }> } };
  assert.deepEqual(r.suite.attacks, ['fgsm', 'pgd-ce', 'pgd-cw', 'apgd-cw', 'square']);
  assert.deepEqual(r.suite.replaced.map((x) => [x.attack, x.by]), [['apgd-dlr', 'apgd-cw']]);
  assert.ok(r.result.attacks.some((a) => a.name.startsWith('apgd-l2-cw-')), r.result.attacks.map((a) => a.name).join(', '));
  userError(['eval', '--model', out, '--n', '4', '--attacks', 'pgd-ce,apgd-dlr', '--out', join(tmp, 'never.json'), '--quiet'], /^alp: --attacks: apgd-dlr cannot run on this model: APGD-T's targeted DLR loss .* needs 4 classes; the model has 2 \(use apgd-cw or apgd-ce\)$/);
  assert.equal(existsSync(join(tmp, 'never.json')), false);
  await assertRejectsUserError(attackInProcess(['--model', out, '--n', '2', '--attack', 'apgd-dlr', '--out', join(tmp, 'never'), '--quiet']), /^--attack: apgd-dlr cannot run on this model: .* the model has 2 \(use apgd-cw or apgd-ce\)$/);
  assert.equal(existsSync(join(tmp, 'never')), false);
});

test('a text model in the zoo: its vocabulary travels with it, the card holds the word-swap numbers, and alp zoo verify recomputes them', async () => {
  const out = join(tmp, 'spam');
  const zoo = join(tmp, 'zoo');
  const work = join(tmp, 'zoo-work');
  mkdirSync(work, { recursive: true });
  const env = { ALP_ZOO_DIR: zoo };
  // Neither --norm nor --eps: a text model is audited at the threat it was trained for (the spam preset's L2 0.5), not at MNIST's L∞ 0.3.
  const a = alp(['audit', '--model', out, '--n', '4', '--budget', 'quick', '--swaps', '1,2', '--workers', '1', '--out', join(tmp, 'zoo-audit')]);
  assert.equal(a.code, 0, a.stderr);
  assert.match(a.stderr, /l2 ε=0\.5, the threat model it was trained for \(give --norm and --eps to choose\)/);
  assert.match(a.stderr, /text model; attacks perturb its \d+-d embeddings of 128 tokens \(l2 ε=0\.5, no box\)/);
  assert.deepEqual((JSON.parse(readFileSync(join(tmp, 'zoo-audit', 'audit.json'), 'utf8')) as { threat: { norm: string; eps: number } }).threat, { norm: 'l2', eps: 0.5, bounds: null });
  const add = runAlp(['zoo', 'add', out, '--name', 'spam-test', '--audit', join(tmp, 'zoo-audit', 'audit.json'), '--summary', 'A tiny spam filter, for tests.', '--json'], { env, cwd: work });
  assert.equal(add.code, 0, add.stderr);
  assert.ok(existsSync(join(zoo, 'spam-test', 'vocab.json')), 'vocab.json was not copied into the zoo');
  assert.equal(readFileSync(join(zoo, 'spam-test', 'vocab.json'), 'utf8'), readFileSync(join(out, 'vocab.json'), 'utf8'));
  const card = (JSON.parse(add.stdout) as { card: { numbers: { wordSwaps: { candidates: string; examples: number; points: Array<{ k: number; accuracy: number }> }; audit: { command: string } } } }).card;
  assert.deepEqual(card.numbers.wordSwaps.points.map((pt) => pt.k), [1, 2]);
  assert.equal(card.numbers.wordSwaps.candidates, 'vocabulary');
  assert.match(card.numbers.audit.command, / --swaps 1,2 --candidates vocabulary --neighbours 8$/);
  assert.match(readFileSync(join(zoo, 'spam-test', 'README.md'), 'utf8'), /real word swaps \(first \d+ messages, vocabulary candidates\) \| k ≤ 1: \*\*[\d.]+%\*\*, k ≤ 2: /);
  const list = runAlp(['zoo', 'list', '--json'], { env, cwd: work });
  assert.equal(list.code, 0, list.stderr);
  assert.deepEqual((JSON.parse(list.stdout) as { models: Array<{ wordSwaps?: Array<{ k: number }> }> }).models.map((m) => m.wordSwaps?.map((pt) => pt.k)), [[1, 2]]);
  assert.match(runAlp(['zoo', 'list'], { env, cwd: work }).stdout, /k≤1 [\d.]+%, k≤2 [\d.]+%/);
  const v = runAlp(['zoo', 'verify', 'spam-test', '--workers', '1', '--json'], { env, cwd: work });
  assert.equal(v.code, 0, v.stderr);
  const checks = (JSON.parse(v.stdout) as { checks: Array<{ field: string; ok: boolean }> }).checks;
  assert.deepEqual(checks.map((c) => [c.field, c.ok]), [['clean', true], ['audited', true], ['word swaps k ≤ 1', true], ['word swaps k ≤ 2', true]]);
  // A word-swap number that does not reproduce fails the verification (exit 3 through the same checks as an image card's
  // audited number, which zoo-cli.test.ts runs end to end), and so does a k the measurement lacks.
  const c = readCard(join(zoo, 'spam-test'));
  const measured = { clean: c.numbers.clean, audited: c.numbers.audited, wordSwaps: c.numbers.wordSwaps!.points.map((pt) => ({ ...pt })) };
  assert.ok(compareWithCard(c, measured).every((x) => x.ok));
  measured.wordSwaps[1]!.accuracy += 0.01;
  assert.deepEqual(compareWithCard(c, measured).map((x) => x.ok), [true, true, true, false]);
  assert.deepEqual(compareWithCard(c, { ...measured, wordSwaps: measured.wordSwaps.slice(0, 1) }).map((x) => x.ok), [true, true, true, false]);
  // A vocabulary changed after the card was written is a damaged model (exit 7), like changed weights.
  const vocab = join(zoo, 'spam-test', 'vocab.json');
  writeFileSync(vocab, readFileSync(vocab, 'utf8').replace('"<unk>"', '"<UNK>"'));
  const tampered = runAlp(['zoo', 'verify', 'spam-test', '--weights-only'], { env, cwd: work });
  assert.equal(tampered.code, 7, tampered.stderr);
  assert.match(tampered.stderr, /vocab\.json: the vocabulary's SHA-256 is [0-9a-f]{64}, the card says/);
});
