import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runWordAttack } from '../attack/text/verify.js';
import { hotflip } from '../attack/text/hotflip.js';
import { vocabularyCandidates } from '../attack/text/candidates.js';
import { wordModel } from '../attack/text/word-model.js';
import { buildArch } from '../model/architectures.js';
import { splitAtEmbedding } from '../model/text.js';
import { keywordTexts, TINY_L, TINY_V } from '../testing/tiny-text.js';
import { useBackend } from '../testing/setup.js';
import { ConfigError, resolveConfig } from './config.js';
import { optionMessage } from '../cli/args.js';
import { UserError } from '../util/errors.js';
import { trainModel } from './trainer.js';

test('word-swap ALP trains on HotFlip twins (pairing term logged); the options are checked', async () => {
  await useBackend();
  const c = resolveConfig(undefined, { method: 'alp', arch: 'text-cnn', epochs: 2, batchSize: 40, lr: 5e-3, epsRampEpochs: 0, valSize: 0, trainSize: 0, evalEvery: 0, norm: 'l2', eps: 0.5, textAdversary: 'swap', trainSwaps: 1 });
  const m = buildArch('text-cnn', { inputShape: [TINY_L, 1, 1], numClasses: 2, seed: 1, vocabularySize: TINY_V });
  const state = await trainModel(m, keywordTexts(200, 2), null, c);
  const last = state.epochs[state.epochs.length - 1]!;
  assert.ok(last.parts['pairing'] !== undefined && last.parts['pairing'] > 0, JSON.stringify(last.parts));
  // The twins are real swaps: the model still learns the task (clean accuracy), verified on token ids.
  const test = keywordTexts(60, 3);
  const words = wordModel(splitAtEmbedding(m));
  const r = await runWordAttack(hotflip(), words, Int32Array.from(test.images), test.labels, { budget: { k: 1 }, candidates: vocabularyCandidates(TINY_V) });
  const clean = r.cleanPred.filter((p, i) => p === test.labels[i]).length / test.count;
  assert.ok(clean > 0.7, `clean accuracy ${clean}`);

  const bad = (o: Parameters<typeof resolveConfig>[1], re: RegExp): void => assert.throws(() => resolveConfig('spam', o), (e: unknown) => e instanceof ConfigError && re.test(optionMessage(e)));
  bad({ method: 'standard', textAdversary: 'swap' }, /^--text-adversary: expected alp or pgd-at for swap/);
  bad({ method: 'alp', trainSwaps: 2 }, /^--train-swaps: expected to go with --text-adversary swap/);
  bad({ method: 'alp', textAdversary: 'swap', trainSwaps: 0 }, /^--train-swaps: expected an integer ≥ 1/);
  const image = resolveConfig('quick', { method: 'alp', textAdversary: 'swap', epochs: 1, valSize: 0 });
  await assert.rejects(trainModel(buildArch('mlp', { inputShape: [6, 6, 1], numClasses: 4, seed: 1 }), { name: 'toy', images: new Float32Array(36 * 8), labels: new Int32Array(8), count: 8, shape: [6, 6, 1], numClasses: 4 }, null, { ...image, batchSize: 4 }), (e: unknown) => e instanceof UserError && /^--text-adversary swap: .* is not a text model/.test(optionMessage(e)) && !e.message.includes('--'));
});
