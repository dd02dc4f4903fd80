import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { standardRun, syntheticLoader } from './fixtures.js';
import { buildReport } from './report.js';
import { renderPage } from './html.js';
import { findDetection, readDetection } from './detection.js';

const side = (model: string, robust: number, adaptive: number): Record<string, unknown> => ({
  model, detector: 'odds', strongestNonAdaptive: 'pgd-linf-ce-40x1',
  nonAdaptive: { attackSuccessRate: 1, rocAuc: 0.9, tprAt1: 0.5, tprAt5: 0.8, robustOrDetectedAccuracy: robust },
  adaptive: { attackSuccessRate: 1, rocAuc: 0.5, tprAt1: 0, tprAt5: 0.01, robustOrDetectedAccuracy: adaptive },
});

test('detect-eval.json beside a run becomes a Detection section with the adaptive numbers', async () => {
  const d = mkdtempSync(join(tmpdir(), 'alp-det-'));
  try {
    const run = standardRun(join(d, 'std'));
    writeFileSync(join(d, 'detect-eval.json'), JSON.stringify({ schema: 'alp-detect-eval', version: 1, sideBySide: [side('std<script>', 0.78, 0.003)] }));
    assert.equal(findDetection([run], [run]).length, 1);
    const page = await buildReport([run], { out: join(d, 'r.html'), cleanLoader: syntheticLoader() });
    const html = renderPage(page);
    assert.match(html, /<section id="detection">/);
    assert.match(html, /78\.0%/);
    assert.match(html, /<strong>0\.3%<\/strong>/);
    assert.doesNotMatch(html, /std<script>/);
    assert.match(html, /std&lt;script&gt;/);
  } finally {
    rmSync(d, { recursive: true, force: true });
  }
});

test('a malformed or foreign detect-eval.json is a clear error', () => {
  const d = mkdtempSync(join(tmpdir(), 'alp-det-'));
  try {
    writeFileSync(join(d, 'detect-eval.json'), '{ nope');
    assert.throws(() => readDetection(join(d, 'detect-eval.json')), /detect-eval\.json: malformed JSON/);
    writeFileSync(join(d, 'detect-eval.json'), JSON.stringify({ schema: 'other' }));
    assert.throws(() => readDetection(join(d, 'detect-eval.json')), /not an 'alp detect eval' result/);
  } finally {
    rmSync(d, { recursive: true, force: true });
  }
});

test('detection numbers measured on other weights than the model now at that path are flagged on the page', async () => {
  const d = mkdtempSync(join(tmpdir(), 'alp-det-'));
  try {
    const run = standardRun(join(d, 'std'));
    writeFileSync(join(run, 'weights.bin'), Uint8Array.of(1, 2, 3, 4));
    const file = join(d, 'detect-eval.json');
    const write = (hash: string): void => writeFileSync(file, JSON.stringify({
      schema: 'alp-detect-eval', models: [{ label: 'std', model: run, weightsHash: hash }], sideBySide: [side('std', 0.8, 0)],
    }));
    const { weightsHash } = await import('../model/fingerprint.js');
    write(weightsHash(join(run, 'model.json')) as string);
    assert.deepEqual(readDetection(file).warnings, []);
    write('0'.repeat(64));
    const r = readDetection(file);
    assert.equal(r.warnings.length, 1);
    assert.match(r.warnings[0] as string, /std was measured on weights sha256 000000000000…/);
    const page = renderPage(await buildReport([run], { out: join(d, 'r.html'), cleanLoader: syntheticLoader() }));
    assert.ok(page.includes('not that model&#39;s'), 'the page shows the warning');
  } finally {
    rmSync(d, { recursive: true, force: true });
  }
});
