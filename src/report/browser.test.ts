/**
 * Opens a generated report in real headless Chromium: no console or page errors, nothing requested
 * from outside the file, every chart's <svg> laid out with a non-zero size, every image decoded.
 * Leaves a full-page screenshot in the temp folder to look at. Skips where Debian's chromium is not
 * installed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { fullRun, standardRun, syntheticLoader, trainOnlyRun } from './fixtures.js';
import { CHROMIUM, launchChromium } from '../testing/chromium.js';
import { writeReport } from './report.js';

test('the page renders in headless Chromium without errors, charts laid out, images decoded', { timeout: 90_000 }, async (t) => {
  if (!existsSync(CHROMIUM)) {
    t.skip(`${CHROMIUM} not found; to run this test: apt-get install chromium`);
    return;
  }
  const d = mkdtempSync(join(tmpdir(), 'alp-browser-'));
  t.after(() => rmSync(d, { recursive: true, force: true }));
  const runs = [standardRun(join(d, 'standard')), fullRun(join(d, 'alp')), trainOnlyRun(join(d, 'trades'))];
  const out = join(d, 'report.html');
  await writeReport(runs, { out, cleanLoader: syntheticLoader() });

  const browser = await launchChromium();
  try {
    const page = await browser.newPage({ viewport: { width: 1300, height: 900 } });
    const problems: string[] = [];
    const outside: string[] = [];
    page.on('console', (m) => {
      if (m.type() === 'error' || m.type() === 'warning') problems.push(`console ${m.type()}: ${m.text()}`);
    });
    page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
    page.on('request', (r) => {
      if (!/^(file|data):/.test(r.url())) outside.push(r.url());
    });
    page.on('requestfailed', (r) => problems.push(`request failed: ${r.url()}`));
    await page.goto(pathToFileURL(out).href, { waitUntil: 'load' });

    assert.deepEqual(problems, []);
    assert.deepEqual(outside, [], 'the page requests nothing outside itself');
    assert.equal(await page.title(), 'alp report: standard vs alp vs trades');

    const charts = await page.locator('figure.chart svg').all();
    assert.equal(charts.length, 5);
    for (const svg of charts) {
      const box = await svg.boundingBox();
      assert.ok(box !== null && box.width > 100 && box.height > 100, `chart size ${JSON.stringify(box)}`);
    }
    // Marks were drawn, not just empty frames.
    const marks = await page.locator('figure.chart svg .mark-line path, figure.chart svg .mark-rect path').count();
    assert.ok(marks >= 5, `${marks} line/bar marks`);

    const images = await page.evaluate(() => [...document.images].map((i) => ({ complete: i.complete, w: i.naturalWidth, h: i.naturalHeight })));
    assert.equal(images.length, 6);
    for (const i of images) assert.ok(i.complete && i.w > 0 && i.h > 0, JSON.stringify(i));

    const sections = await page.evaluate(() => [...document.querySelectorAll('section')].map((s) => [s.id, s.getBoundingClientRect().height > 0]));
    assert.deepEqual(sections.map(([id]) => id), ['overview', 'robustness', 'training', 'examples', 'findings', 'reproduce', 'versions', 'inputs']);
    assert.ok(sections.every(([, visible]) => visible));

    const shot = join(tmpdir(), 'alp-report-screenshot.png');
    await page.screenshot({ path: shot, fullPage: true });
    assert.ok(statSync(shot).size > 10_000);
    t.diagnostic(`screenshot: ${shot}`);
  } finally {
    await browser.close();
  }
});
