import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { compactJson, duration, esc, evidenceValue, pct } from './html-format.js';
import { evidenceHtml } from './html-findings.js';
import { demoFolder, evalJson, fullRun, standardRun, syntheticLoader, syntheticTest, trainOnlyRun, writeAudit } from './fixtures.js';
import { dataPathFor, writeReport, type ReportData } from './report.js';

function tmp(t: { after: (fn: () => void) => void }): string {
  const d = mkdtempSync(join(tmpdir(), 'alp-report-'));
  t.after(() => rmSync(d, { recursive: true, force: true }));
  return d;
}

const count = (s: string, needle: string): number => s.split(needle).length - 1;

/** The <svg ...> elements Vega wrote (the page has no other svg). */
const svgCount = (html: string): number => count(html, '<svg ');

const sectionIds = (html: string): string[] => [...html.matchAll(/<section id="([a-z]+)">/g)].map((m) => m[1] as string);

/** Nothing in the page may reach outside it: no scripts, no external resources. */
function assertSelfContained(html: string): void {
  assert.doesNotMatch(html, /<script/i);
  assert.doesNotMatch(html, /<link\b/i);
  assert.doesNotMatch(html, /<iframe|<object|<embed/i);
  assert.doesNotMatch(html, /(src|href)\s*=\s*["']?\s*(https?:|\/\/|javascript:)/i);
  assert.doesNotMatch(html, /url\(\s*['"]?(https?:|\/\/)/i);
  assert.doesNotMatch(html, /@import/i);
  for (const m of html.matchAll(/<img [^>]*src="([^"]*)"/g)) assert.ok((m[1] as string).startsWith('data:image/png;base64,'), 'images are inline PNGs');
  // Any http URL left is an XML namespace.
  for (const m of html.matchAll(/https?:\/\/[^\s"']+/g)) assert.match(m[0], /^http:\/\/www\.w3\.org\//);
}

test('escaping and formatting helpers', () => {
  assert.equal(esc(`<a href="x">'&'</a>`), '&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;');
  assert.equal(pct(0.9876), '98.8%');
  assert.equal(pct(null), '—');
  assert.equal(pct(NaN), '—');
  assert.equal(duration(42.4), '42 s');
  assert.equal(duration(313), '5 min 13 s');
  assert.equal(duration(7300), '2 h 01 min');
  assert.equal(evidenceValue(0.123456), '0.1235');
  assert.equal(evidenceValue([1, 2, 3]), '[1, 2, 3]');
  assert.match(evidenceValue(Array.from({ length: 20 }, (_, i) => i)), /… \(20 values\)$/);
  assert.equal(evidenceValue({ a: 1 }), '{"a":1}');
  assert.equal(evidenceHtml({ white: 'pgd', black: '<sq>' }), 'white: pgd · black: &lt;sq&gt;');
  // A sweep (more records than fields) is a transposed table: one row per field.
  const sweep = evidenceHtml([{ eps: 0, acc: 0.9 }, { eps: 0.3, acc: 0.1 }, { eps: 0.6, acc: 0 }]);
  assert.equal(sweep, '<table class="evidence inner"><tbody><tr><th>eps</th><td>0</td><td>0.3</td><td>0.6</td></tr><tr><th>acc</th><td>0.9</td><td>0.1</td><td>0</td></tr></tbody></table>');
  assert.equal(evidenceHtml([{ a: 1, b: 2, c: 3 }]), '<table class="evidence inner"><tbody><tr><th>a</th><th>b</th><th>c</th></tr><tr><td>1</td><td>2</td><td>3</td></tr></tbody></table>');
  assert.equal(evidenceHtml('<x>'), '&lt;x&gt;');
  assert.equal(evidenceHtml([{ attack: 'fgsm', config: { eps: 0.3 } }]), '<table class="evidence inner"><tbody><tr><th>attack</th></tr><tr><td>fgsm</td></tr></tbody></table>');
  assert.equal(compactJson({ a: [1, 2], b: { c: 'x' } }), '{\n  "a": [1, 2],\n  "b": {\n    "c": "x"\n  }\n}');
  assert.deepEqual(JSON.parse(compactJson({ a: [1, 'x,y'], b: [{ c: null }], d: {} })), { a: [1, 'x,y'], b: [{ c: null }], d: {} });
  assert.equal(dataPathFor('out/report.html'), join('out', 'report.data.json'));
  assert.equal(dataPathFor('compare.HTM'), 'compare.data.json');
  assert.equal(dataPathFor('page'), 'page.data.json');
});

test('three runs: every section, five SVG charts, example strips, findings, commands, and the JSON behind it', async (t) => {
  const d = tmp(t);
  const runs = [standardRun(join(d, 'standard')), fullRun(join(d, 'alp')), trainOnlyRun(join(d, 'trades'))];
  const out = join(d, 'out', 'report.html');
  const r = await writeReport(runs, { out, cleanLoader: syntheticLoader(), now: new Date('2025-01-02T03:04:05Z') });
  assert.equal(r.html, out);
  assert.equal(r.json, join(d, 'out', 'report.data.json'));
  // Atomic writes leave nothing else behind.
  assert.deepEqual(readdirSync(join(d, 'out')).sort(), ['report.data.json', 'report.html']);
  const html = readFileSync(out, 'utf8');
  assert.equal(r.bytes, Buffer.byteLength(html));
  assert.deepEqual(sectionIds(html), ['overview', 'robustness', 'training', 'examples', 'findings', 'reproduce', 'versions', 'inputs']);
  assert.equal(svgCount(html), 5);
  assert.equal(r.charts, 5);
  for (const id of ['sweep', 'attacks', 'cascade', 'loss', 'validation']) assert.match(html, new RegExp(`<figure class="chart" id="chart-${id}">`));
  assertSelfContained(html);
  assert.match(html, /<title>alp report: standard vs alp vs trades<\/title>/);
  assert.match(html, /2025-01-02 03:04:05 UTC/);
  // Summary table: a column per eval attack, the worst case the lowest of eval and audit.
  for (const h of ['fgsm-linf-ce', 'pgd-linf-ce-40x5', 'pgd-linf-cw-40x5', 'worst case']) assert.ok(html.includes(`>${h}</th>`), h);
  assert.match(html, /lowest of eval 87\.0% and audit 50\.0%/);
  // The train-only run shows its validation numbers, labelled as such.
  assert.match(html, /validation robust \(training PGD\)/);
  // Six example strips with predictions.
  assert.equal(count(html, '<figure class="example">'), 6);
  assert.match(html, /label <strong class="ok">0<\/strong> → <strong class="bad">3<\/strong>/);
  assert.match(html, /fooled by square-linf-300 · ‖δ‖∞ = 0\.300/);
  // Findings, worst first, with their evidence.
  assert.equal(count(html, '<div class="finding '), 3);
  assert.ok(html.indexOf('class="finding fail"') < html.indexOf('class="finding warn"'));
  assert.ok(html.indexOf('class="finding warn"') < html.indexOf('class="finding pass"'));
  assert.match(html, /<th>extraFooled<\/th><td>3<\/td>/);
  assert.match(html, /<th>attacks<\/th><td>white: pgd · black: square<\/td>/);
  assert.match(html, /<span class="badge fail">FAIL<\/span>/);
  // Reproduce: rebuilt and recorded commands (each word kept whole when the line wraps), config JSON.
  const cmds = [...html.matchAll(/<pre class="cmd">(.*?)<\/pre>/g)].map((m) => (m[1] as string).replace(/<[^>]+>/g, ''));
  assert.ok(cmds.some((c) => c.startsWith('alp train --method alp --arch fast-cnn --data mnist --epochs 3') && c.endsWith(`--out ${join(d, 'alp')}`)));
  assert.ok(cmds.includes('alp train --method alp --preset quick --out runs/x'));
  assert.ok(cmds.includes(`alp eval --model ${join(d, 'standard')} --data mnist --n 200 --norm linf --eps 0.3 --attacks fgsm,pgd-ce,pgd-cw --steps 40 --restarts 5 --seed 0 --eps-sweep 0,0.1,0.2,0.3,0.4`));
  assert.ok(cmds.some((c) => c.startsWith(`alp audit --model ${join(d, 'alp')}`)));
  assert.match(html, /<span class="w">--lr-decay-at<\/span> <span class="w">0\.5,0\.75<\/span>/);
  assert.ok(html.includes('&quot;lrDecayAt&quot;: [0.5, 0.75]'));
  assert.match(html, /<th>vega-lite<\/th>/);

  const data = JSON.parse(readFileSync(r.json, 'utf8')) as ReportData;
  assert.deepEqual(data.models.map((m) => m.summary.name), ['standard', 'alp', 'trades']);
  const alp = data.models[1]!;
  assert.equal(alp.summary.worstCase, 0.5);
  assert.ok(cmds.includes(alp.commands.train!.line), 'the page shows the command the JSON records');
  assert.equal(alp.commands.train!.argv[0], 'alp');
  assert.equal(alp.summary.worstCaseSource, 'audit');
  assert.equal(alp.summary.evalWorstCase, 0.87);
  assert.deepEqual(alp.summary.findings, { pass: 1, warn: 1, fail: 1, unknown: 0 });
  assert.equal(alp.examples?.shown.length, 6);
  assert.ok(!('png' in (alp.examples?.shown[0] ?? {})), 'the JSON holds no image data');
  assert.equal(data.models[2]!.summary.cleanAccuracy, null);
  assert.equal(data.models[2]!.summary.validation?.robustAcc, 0.66);
  assert.deepEqual(data.charts.map((c) => [c.id, c.rows.length > 0]), [['sweep', true], ['attacks', true], ['cascade', true], ['loss', true], ['validation', true]]);
  assert.deepEqual(data.attacks, ['fgsm-linf-ce', 'pgd-linf-ce-40x5', 'pgd-linf-cw-40x5']);
  assert.equal(data.generatedAt, '2025-01-02T03:04:05.000Z');
});

test('a run with only train.json: two training charts, the rest says what is missing', async (t) => {
  const d = tmp(t);
  const out = join(d, 'r.html');
  const r = await writeReport([trainOnlyRun(join(d, 'trades'))], { out, cleanLoader: syntheticLoader() });
  const html = readFileSync(out, 'utf8');
  assert.equal(svgCount(html), 2);
  assert.equal(r.charts, 2);
  assert.deepEqual(sectionIds(html).length, 8);
  assert.match(html, /<figure class="chart" id="chart-loss">/);
  assert.match(html, /<figure class="chart" id="chart-validation">/);
  assert.match(html, /<figure class="chart missing" id="chart-sweep">/);
  assert.match(html, /No audit\.json: run <code>alp audit --model DIR<\/code> for these checks\./);
  assert.match(html, /No adversarial images/);
  assert.equal(count(html, '<figure class="example">'), 0);
  assertSelfContained(html);
  assert.ok(existsSync(join(d, 'r.data.json')));
});

test('a demo folder gives one column per model', async (t) => {
  const d = tmp(t);
  const out = join(d, 'demo.html');
  const r = await writeReport([demoFolder(join(d, 'demo'))], { out });
  assert.deepEqual(r.data.models.map((m) => m.summary.name), ['standard', 'alp']);
  const html = readFileSync(out, 'utf8');
  // attacks, loss, validation (the demo evaluates without an ε sweep and runs no audit).
  assert.equal(svgCount(html), 3);
  assert.match(html, /<title>alp report: standard vs alp<\/title>/);
  // The demo's report.json is untouched.
  assert.ok(Array.isArray((JSON.parse(readFileSync(join(d, 'demo', 'report.json'), 'utf8')) as { models: unknown }).models));
});

test('text from files and paths is escaped everywhere, including inside the charts', async (t) => {
  const d = tmp(t);
  const evil = `<img src=x onerror=alert(1)>`;
  const folder = join(d, evil);
  fullRun(folder);
  const ev = evalJson(0.9, [0.5, 0.4, 0.3], true) as { result: { attacks: Array<{ name: string }> } };
  ev.result.attacks[1]!.name = `"><svg onload=alert(2)>`;
  writeFileSync(join(folder, 'eval.json'), JSON.stringify(ev));
  writeAudit(folder, syntheticTest(), [1, 2], 0.3, {
    findings: [{ id: '<i>id</i>', title: '</title><script>alert(3)</script>', status: '<b>', detail: `<script>alert(4)</script>`, evidence: { '<k>': '<v>', nested: { x: '</td>' } } }],
  });
  const train = JSON.parse(readFileSync(join(folder, 'train.json'), 'utf8')) as { config: Record<string, unknown>; epochs: Array<{ parts: Record<string, number> }> };
  train.config['arch'] = `'; rm -rf / #<b>`;
  train.epochs[0]!.parts['<u>part</u>'] = 0.1;
  writeFileSync(join(folder, 'train.json'), JSON.stringify(train));
  const out = join(d, 'x.html');
  await writeReport([folder], { out, title: `</title><script>alert(5)</script>`, cleanLoader: syntheticLoader() });
  const html = readFileSync(out, 'utf8');
  assertSelfContained(html);
  for (const raw of [evil, '<svg onload', '<script>', '<i>id</i>', '<b>', '<k>', '<v>', '<u>part</u>', "rm -rf / #<b>"]) {
    assert.ok(!html.includes(raw), `raw ${raw} must not reach the page`);
  }
  assert.ok(html.includes('&lt;img src=x onerror=alert(1)&gt;'));
  assert.ok(html.includes('<title>&lt;/title&gt;&lt;script&gt;alert(5)&lt;/script&gt;</title>'));
  assert.ok(html.includes('&lt;script&gt;alert(4)&lt;/script&gt;'));
  // The unknown status is shown as such, and the shell command quotes the odd value.
  assert.match(html, /<span class="badge unknown">UNKNOWN<\/span>/);
  assert.ok(html.includes(`--arch</span> <span class="w">&#39;&#39;\\&#39;&#39;; rm -rf / #&lt;b&gt;&#39;</span>`));
  assert.equal(svgCount(html), 5);
});

test('alp report on the command line: help, output files, and one-line user errors', async (t) => {
  const d = tmp(t);
  const { reportCommand } = await import('../cli/commands/report.js');
  const run = standardRun(join(d, 'std'));
  const out = join(d, 'sub', 'page.html');
  await reportCommand([run, '--out', out, '--quiet', '--examples', '3']);
  assert.ok(existsSync(out) && existsSync(join(d, 'sub', 'page.data.json')));
  await assert.rejects(reportCommand(['--quiet']), /at least one RUN/);
  await assert.rejects(reportCommand([run, '--examples', '-1', '--quiet']), /--examples/);

  const main = join(dirname(fileURLToPath(import.meta.url)), '..', 'cli', 'main.js');
  mkdirSync(join(d, 'bad'));
  writeFileSync(join(d, 'bad', 'eval.json'), '{"result": ');
  const bad = spawnSync(process.execPath, [main, 'report', join(d, 'bad'), '--out', join(d, 'bad.html')], { encoding: 'utf8' });
  assert.equal(bad.status, 2, bad.stderr);
  assert.match(bad.stderr, /^alp: .*bad\/eval\.json: malformed JSON: /);
  assert.equal(bad.stderr.trim().split('\n').length, 1);
  assert.ok(!existsSync(join(d, 'bad.html')));
});
