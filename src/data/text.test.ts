import { test } from 'node:test';
import assert from 'node:assert/strict';
import { UserError } from '../util/errors.js';
import { buildVocabulary, decodeIds, encodeTokens, tokenize, vocabularyOf, PAD, UNK } from './text.js';
import { isTestMessage, messageText } from './spam-assassin.js';

test('tokenize lower-cases words and folds URLs, addresses and numbers', () => {
  assert.deepEqual(tokenize("FREE money!!! Visit http://x.example/win?id=3 or mail me@spam.biz, only $1,000.00 (100%) - don't wait"),
    ['free', 'money', '!', '!', '!', 'visit', '<url>', 'or', 'mail', '<email>', 'only', '$', '<num>', '<num>', '%', "don't", 'wait']);
  assert.deepEqual(tokenize(''), []);
});

test('the vocabulary is frequency-ranked, deterministic, and encodes with PAD and UNK', () => {
  const docs = [['b', 'a', 'a', 'c'], ['a', 'b', 'd'], ['rare']];
  const v = buildVocabulary(docs, 5, 1);
  assert.deepEqual(v.tokens, [PAD, UNK, 'a', 'b', 'c']); // c and d tie at 1; c sorts first; size caps the list
  assert.deepEqual(buildVocabulary(docs, 10, 2).tokens, [PAD, UNK, 'a', 'b']); // minCount drops singletons
  const ids = encodeTokens(['a', 'zzz', 'b'], v, 5);
  assert.deepEqual([...ids], [2, 1, 3, 0, 0]);
  assert.deepEqual([...encodeTokens(['a', 'a', 'a', 'a'], v, 2)], [2, 2]); // truncated
  assert.equal(decodeIds(ids, v), `a ${UNK} b`);
  assert.throws(() => vocabularyOf(['x', 'y']), (e: unknown) => e instanceof UserError && /expected "<pad>" and "<unk>" as ids 0 and 1/.test(e.message));
  assert.throws(() => vocabularyOf([PAD, UNK, 'a', 'a']), /token "a" appears twice \(ids 2 and 3\)/);
  assert.throws(() => buildVocabulary(docs, 2), /vocabulary size: expected an integer ≥ 3/);
});

test('spam messages keep the Subject and body, without routing headers, markup or encoded blocks', () => {
  const raw = [
    'Received: from relay.example by mx', 'From: a@b.c', 'Subject: Cheap', '  meds now', 'Content-Type: multipart/alternative', '',
    '--BOUNDARY42', 'Content-Type: text/html', '', '<html><body><b>Buy</b>&nbsp;now</body></html>',
    'QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNkZWZnaGlqa2xtbm9wcXJzdHV2d3h5ejAxMjM0NTY3ODk=',
  ].join('\n');
  const t = messageText(raw);
  assert.deepEqual(tokenize(t), ['cheap', 'meds', 'now', 'buy', 'now']);
  // The split is a function of the message hash alone.
  assert.equal(isTestMessage('00000005abcdef'), true);
  assert.equal(isTestMessage('00000006abcdef'), false);
});
