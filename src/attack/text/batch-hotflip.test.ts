import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { PAD_ID, UNK_ID } from '../../data/text.js';
import { buildArch } from '../../model/architectures.js';
import { splitAtEmbedding, type EmbeddingSplit } from '../../model/text.js';
import { keywordTexts, tinyTextModel, TINY_L } from '../../testing/tiny-text.js';
import { useBackend } from '../../testing/setup.js';
import { Rng } from '../../util/rng.js';
import { batchHotflip, shortlistRows } from './batch-hotflip.js';

/**
 * The algorithm as it was before its scores moved to one backend matrix product: every g_r·e_v a
 * JavaScript dot product. The fast version must pick the same swaps.
 */
function reference(split: EmbeddingSplit, ids: tf.Tensor4D, y: tf.Tensor1D, swaps: number, P = 4): Int32Array {
  const B = ids.shape[0], L = split.sequenceLength, D = split.dim, V = split.vocabularySize;
  const orig = Int32Array.from(ids.dataSync());
  const cur = orig.slice();
  const table = split.table().dataSync() as Float32Array;
  const loss = (e: tf.Tensor): tf.Scalar => tf.losses.softmaxCrossEntropy(tf.oneHot(y, split.head.outputs[0]?.shape[1] as number), split.head.apply(e, { training: false }) as tf.Tensor2D, undefined, 0, tf.Reduction.SUM) as tf.Scalar;
  for (let round = 0; round < swaps; round++) {
    const g = tf.tidy(() => tf.grad(loss)(split.embed(tf.tensor4d(Float32Array.from(cur), [B, L, 1, 1]), false)).dataSync() as Float32Array);
    // The shortlist is the module's own (its choice did not move); the norms behind it are JavaScript's.
    const norms = new Float32Array(B * L);
    for (let r = 0; r < B * L; r++) {
      let s = 0;
      for (let d = 0; d < D; d++) s += (g[r * D + d] as number) ** 2;
      norms[r] = s;
    }
    const rows = shortlistRows(norms, orig, cur, B, L, P);
    if (rows.length === 0) break;
    const scores = new Float32Array(rows.length * V);
    rows.forEach((r, k) => {
      for (let v = 0; v < V; v++) {
        let s = 0;
        for (let d = 0; d < D; d++) s += (g[r * D + d] as number) * (table[v * D + d] as number);
        scores[k * V + v] = s;
      }
    });
    const best = new Map<number, { r: number; v: number; score: number }>();
    rows.forEach((r, k) => {
      const base = scores[k * V + (cur[r] as number)] as number;
      const b = Math.floor(r / L);
      for (let v = 0; v < V; v++) {
        if (v === PAD_ID || v === UNK_ID || v === cur[r]) continue;
        const s = (scores[k * V + v] as number) - base;
        const held = best.get(b);
        if (held === undefined || s > held.score) best.set(b, { r, v, score: s });
      }
    });
    for (const { r, v } of best.values()) cur[r] = v;
  }
  return cur;
}

function sameSwaps(split: EmbeddingSplit, x: tf.Tensor4D, y: tf.Tensor1D, what: string): number {
  let changed = 0;
  for (const k of [1, 2]) {
    for (const P of [1, 4, x.shape[1]]) {
      const fast = batchHotflip(split, x, y, { swaps: k, positions: P });
      const got = Int32Array.from(fast.dataSync());
      fast.dispose();
      const want = reference(split, x, y, k, P);
      assert.deepEqual([...got], [...want], `${what}: k=${k}, positions=${P}`);
      const orig = x.dataSync();
      changed += got.filter((v, i) => v !== orig[i]).length;
    }
  }
  return changed;
}

test('batched HotFlip by matrix product picks exactly the swaps of the per-word loop (trained tiny model, and an untrained 2000-word one)', async () => {
  const { split } = await tinyTextModel();
  const data = keywordTexts(40, 9);
  const x = tf.tensor4d(data.images, [40, TINY_L, 1, 1]);
  const y = tf.tensor1d(data.labels, 'int32');
  assert.ok(sameSwaps(split, x, y, 'tiny') > 0, 'some swaps were made');
  tf.dispose([x, y]);

  await useBackend();
  const V = 2000, L = 16;
  const model = buildArch('text-cnn', { inputShape: [L, 1, 1], numClasses: 3, seed: 4, vocabularySize: V });
  const big = splitAtEmbedding(model);
  const rng = new Rng(5);
  const n = 12;
  const ids = new Float32Array(n * L);
  for (let m = 0; m < n; m++) {
    const len = 3 + rng.int(L - 2);
    for (let i = 0; i < len; i++) ids[m * L + i] = 1 + rng.int(V - 1); // UNK included: it may be swapped, never chosen
  }
  const xb = tf.tensor4d(ids, [n, L, 1, 1]);
  const yb = tf.tensor1d(Int32Array.from({ length: n }, (_, i) => i % 3), 'int32');
  assert.ok(sameSwaps(big, xb, yb, 'V=2000') > 0);
  tf.dispose([xb, yb]);
  model.dispose();
});

test('HotFlip shortlist over the whole vocabulary: the backend product picks the same swaps as the per-word loop', async () => {
  const { shortlist } = await import('./first-order.js');
  const { vocabularyCandidates } = await import('./candidates.js');
  const { wordModel } = await import('./word-model.js');
  const { tinyTextModel: tiny } = await import('../../testing/tiny-text.js');
  await useBackend();
  const big = buildArch('text-cnn', { inputShape: [16, 1, 1], numClasses: 2, seed: 7, vocabularySize: 1500 });
  const cases = [{ m: (await tiny()).words, data: keywordTexts(10, 4).images, L: TINY_L, V: 30 }, { m: wordModel(splitAtEmbedding(big)), data: Float32Array.from({ length: 10 * 16 }, (_, i) => (i % 16 < 11 ? 2 + ((i * 37) % 1400) : 0)), L: 16, V: 1500 }];
  for (const { m, data, L, V } of cases) {
    const loop = { ...m };
    delete loop.tableTensor;
    for (let r = 0; r < 10; r++) {
      const orig = Int32Array.from(data.subarray(r * L, (r + 1) * L));
      const cur = orig.slice();
      cur[0] = orig[0] === 5 ? 6 : 5; // one word already swapped: that position is closed
      for (const top of [1, 5]) {
        const a = shortlist(m, orig, [cur], { label: r % 2 }, vocabularyCandidates(V), top).swaps;
        const b = shortlist(loop, orig, [cur], { label: r % 2 }, vocabularyCandidates(V), top).swaps;
        assert.deepEqual(a.map((s) => [s.position, s.to]), b.map((s) => [s.position, s.to]), `V=${V} message ${r} top ${top}`);
        a.forEach((s, j) => assert.ok(Math.abs(s.score - (b[j] as typeof s).score) < 1e-4 * Math.max(1, Math.abs(s.score))));
        assert.ok(a.every((s) => s.position !== 0));
      }
    }
  }
  big.dispose();
});
