/**
 * `alp demo` on a tiny budget (seconds), then its page in real headless Chromium: every section has
 * content (no placeholder), the example strips are decoded images for both models, the ε curve and
 * the cascade are drawn, the findings are the quick audit's, labelled so, with the full audit command,
 * and the header gives the playground command. The browser part skips where Debian's chromium is not installed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { runAlp } from '../testing/cli.js';
import { CHROMIUM, launchChromium } from '../testing/chromium.js';
import { writeReport } from './report.js';

type Browser = Awaited<ReturnType<typeof import('playwright-core')['chromium']['launch']>>;

async function openPage(browser: Browser, file: string): Promise<{ page: Awaited<ReturnType<Browser['newPage']>>; problems: string[] }> {
  const page = await browser.newPage({ viewport: { width: 1300, height: 900 } });
  const problems: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error' || m.type() === 'warning') problems.push(`console ${m.type()}: ${m.text()}`);
  });
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('request', (r) => {
    if (!/^(file|data):/.test(r.url())) problems.push(`outside request: ${r.url()}`);
  });
  await page.goto(pathToFileURL(file).href, { waitUntil: 'load' });
  return { page, problems };
}

test('alp demo end to end on a tiny budget writes both models, report.json and report.html; its page has no placeholder section', { timeout: 240_000 }, async (t) => {
  const d = mkdtempSync(join(tmpdir(), 'alp-demo-page-'));
  t.after(() => rmSync(d, { recursive: true, force: true }));
  const out = join(d, 'demo');
  const r = runAlp(['demo', '--out', out, '--train-size', '256', '--epochs', '1', '--n', '40', '--quick-n', '30', '--eval-steps', '2', '--eval-queries', '30', '--quiet', '--workers', '1']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /clean accuracy/);
  assert.match(r.stdout, /playground/);
  for (const m of ['standard', 'alp']) {
    for (const f of ['model.json', 'weights.bin', 'train.json', 'eval.json']) assert.ok(existsSync(join(out, m, f)), `${m}/${f}`);
  }
  const report = JSON.parse(readFileSync(join(out, 'report.json'), 'utf8')) as { models: Array<{ name: string; forwardRows: { eval: number; quickAudit: number }; quickAudit: { file: string } | null }>; versions: Record<string, string>; seed: number };
  assert.deepEqual(report.models.map((m) => m.name), ['standard', 'alp']);
  assert.equal(report.seed, 1);
  assert.ok('tfjs' in report.versions);
  assert.match(readFileSync(join(out, 'report.html'), 'utf8'), /<svg/);
  for (const m of report.models) {
    assert.ok(m.quickAudit !== null && existsSync(m.quickAudit.file), `${m.name}: quick-audit.json`);
    assert.ok(m.forwardRows.eval > 0 && m.forwardRows.quickAudit > 0, JSON.stringify(m.forwardRows));
  }
  const quick = JSON.parse(readFileSync(join(out, 'alp', 'quick-audit.json'), 'utf8')) as { epsSweep: Array<{ eps: number; robustAccuracy: number }>; sweep: { examples: number } };
  assert.equal(quick.sweep.examples, 30);
  assert.deepEqual(quick.epsSweep.map((p) => p.eps), [0, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5]);
  // Nested balls: an image fooled at one radius stays fooled at the larger ones.
  quick.epsSweep.forEach((p, i) => assert.ok(i === 0 || p.robustAccuracy <= quick.epsSweep[i - 1]!.robustAccuracy, JSON.stringify(quick.epsSweep)));

  if (!existsSync(CHROMIUM)) {
    t.skip(`${CHROMIUM} not found; the page in a browser is not checked. To check it: apt-get install chromium`);
    return;
  }
  const browser = await launchChromium();
  try {
    const { page, problems } = await openPage(browser, join(out, 'report.html'));
    assert.deepEqual(problems, []);

    const sections = await page.evaluate(() => [...document.querySelectorAll('section')].map((s) => ({
      id: s.id, height: s.getBoundingClientRect().height, placeholders: [...s.querySelectorAll('.empty, figure.chart.missing')].map((e) => e.textContent ?? ''),
    })));
    assert.deepEqual(sections.map((s) => s.id), ['overview', 'robustness', 'training', 'examples', 'findings', 'reproduce', 'versions', 'inputs']);
    for (const s of sections) {
      assert.ok(s.height > 0, `${s.id} is laid out`);
      assert.deepEqual(s.placeholders, [], `section ${s.id} has placeholders`);
    }

    // Every chart drawn, the ε curve and the cascade among them.
    for (const id of ['sweep', 'attacks', 'cascade', 'loss', 'validation']) {
      const box = await page.locator(`#chart-${id} svg`).boundingBox();
      assert.ok(box !== null && box.width > 100 && box.height > 100, `chart ${id}: ${JSON.stringify(box)}`);
    }
    assert.match(await page.locator('#chart-sweep .caption').innerText(), /Quick version from the demo/);

    // A strip of decoded images per model, each captioned with the labels and the attack.
    const blocks = page.locator('#examples .model-block');
    assert.equal(await blocks.count(), 2);
    for (const [i, name] of ['standard', 'alp'].entries()) {
      const block = blocks.nth(i);
      assert.match(await block.locator('.model-heading').innerText(), new RegExp(`^${name}\\s`));
      const images = await block.evaluate((b) => [...b.querySelectorAll('img')].map((i) => ({ ok: i.complete && i.naturalWidth > 0, w: i.naturalWidth })));
      assert.ok(images.length > 0 && images.every((i) => i.ok && i.w > 200), `${name}: ${JSON.stringify(images)}`);
      assert.match(await block.innerText(), /label \d+ → \d+[\s\S]*(fooled by|best try of) \S+/);
    }

    const findings = await page.locator('#findings').innerText();
    assert.equal(findings.match(/QUICK VERSION/g)?.length, 2, findings);
    assert.match(findings, new RegExp(`alp audit --model ${out}/alp --data mnist --n 40 --norm linf --eps 0.3 --budget standard`));
    assert.match(findings, /eps-to-zero[\s\S]*fgsm-vs-pgd/);
    assert.match(findings, /Not in the quick version: More PGD steps and restarts/);

    assert.match(await page.locator('header').innerText(), new RegExp(`alp playground ${out}`));
    assert.match(await page.locator('#reproduce').innerText(), new RegExp(`alp playground ${out}`));

    const shot = join(tmpdir(), 'alp-demo-page.png');
    await page.screenshot({ path: shot, fullPage: true });
    assert.ok(statSync(shot).size > 10_000);
    t.diagnostic(`screenshot: ${shot}`);

    // An example the model resisted (the tiny models resist none): marked so, with the attack's best try.
    const qa = JSON.parse(readFileSync(join(out, 'alp', 'quick-audit.json'), 'utf8')) as { examplesFile: { fooled: boolean[]; advPred: number[]; labels: number[] } };
    qa.examplesFile.fooled[0] = false;
    qa.examplesFile.advPred[0] = qa.examplesFile.labels[0]!;
    writeFileSync(join(out, 'alp', 'quick-audit.json'), JSON.stringify(qa));
    const again = join(d, 'again.html');
    await writeReport([out], { out: again });
    const second = await openPage(browser, again);
    assert.deepEqual(second.problems, []);
    const resisted = await second.page.locator('#examples figure.example.resisted').allInnerTexts();
    assert.equal(resisted.length, 1);
    assert.match(resisted[0]!, /resisted[\s\S]*best try of \S+/);
  } finally {
    await browser.close();
  }
});
