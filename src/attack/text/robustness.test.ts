import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PAD, UNK, vocabularyOf } from '../../data/text.js';
import { excerpt, markSwaps } from './marked.js';
import { swapFindings, type SwapPoint } from './robustness.js';

test('swapped words are marked [original→replacement]; the excerpt keeps them and their context', () => {
  const vocab = vocabularyOf([PAD, UNK, 'buy', 'cheap', 'pills', 'now', 'inexpensive', 'today']);
  const m = markSwaps([2, 3, 4, 5, 0, 0], [2, 6, 4, 7, 0, 0], vocab);
  assert.equal(m.text, 'buy [cheap→inexpensive] pills [now→today]');
  assert.deepEqual(m.swaps, [{ position: 1, from: 'cheap', to: 'inexpensive' }, { position: 3, from: 'now', to: 'today' }]);
  const long = [...Array.from({ length: 20 }, (_, i) => `a${i}`), '[x→y]', ...Array.from({ length: 20 }, (_, i) => `b${i}`)].join(' ');
  assert.equal(excerpt(long, 2), '… a18 a19 [x→y] b0 b1 …');
});

test('masking findings: accuracy rising with k, and the gradient-free search beating HotFlip', () => {
  const point = (k: number, hot: number, free: number): SwapPoint => ({
    k, worstCaseAccuracy: Math.min(hot, free),
    attacks: [{ name: 'hotflip', robustAccuracy: hot, successRate: 0, meanSwaps: 0, queries: 0, seconds: 0 }, { name: 'greedy-swap', robustAccuracy: free, successRate: 0, meanSwaps: 0, queries: 0, seconds: 0 }],
  });
  assert.deepEqual(swapFindings([point(1, 0.8, 0.8), point(2, 0.6, 0.6)], 100), []);
  const rise = swapFindings([point(1, 0.5, 0.5), point(2, 0.7, 0.7)], 100);
  assert.equal(rise.length, 1);
  assert.match(rise[0] as string, /rises from 50\.0% at k=1 to 70\.0% at k=2/);
  const masked = swapFindings([point(1, 0.9, 0.4)], 100);
  assert.equal(masked.length, 1);
  assert.match(masked[0] as string, /gradient-free greedy swap \(40\.0%\) beats HotFlip \(90\.0%\)/);
  // One message of difference is noise, not a finding.
  assert.deepEqual(swapFindings([point(1, 0.5, 0.49)], 100), []);
});

test('eval.json word-swap results are read back for the report, malformed entries skipped', async () => {
  const { parseEval } = await import('../../artifacts/eval.js');
  const ev = parseEval({
    result: { cleanAccuracy: 0.9, attacks: [] },
    wordSwaps: { points: [{ k: 1, worstCaseAccuracy: 0.5, attacks: [{ name: 'hotflip', robustAccuracy: 0.6 }, { name: 'greedy-swap' }] }, { k: 'x' }] },
  }, 'eval.json');
  assert.deepEqual(ev.wordSwaps, [{ k: 1, attack: 'hotflip', robustAccuracy: 0.6 }, { k: 1, attack: 'worst case', robustAccuracy: 0.5 }]);
  assert.deepEqual(parseEval({ result: {} }, 'eval.json').wordSwaps, []);
});

test('audit.json word swaps are read back for the report, and the page marks each swap (escaped)', async () => {
  const { parseAudit } = await import('../../artifacts/audit.js');
  const { markedHtml } = await import('../../report/html-examples.js');
  const a = parseAudit({
    wordSwaps: {
      points: [{ k: 2, worstCaseAccuracy: 0.4, attacks: [{ name: 'hotflip', robustAccuracy: 0.5 }] }],
      messages: [{ index: 3, label: 1, k: 2, attack: 'hotflip', advPred: 0, marked: 'buy [<b>→now] x' }, { index: 'x' }],
    },
  }, 'audit.json');
  assert.deepEqual(a.wordSwaps?.points, [{ k: 2, attack: 'hotflip', robustAccuracy: 0.5 }, { k: 2, attack: 'worst case', robustAccuracy: 0.4 }]);
  assert.equal(a.wordSwaps?.messages.length, 1);
  assert.equal(markedHtml(a.wordSwaps?.messages[0]?.marked ?? ''), 'buy <del>&lt;b&gt;</del>&#8202;<mark>now</mark> x');
  assert.equal(parseAudit({}, 'audit.json').wordSwaps, null);
});
