import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { neighbourCandidates, vocabularyCandidates } from '../attack/text/candidates.js';
import { keywordTexts, tinyTextModel, tinyVocab, TINY_V } from '../testing/tiny-text.js';
import { wordAudit, type WordAuditOptions } from './word-audit.js';

test('audit word swaps: per k for the three searches, worst case per message, findings, marked messages, and resume per attack run', async () => {
  const { words } = await tinyTextModel();
  const data = keywordTexts(40, 7);
  const w: WordAuditOptions = {
    model: words, ids: Int32Array.from(data.images), labels: data.labels, vocab: tinyVocab, ks: [1, 2],
    candidates: vocabularyCandidates(TINY_V), constrained: () => neighbourCandidates(words.table(), TINY_V, words.dim, 4),
  };
  const statePath = join(mkdtempSync(join(tmpdir(), 'alp-words-')), 'audit.state.words.json');
  const r = await wordAudit(w, { version: 'quick', seed: 1, statePath });
  const n = data.count;
  assert.equal(r.swaps.examples, n);
  assert.deepEqual(r.swaps.points.map((p) => p.k), [1, 2]);
  assert.ok(r.notes.some((x) => /synonym attack draws from neighbours/.test(x)));
  for (const p of r.swaps.points) {
    assert.deepEqual(p.attacks.map((a) => a.name), ['hotflip', 'synonym', 'greedy-swap']);
    for (const a of p.attacks) assert.ok(p.worstCaseAccuracy <= a.robustAccuracy + 1e-12);
    assert.equal(p.attacks[1]?.candidates, 'neighbours');
    // The worst case per message is what fooledAt records: fooled at this k or a smaller one.
    const fooled = r.fooledAt.filter((k) => k !== null && k <= p.k).length;
    assert.equal(Math.round((r.swaps.cleanAccuracy - p.worstCaseAccuracy) * n), fooled);
  }
  assert.ok(r.swaps.points[0]!.worstCaseAccuracy < r.swaps.cleanAccuracy, 'one swap of the keyword fools the tiny model');
  assert.deepEqual(r.findings.map((f) => f.id), ['swaps-monotone', 'swaps-gradient-free']);
  assert.equal(r.findings[0]?.status, 'pass');
  assert.ok(r.kept.length > 0);
  for (const m of r.kept) {
    assert.equal(r.fooledAt[m.index], m.k);
    assert.ok(m.swaps.length >= 1 && m.swaps.length <= m.k, m.marked);
    assert.equal((m.marked.match(/\[[^\]]+→[^\]]+\]/g) ?? []).length, m.swaps.length);
    assert.notEqual(m.advPred, m.label);
  }
  // Resume: a finished unit is read back, not run again (a doctored one shows through) …
  assert.ok(existsSync(statePath));
  const state = JSON.parse(readFileSync(statePath, 'utf8')) as { key: string; units: Array<{ k: number; attack: string; fooled: unknown[] }> };
  assert.equal(state.units.length, 6);
  const hot1 = state.units.find((u) => u.k === 1 && u.attack === 'hotflip')!;
  assert.ok(hot1.fooled.length > 0);
  hot1.fooled = [];
  writeFileSync(statePath, JSON.stringify(state));
  const resumed = await wordAudit(w, { version: 'quick', seed: 1, statePath });
  assert.equal(resumed.swaps.points[0]!.attacks[0]!.robustAccuracy, resumed.swaps.cleanAccuracy);
  assert.deepEqual(resumed.swaps.points[1], r.swaps.points[1]);
  // … and under another configuration (seed) the state is ignored and everything runs.
  const fresh = await wordAudit(w, { version: 'quick', seed: 2, statePath });
  assert.ok(fresh.swaps.points[0]!.attacks[0]!.robustAccuracy < fresh.swaps.cleanAccuracy);
});
