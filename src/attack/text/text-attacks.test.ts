import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openWordNet, WORDNET_DIR } from '../../data/wordnet.js';
import { keywordTexts, tinyTextModel, tinyVocab, TINY_L, TINY_V } from '../../testing/tiny-text.js';
import { UserError } from '../../util/errors.js';
import { InterruptedError } from '../../util/interrupt.js';
import { maxSwaps } from './budget.js';
import { neighbourCandidates, vocabularyCandidates, wordnetCandidates, type CandidateSet } from './candidates.js';
import { firstOrderScores } from './first-order.js';
import { greedySwap } from './greedy-swap.js';
import { hotflip } from './hotflip.js';
import { synonymAttack } from './synonym.js';
import { runWordAttack } from './verify.js';
import type { WordAttack } from './word-attack.js';
import { objectiveOf, type WordModel } from './word-model.js';

const L = TINY_L, V = TINY_V;
const vocab = tinyVocab;
const tinyModel = async (): Promise<WordModel> => (await tinyTextModel()).words;

const testSet = keywordTexts(60, 3);
const ids = Int32Array.from(testSet.images);
const labels = testSet.labels;

/** A WordNet database in a temp folder: w7 ("offer") has synonyms w12 and w13; w9 has w7 (a keyword). */
function fakeWordNet(): string {
  const dir = mkdtempSync(join(tmpdir(), 'alp-wn-'));
  const header = '  1 This is a test database, not WordNet itself\n';
  const synsets = [['w7', 'w12', 'w13'], ['w9', 'w7'], ['w20', 'hot_dog']];
  let data = header;
  const offsets: number[] = [];
  for (const words of synsets) {
    offsets.push(Buffer.byteLength(data, 'latin1'));
    const off = String(offsets[offsets.length - 1]).padStart(8, '0');
    data += `${off} 03 n ${words.length.toString(16).padStart(2, '0')} ${words.map((w) => `${w} 0`).join(' ')} 000 | a gloss\n`;
  }
  const lemmas = new Map<string, number[]>();
  synsets.forEach((ws, s) => ws.forEach((w) => lemmas.set(w, [...(lemmas.get(w) ?? []), offsets[s] as number])));
  const index = header + [...lemmas.entries()].sort().map(([w, o]) => `${w} n ${o.length} 1 @ ${o.length} 0 ${o.map((x) => String(x).padStart(8, '0')).join(' ')}`).join('\n') + '\n';
  writeFileSync(join(dir, 'index.noun'), index, 'latin1');
  writeFileSync(join(dir, 'data.noun'), data, 'latin1');
  for (const p of ['verb', 'adj', 'adv']) {
    writeFileSync(join(dir, `index.${p}`), header);
    writeFileSync(join(dir, `data.${p}`), header);
  }
  return dir;
}

test('WordNet: synonyms read from the database files; a missing database is one clear error naming the path and the package', async () => {
  const wn = openWordNet(fakeWordNet());
  assert.deepEqual(wn.synonyms('w7'), ['w12', 'w13', 'w9']);
  assert.deepEqual(wn.synonyms('w20'), [], 'multi-word lemmas are not single tokens');
  assert.deepEqual(wn.synonyms('nothing'), []);
  const missing = join(tmpdir(), 'alp-no-wordnet-here');
  assert.throws(() => openWordNet(missing), (e: unknown) => e instanceof UserError && e.message.includes(join(missing, 'index.noun')) && e.message.includes('wordnet-base'));
  if (existsSync(join(WORDNET_DIR, 'data.noun'))) {
    // The real database, where installed (Debian wordnet-base).
    const real = openWordNet();
    assert.ok(real.synonyms('cheap').includes('inexpensive'), real.synonyms('cheap').join(','));
    assert.ok(real.synonyms('offer').includes('proffer'));
  }
  const set = wordnetCandidates(wn, vocab);
  assert.deepEqual([...(set.of(7) ?? [])], [9, 12, 13]);
  assert.ok(set.allows(7, 12) && !set.allows(7, 8) && !set.allows(1, 12));
});

test('HotFlip: the first-order score of the best swap predicts the sign of the true loss change at most positions', async () => {
  const m = await tinyModel();
  let agree = 0, total = 0;
  for (let r = 0; r < 20; r++) {
    const msg = ids.slice(r * L, (r + 1) * L);
    const goal = { label: labels[r] as number };
    const { objective, scores } = firstOrderScores(m, msg, 1, goal);
    const j0 = objective[0] as number;
    for (let i = 0; i < L; i++) {
      if (msg[i] === 0) continue;
      let best = -1;
      for (let v = 2; v < V; v++) if (v !== msg[i] && (best < 0 || (scores[i * V + v] as number) > (scores[i * V + best] as number))) best = v;
      const predicted = scores[i * V + best] as number;
      if (Math.abs(predicted) < 1e-6) continue;
      const swapped = msg.slice();
      swapped[i] = best;
      const actual = objectiveOf(m.logits(swapped, 1), 0, 2, goal) - j0;
      total++;
      if (Math.sign(actual) === Math.sign(predicted)) agree++;
    }
  }
  assert.ok(total > 100, `positions scored: ${total}`);
  assert.ok(agree / total > 0.75, `sign agreement ${agree}/${total}`);
});

test('every attack returns messages within k swaps (and the fraction), each a legal substitute; success is the model on the new ids', async () => {
  const m = await tinyModel();
  const wn = wordnetCandidates(openWordNet(fakeWordNet()), vocab);
  const knn = neighbourCandidates(m.table(), V, m.dim, 4);
  const cases: Array<[WordAttack, CandidateSet]> = [
    [hotflip(), vocabularyCandidates(V)], [hotflip({ beamWidth: 3 }), knn], [synonymAttack(), wn], [synonymAttack({ probe: 4 }), knn],
    [greedySwap({ seed: 1, queriesPerStep: 40 }), vocabularyCandidates(V)], [greedySwap({ seed: 2 }), wn],
  ];
  for (const [attack, cands] of cases) {
    for (const budget of [{ k: 1 }, { k: 2 }, { k: 5, fraction: 0.2 }]) {
      const r = await runWordAttack(attack, m, ids, labels, { budget, candidates: cands });
      const preds = m.logits(r.adversarial, labels.length);
      for (let n = 0; n < labels.length; n++) {
        const orig = ids.subarray(n * L, (n + 1) * L), adv = r.adversarial.subarray(n * L, (n + 1) * L);
        let diff = 0;
        for (let i = 0; i < L; i++) {
          if (adv[i] === orig[i]) continue;
          diff++;
          assert.ok(cands.allows(orig[i] as number, adv[i] as number), `${attack.name}/${cands.kind}: ${orig[i]}→${adv[i]} not a legal substitute`);
          assert.notEqual(orig[i], 0, 'padding is never swapped');
        }
        assert.equal(r.allowed[n], maxSwaps(budget, orig));
        assert.ok(diff <= (r.allowed[n] as number) && diff <= budget.k, `${attack.name}: ${diff} swaps, budget ${r.allowed[n]}`);
        const pred = Number((preds[2 * n + 1] as number) > (preds[2 * n] as number));
        assert.equal(r.success[n], Number(pred !== labels[n]), 'success is decided on the adversarial ids');
      }
    }
  }
  // With the whole vocabulary one swap (plant or remove the keyword) fools the model on nearly every message.
  const one = await runWordAttack(hotflip(), m, ids, labels, { budget: { k: 1 }, candidates: vocabularyCandidates(V) });
  const rate = one.success.reduce((a, b) => a + b, 0) / labels.length;
  assert.ok(rate > 0.8, `hotflip k=1 success ${rate}`);
  // An attack that swaps more than allowed or an illegal word is caught, not counted.
  const cheat: WordAttack = { name: 'hotflip', run: (_m, x) => ({ ids: x.ids.map((t, i) => (t !== 0 && i < 3 ? 9 : t)), queries: 0 }) };
  await assert.rejects(runWordAttack(cheat, m, ids, labels, { budget: { k: 1 }, candidates: vocabularyCandidates(V) }), /budget allows 1/);
  await assert.rejects(runWordAttack(cheat, m, ids, labels, { budget: { k: 5 }, candidates: wn }), /not a legal wordnet substitute/);
  // Aborted after the second message: it stops before the third, with InterruptedError and its reason.
  const stop = new AbortController();
  const seen: number[] = [];
  await assert.rejects(runWordAttack(hotflip(), m, ids, labels, {
    budget: { k: 1 }, candidates: vocabularyCandidates(V), signal: stop.signal,
    onMessage: (d) => { seen.push(d); if (d === 2) stop.abort('SIGTERM'); },
  }), (e: unknown) => e instanceof InterruptedError && e.code === 143);
  assert.deepEqual(seen, [1, 2]);
});

test('targeted swaps move the prediction to the target (spam → ham and ham → spam)', async () => {
  const m = await tinyModel();
  const clean = m.logits(ids, labels.length);
  for (const target of [0, 1]) {
    const rows: number[] = [];
    for (let n = 0; n < labels.length; n++) if (labels[n] !== target && Number((clean[2 * n + 1] as number) > (clean[2 * n] as number)) === labels[n]) rows.push(n);
    const sub = new Int32Array(rows.length * L);
    rows.forEach((n, j) => sub.set(ids.subarray(n * L, (n + 1) * L), j * L));
    const lab = Int32Array.from(rows, (n) => labels[n] as number);
    const targets = new Int32Array(rows.length).fill(target);
    for (const attack of [hotflip(), greedySwap({ seed: 3 })]) {
      const r = await runWordAttack(attack, m, sub, lab, { budget: { k: 2 }, candidates: vocabularyCandidates(V), targets });
      const hits = r.pred.filter((p) => p === target).length;
      assert.ok(hits / rows.length > 0.8, `${attack.name} → ${target}: ${hits}/${rows.length}`);
      r.success.forEach((s, j) => assert.equal(s, Number(r.pred[j] === target)));
    }
  }
});

test('greedy swap is seeded per message: all messages at once, a shuffled subset, and a reused attack give the same swaps', async () => {
  const m = await tinyModel();
  // 40 queries per step out of ~28 × words candidates: the search samples, so its seeding matters.
  const attack = greedySwap({ seed: 5, queriesPerStep: 40 });
  const budget = { k: 2 }, candidates = vocabularyCandidates(V);
  const all = await runWordAttack(attack, m, ids, labels, { budget, candidates });
  const rows = [41, 3, 17, 58, 9, 30, 22];
  const sub = new Int32Array(rows.length * L);
  rows.forEach((r, j) => sub.set(ids.subarray(r * L, (r + 1) * L), j * L));
  const part = await runWordAttack(attack, m, sub, Int32Array.from(rows, (r) => labels[r] as number), { budget, candidates, indices: rows });
  rows.forEach((r, j) => {
    assert.deepEqual([...part.adversarial.subarray(j * L, (j + 1) * L)], [...all.adversarial.subarray(r * L, (r + 1) * L)], `message ${r}`);
  });
  const again = await runWordAttack(attack, m, ids, labels, { budget, candidates });
  assert.deepEqual([...again.adversarial], [...all.adversarial], 'a second run of the same attack object');
  // The seed does matter: another run seed samples other swaps somewhere.
  const other = await runWordAttack(greedySwap({ seed: 6, queriesPerStep: 40 }), m, ids, labels, { budget, candidates });
  assert.notDeepEqual([...other.adversarial], [...all.adversarial]);
});

test('batched HotFlip (the training adversary): at most k legal swaps per message, never padding, and a higher loss than the clean batch', async () => {
  const { split } = await tinyTextModel();
  const tf = await import('@tensorflow/tfjs');
  const n = 40;
  const x = tf.tensor4d(testSet.images.slice(0, n * L), [n, L, 1, 1]);
  const y = tf.tensor1d(labels.slice(0, n), 'int32');
  const { batchHotflip } = await import('./batch-hotflip.js');
  const ce = (t: import('@tensorflow/tfjs').Tensor4D): number => tf.tidy(() => tf.losses.softmaxCrossEntropy(tf.oneHot(y, 2), split.head.apply(split.embed(t)) as import('@tensorflow/tfjs').Tensor2D).dataSync()[0] as number);
  for (const k of [1, 2]) {
    const adv = batchHotflip(split, x, y, { swaps: k });
    const a = adv.dataSync(), o = x.dataSync();
    for (let m = 0; m < n; m++) {
      let diff = 0;
      for (let i = 0; i < L; i++) {
        const [u, v] = [o[m * L + i] as number, a[m * L + i] as number];
        if (u === v) continue;
        diff++;
        assert.notEqual(u, 0, 'padding is never swapped');
        assert.ok(v >= 2 && v < V && Number.isInteger(v), `replacement ${v}`);
      }
      assert.ok(diff <= k, `message ${m}: ${diff} swaps for k=${k}`);
    }
    assert.ok(ce(adv) > ce(x) + 0.1, `loss ${ce(adv)} vs clean ${ce(x)}`);
    adv.dispose();
  }
  tf.dispose([x, y]);
});
