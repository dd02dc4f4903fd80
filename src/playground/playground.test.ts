/**
 * The playground in real headless Chromium, on two tiny MNIST models trained here (standard and ALP,
 * an MLP for seconds each): no console errors, nothing requested outside 127.0.0.1, the page's logits
 * equal Node's, a PGD attack run in the page (alp's code, from the bundle) flips the standard model and
 * not the ALP one on a fixed image, and the exported folder works from a plain static file server.
 * ALP_PLAYGROUND_SCREENSHOT=FILE saves the page after the attack (the picture in docs/browser.md).
 * Skips where Debian's chromium is not installed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, normalize } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import type { Browser, Page } from 'playwright-core';
import type { Dataset } from '../data/dataset.js';
import { loadMnist, subset } from '../data/index.js';
import { MaxSoftmaxDetector } from '../detect/baselines.js';
import { calibrateDetector } from '../detect/calibrate.js';
import { saveDetector } from '../detect/detector-files.js';
import { buildArch } from '../model/architectures.js';
import { saveModel } from '../model/io.js';
import { encodePng } from '../report/png.js';
import { assertUserError, runAlp } from '../testing/cli.js';
import { readmeSnippet } from '../testing/readme.js';
import { chromiumWorkDir, launchChromium } from '../testing/chromium.js';
import { resolveConfig } from '../train/config.js';
import { trainModel } from '../train/trainer.js';
import { contentType, exportPlayground, servePlayground } from './serve.js';
import { buildSite, findModels } from './site.js';
import type { ModelOutput } from './protocol.js';

const EPS = 0.1;
/** The fixed image: MNIST test example 0 (a 7). */
const IMAGE = 0;

async function trainRun(dir: string): Promise<Record<string, tf.LayersModel>> {
  const train = subset(loadMnist('train'), 0, 4000);
  const calib = subset(loadMnist('test'), 100, 300);
  const out: Record<string, tf.LayersModel> = {};
  for (const method of ['standard', 'alp'] as const) {
    const c = resolveConfig(undefined, {
      method, arch: 'mlp', epochs: method === 'standard' ? 2 : 4, batchSize: 64, lr: 2e-3, schedule: 'constant', eps: EPS,
      attackSteps: 5, attackStepSize: EPS / 2, epsRampEpochs: 0, seed: 3, valSize: 0,
    });
    const model = buildArch('mlp', { inputShape: [28, 28, 1], numClasses: 10, seed: 3 });
    await trainModel(model, train, null, c);
    const md = join(dir, method);
    await saveModel(model, md, { alp: { config: c, method } });
    const r = calibrateDetector(new MaxSoftmaxDetector(), model, calib, { fpr: 0.05 });
    saveDetector(md, r, { modelPath: md });
    out[method] = model;
  }
  return out;
}

/** A plain static file server over a folder: what any static host does. */
async function staticServer(root: string): Promise<{ url: string; close: () => Promise<void> }> {
  const server = createServer((req, res) => {
    const rel = normalize(decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname)).replace(/^\/+/, '') || 'index.html';
    const file = join(root, rel);
    if (rel.startsWith('..') || !existsSync(file) || !statSync(file).isFile()) {
      res.writeHead(404);
      res.end();
      return;
    }
    res.writeHead(200, { 'content-type': contentType(file) });
    res.end(readFileSync(file));
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', () => ok()));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`,
    close: () => new Promise((ok) => {
      server.closeAllConnections();
      server.close(() => ok());
    }),
  };
}

interface Watch {
  problems: string[];
  outside: string[];
}

async function openPage(browser: Browser, url: string): Promise<{ page: Page; watch: Watch }> {
  const context = await browser.newContext({ viewport: { width: 1180, height: 820 } });
  const watch: Watch = { problems: [], outside: [] };
  context.on('request', (r) => {
    if (!/^(http:\/\/127\.0\.0\.1[:/]|data:|blob:)/.test(r.url())) watch.outside.push(r.url());
  });
  const page = await context.newPage();
  page.on('console', (m) => {
    if (m.type() === 'error' || m.type() === 'warning') watch.problems.push(`console ${m.type()}: ${m.text()}`);
  });
  page.on('pageerror', (e) => watch.problems.push(`page error: ${e.message}`));
  page.on('requestfailed', (r) => watch.problems.push(`request failed: ${r.url()}`));
  await page.goto(url, { waitUntil: 'load' });
  await page.waitForFunction(() => ['ready', 'error'].includes(document.getElementById('status')?.dataset['state'] ?? ''), null, { timeout: 60_000 });
  const status = await page.locator('#status').textContent();
  assert.equal(await page.locator('#status').getAttribute('data-state'), 'ready', `page status: ${status}; ${watch.problems.join('; ')}`);
  return { page, watch };
}

/** Sets the controls like a user and runs the attack; returns each model's prediction on the adversarial input. */
async function attackInPage(page: Page, o: { model: string; steps: number }): Promise<Record<string, number>> {
  await page.locator('#sample').fill(String(IMAGE));
  await page.locator('#sample').dispatchEvent('change');
  await page.waitForFunction(() => document.getElementById('status')?.dataset['state'] === 'idle');
  await page.selectOption('#attack', 'pgd');
  await page.selectOption('#target-model', o.model);
  await page.selectOption('#norm', 'linf');
  await page.locator('#eps').fill(String(EPS));
  await page.locator('#steps').fill(String(o.steps));
  await page.selectOption('#target', '');
  await page.click('#run');
  await page.waitForFunction(() => ['done', 'error'].includes(document.getElementById('status')?.dataset['state'] ?? ''), null, { timeout: 60_000 });
  assert.equal(await page.locator('#status').getAttribute('data-state'), 'done', (await page.locator('#status').textContent()) ?? '');
  assert.equal(await page.locator('#progress').evaluate((p) => (p as HTMLProgressElement).value), 1);
  const rows = await page.locator('#models tbody tr').evaluateAll((trs) => trs.map((tr) => [
    (tr as HTMLElement).dataset['model'] as string,
    Number((tr.querySelector('[data-kind=adversarial]') as HTMLElement).dataset['prediction']),
  ] as const));
  return Object.fromEntries(rows);
}

test('playground: files of a run folder, and clear errors for bad folders', () => {
  assert.throws(() => findModels('/nonexistent/run'), /no such folder/);
  assertUserError(['playground', '/nonexistent/run'], /^alp: \/nonexistent\/run: no such folder/);
  assertUserError(['playground', 'a', 'b'], /expected at most one RUN_DIR/);
  const d = mkdtempSync(join(tmpdir(), 'alp-pg-'));
  try {
    assert.throws(() => findModels(d), /expected model.json in it or in its subfolders, found none/);
    mkdirSync(join(d, 'm'));
    writeFileSync(join(d, 'm', 'model.json'), '{"modelTopology": {}}');
    assert.throws(() => findModels(d), /m\/model.json: expected a TF.js Layers model.json with a weightsManifest/);
    writeFileSync(join(d, 'm', 'model.json'), JSON.stringify({ modelTopology: {}, weightsManifest: [{ paths: ['weights.bin'], weights: [] }] }));
    const tiny: Dataset = { name: 'tiny', images: new Float32Array(4), labels: new Int32Array(1), count: 1, shape: [2, 2, 1], numClasses: 2 };
    assert.throws(() => buildSite(d, { data: tiny }), /m\/weights.bin: missing \(listed in the weightsManifest of .*m\/model.json\)/);
    assert.throws(() => buildSite(d, { data: tiny, samples: 0 }), / samples: expected an integer ≥ 1, got 0/);
    assert.throws(() => buildSite(d), /model.json records no dataset; pass --data/);
    const out = join(d, 'out');
    mkdirSync(out);
    writeFileSync(join(out, 'keep.txt'), 'mine');
    assert.throws(() => exportPlayground({ manifest: {} as never, files: new Map() }, out), /not empty and holds no earlier playground export/);
    assert.equal(readFileSync(join(out, 'keep.txt'), 'utf8'), 'mine');
  } finally {
    rmSync(d, { recursive: true, force: true });
  }
});

test('playground in headless Chromium: offline, Node-equal logits, PGD in the page flips standard not ALP, static export works', { timeout: 240_000 }, async (t) => {
  const d = await chromiumWorkDir(t, 'alp-playground-');
  if (d === null) return;
  const t0 = Date.now();
  const models = await trainRun(join(d, 'run'));
  t.diagnostic(`trained both models in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  const site = buildSite(join(d, 'run'), { samples: 10 });
  assert.deepEqual(site.manifest.models.map((m) => [m.name, m.method, m.detectorUrl !== null]), [['alp', 'alp', true], ['standard', 'standard', true]]);
  assert.equal(site.manifest.defaults.eps, EPS);

  const browser = await launchChromium();
  const server = await servePlayground(site);
  try {
    let t1 = Date.now();
    const { page, watch } = await openPage(browser, server.url);
    t.diagnostic(`page ready in ${((Date.now() - t1) / 1000).toFixed(1)} s`);
    const backend = await page.locator('#meta').getAttribute('data-backend');
    t.diagnostic(`page backend: ${backend}`);
    assert.ok(backend === 'webgl' || backend === 'wasm' || backend === 'cpu');

    // Logits in the page equal Node's.
    const test10 = subset(loadMnist('test'), 0, 10);
    const x = tf.tensor4d(test10.images, [10, 28, 28, 1]);
    let maxDiff = 0;
    for (let i = 0; i < 3; i++) {
      const outs = await page.evaluate((k) => (window as unknown as { alpPlayground: { predictSample(i: number): Promise<ModelOutput[]> } }).alpPlayground.predictSample(k), i);
      for (const o of outs) {
        const node = tf.tidy(() => (models[o.model] as tf.LayersModel).predict(x.slice(i, 1)) as tf.Tensor).dataSync();
        for (let k = 0; k < 10; k++) maxDiff = Math.max(maxDiff, Math.abs((o.logits[k] as number) - (node[k] as number)));
      }
    }
    x.dispose();
    t.diagnostic(`max |logit(page) - logit(node)| over 3 images × 2 models: ${maxDiff.toExponential(2)}`);
    assert.ok(maxDiff <= 1e-4, `logits differ by ${maxDiff}`);

    // The same logits on the wasm and cpu backends the page falls back to.
    for (const b of ['wasm', 'cpu']) {
      const other = await page.context().newPage();
      other.on('console', (m) => {
        if (m.type() === 'error' || m.type() === 'warning') watch.problems.push(`console ${m.type()} (${b}): ${m.text()}`);
      });
      await other.goto(`${server.url}?backend=${b}`);
      await other.waitForFunction(() => ['ready', 'error'].includes(document.getElementById('status')?.dataset['state'] ?? ''), null, { timeout: 60_000 });
      assert.equal(await other.locator('#meta').getAttribute('data-backend'), b);
      const outs = await other.evaluate(() => (window as unknown as { alpPlayground: { predictSample(i: number): Promise<ModelOutput[]> } }).alpPlayground.predictSample(0));
      let diff = 0;
      for (const o of outs) {
        const node = tf.tidy(() => (models[o.model] as tf.LayersModel).predict(tf.tensor4d(test10.images.subarray(0, 784), [1, 28, 28, 1])) as tf.Tensor).dataSync();
        for (let k = 0; k < 10; k++) diff = Math.max(diff, Math.abs((o.logits[k] as number) - (node[k] as number)));
      }
      t.diagnostic(`${b}: max |logit(page) - logit(node)| on image 0 × 2 models: ${diff.toExponential(2)}`);
      assert.ok(diff <= 1e-4, `${b}: logits differ by ${diff}`);
      await other.close();
    }

    // The library bundle in the page's own thread: guard + PGD (through the verifying runner) by URL.
    const lib = await page.evaluate(async () => {
      const alp = await import(new URL('alp.js', location.href).href) as typeof import('../browser/index.js');
      const b = await alp.chooseBackend({ wasmPath: new URL('wasm/', location.href).href, order: ['wasm'] });
      const { guard, model, detector } = await alp.loadGuardFromUrl('models/alp/model.json');
      const x = alp.tf.tensor4d(new Float32Array(await (await fetch('data/samples.f32')).arrayBuffer()).subarray(0, 784), [1, 28, 28, 1]);
      const pgd = new alp.Pgd({ threat: { norm: 'linf', eps: 0.1 }, steps: 10 });
      const adv = alp.runAttack(pgd, alp.logitsOf(model), x, alp.tf.tensor1d([7], 'int32'));
      const maxDelta = alp.tf.max(alp.tf.abs(alp.tf.sub(adv.adversarial, x))).dataSync()[0] as number;
      let badUrl = '';
      await alp.loadDetectorFromUrl('models/nope/detector.json').catch((e: Error) => {
        badUrl = e.message;
      });
      return { backend: b.backend, decisions: guard.check(adv.adversarial), threshold: detector.calibration.threshold, maxDelta, badUrl };
    });
    assert.equal(lib.backend, 'wasm');
    assert.equal(lib.decisions.length, 1);
    const dec = lib.decisions[0] as { prediction: number; suspicion: number; threshold: number; flagged: boolean };
    assert.equal(dec.threshold, lib.threshold);
    assert.equal(dec.flagged, dec.suspicion > dec.threshold);
    assert.ok(lib.maxDelta <= 0.1 + 1e-6 && lib.maxDelta > 0.05, `perturbation ${lib.maxDelta}`);
    assert.match(lib.badUrl, /models\/nope\/detector.json: expected a JSON file, the server answered 404/);
    // That 404 was asked for; the page's own requests must not fail.
    watch.problems = watch.problems.filter((p) => !/nope\/detector.json|404/.test(p));

    // A drawn digit: the page predicts it with every model.
    const box = (await page.locator('#draw').boundingBox()) as { x: number; y: number; width: number; height: number };
    await page.mouse.move(box.x + box.width * 0.5, box.y + box.height * 0.15);
    await page.mouse.down();
    await page.mouse.move(box.x + box.width * 0.5, box.y + box.height * 0.85, { steps: 8 });
    await page.mouse.up();
    await page.click('#use-drawing');
    await page.waitForFunction(() => /your drawing/.test(document.getElementById('status')?.textContent ?? ''));
    assert.equal(await page.locator('#models tbody tr [data-kind=clean][data-prediction]').count(), 2);

    // A user's image file, decoded by the browser: test image IMAGE written as a PNG gives its very pixels (same logits).
    const rgba = new Uint8Array(28 * 28 * 4);
    for (let p = 0; p < 784; p++) {
      const v = Math.round((test10.images[IMAGE * 784 + p] as number) * 255);
      rgba.set([v, v, v, 255], p * 4);
    }
    const pngFile = join(d, 'digit.png');
    writeFileSync(pngFile, encodePng(28, 28, rgba));
    await page.setInputFiles('#image-file', pngFile);
    await page.waitForFunction(() => /digit\.png: taken to be/.test(document.getElementById('status')?.textContent ?? ''));
    const fromFile = await page.evaluate(async (i) => {
      const pg = (window as unknown as { alpPlayground: { predictSample: (i?: number) => Promise<Array<{ logits: number[] }>> } }).alpPlayground;
      return { file: (await pg.predictSample()).map((o) => o.logits), sample: (await pg.predictSample(i)).map((o) => o.logits) };
    }, IMAGE);
    assert.deepEqual(fromFile.file, fromFile.sample);

    // Node agrees with the premise: the label of the fixed image is what both models predict clean.
    const label = test10.labels[IMAGE] as number;
    t1 = Date.now();
    const onStandard = await attackInPage(page, { model: 'standard', steps: 40 });
    t.diagnostic(`PGD-40 in the page against standard: ${((Date.now() - t1) / 1000).toFixed(1)} s`);
    assert.notEqual(onStandard['standard'], label, 'PGD against the standard model flips it');
    const shot = process.env['ALP_PLAYGROUND_SCREENSHOT'];
    if (shot !== undefined && shot !== '') {
      await page.screenshot({ path: shot, fullPage: true });
      t.diagnostic(`screenshot: ${shot}`);
    }
    t1 = Date.now();
    const onAlp = await attackInPage(page, { model: 'alp', steps: 40 });
    t.diagnostic(`PGD-40 in the page against alp: ${((Date.now() - t1) / 1000).toFixed(1)} s`);
    assert.equal(onAlp['alp'], label, 'PGD against the ALP model does not flip it');
    const flagged = await page.locator('#models tbody tr[data-model=alp] [data-kind=clean]').getAttribute('data-flagged');
    assert.ok(flagged === 'true' || flagged === 'false', 'the calibrated detector is shown');
    assert.deepEqual(watch.problems, []);
    assert.deepEqual(watch.outside, [], 'nothing requested outside 127.0.0.1');
    await page.context().close();

    // The exported folder, served by a plain static server.
    // Through the CLI, as a user would.
    const exported = join(d, 'export');
    const cli = runAlp(['playground', join(d, 'run'), '--export', exported, '--samples', '10', '--json']);
    assert.equal(cli.code, 0, cli.stderr);
    assert.deepEqual((JSON.parse(cli.stdout) as { models: string[] }).models, ['alp', 'standard']);
    assert.ok(existsSync(join(exported, 'index.html')) && existsSync(join(exported, 'wasm', 'tfjs-backend-wasm.wasm')) && existsSync(join(exported, 'alp.js')));
    const st = await staticServer(exported);
    try {
      const p2 = await openPage(browser, st.url);
      const again = await attackInPage(p2.page, { model: 'standard', steps: 40 });
      assert.notEqual(again['standard'], label);
      assert.deepEqual(p2.watch.problems, []);
      assert.deepEqual(p2.watch.outside, []);
      await p2.page.context().close();

      // README's browser example, verbatim, as a page beside the exported files.
      const example = readmeSnippet('browser');
      assert.match(example, /runAttack\(/);
      assert.doesNotMatch(example, /\.run\(|gradientAttack/, 'the example goes through the verifying runner only');
      writeFileSync(join(exported, 'example.html'), example);
      const context = await browser.newContext();
      const ex: Watch = { problems: [], outside: [] };
      context.on('request', (r) => {
        if (!/^(http:\/\/127\.0\.0\.1[:/]|data:|blob:)/.test(r.url())) ex.outside.push(r.url());
      });
      const p3 = await context.newPage();
      p3.on('pageerror', (e) => ex.problems.push(`page error: ${e.message}`));
      // A bare page makes the browser ask for /favicon.ico; any other failed request is a problem.
      p3.on('response', (r) => {
        if (r.status() >= 400 && !r.url().endsWith('/favicon.ico')) ex.problems.push(`${r.status()}: ${r.url()}`);
      });
      p3.on('console', (m) => {
        if ((m.type() === 'error' || m.type() === 'warning') && !m.text().startsWith('Failed to load resource')) ex.problems.push(`console ${m.type()}: ${m.text()}`);
      });
      const logged = p3.waitForEvent('console', { predicate: (m) => m.text().startsWith('fooled:'), timeout: 60_000 });
      await p3.goto(`${st.url}example.html`);
      const line = (await logged).text();
      t.diagnostic(`README browser example: ${line}`);
      assert.match(line, /^fooled: (true|false) \[\{"prediction":\d,.*"suspicion":.*"threshold":/);
      assert.deepEqual(ex.problems, []);
      assert.deepEqual(ex.outside, []);
      await context.close();
    } finally {
      await st.close();
    }
  } finally {
    await server.close();
    await browser.close();
  }
});

/** Two-class synthetic clips: a low or a high tone, [1, 256, 1] in [0,1] (waveform (v·2 − 1)). */
function toneClips(count: number): Dataset {
  const t = 256;
  const images = new Float32Array(count * t);
  const labels = new Int32Array(count);
  for (let i = 0; i < count; i++) {
    labels[i] = i % 2;
    const f = labels[i] === 0 ? 300 : 1200;
    for (let s = 0; s < t; s++) images[i * t + s] = 0.5 + 0.4 * Math.sin((2 * Math.PI * f * s) / 8000 + i);
  }
  return { name: 'tones', images, labels, count, shape: [1, t, 1], numClasses: 2, classNames: ['low', 'high'], sampleRate: 8000 };
}

test('playground in headless Chromium: audio gets waveforms, play buttons and attacks; text gets a clear not-supported note', { timeout: 180_000 }, async (t) => {
  const d = await chromiumWorkDir(t, 'alp-playground-');
  if (d === null) return;
  const clips = toneClips(64);
  const audio = buildArch('mlp', { inputShape: [1, 256, 1], numClasses: 2, seed: 1 });
  const c = resolveConfig(undefined, { method: 'standard', arch: 'mlp', epochs: 3, batchSize: 16, lr: 1e-2, schedule: 'constant', eps: 0.01, seed: 1, valSize: 0 });
  await trainModel(audio, clips, null, c);
  await saveModel(audio, join(d, 'audio', 'tone'), { alp: { config: { ...c, dataset: 'tones' }, method: 'standard' } });
  const text = buildArch('mlp', { inputShape: [8, 1, 1], numClasses: 2, seed: 1 });
  await saveModel(text, join(d, 'text', 'spam'), { alp: { config: { dataset: 'spam-assassin', method: 'standard' }, method: 'standard' } });
  const textData: Dataset = {
    name: 'words', images: new Float32Array(16), labels: new Int32Array(2), count: 2, shape: [8, 1, 1], numClasses: 2,
    classNames: ['ham', 'spam'], vocabulary: ['<pad>', 'free', 'money'],
  };

  const browser = await launchChromium(['--autoplay-policy=no-user-gesture-required']);
  const audioServer = await servePlayground(buildSite(join(d, 'audio'), { data: clips, samples: 4 }));
  const textServer = await servePlayground(buildSite(join(d, 'text'), { data: textData }));
  try {
    const { page, watch } = await openPage(browser, audioServer.url);
    assert.equal(await page.locator('#clean').evaluate((c) => (c as HTMLCanvasElement).width), 320, 'a waveform canvas');
    assert.equal(await page.locator('#draw-box').isVisible(), false, 'no drawing pad for audio');
    assert.equal(await page.locator('[data-play=clean]').isVisible(), true);
    // The waveform is drawn: blue line pixels on the clean canvas.
    const blue = await page.locator('#clean').evaluate((c) => {
      const px = (c as HTMLCanvasElement).getContext('2d')!.getImageData(0, 0, 320, 120).data;
      let n = 0;
      for (let i = 0; i < px.length; i += 4) if ((px[i + 2] as number) > 150 && (px[i] as number) < 100) n++;
      return n;
    });
    assert.ok(blue > 300, `${blue} waveform pixels`);
    await page.click('[data-play=clean]');
    await page.selectOption('#attack', 'fgsm');
    await page.locator('#eps').fill('0.2');
    await page.click('#run');
    await page.waitForFunction(() => ['done', 'error'].includes(document.getElementById('status')?.dataset['state'] ?? ''), null, { timeout: 60_000 });
    assert.equal(await page.locator('#status').getAttribute('data-state'), 'done', (await page.locator('#status').textContent()) ?? '');
    assert.match((await page.locator('#delta-caption').textContent()) ?? '', /max \|δ\| = 0\.200/);
    assert.equal(await page.locator('[data-play=adv]').isVisible(), true);
    await page.click('[data-play=adv]');
    assert.deepEqual(watch.problems, []);
    assert.deepEqual(watch.outside, []);
    await page.context().close();

    const context = await browser.newContext();
    const tp = await context.newPage();
    const problems: string[] = [];
    tp.on('console', (m) => {
      if (m.type() === 'error' || m.type() === 'warning') problems.push(m.text());
    });
    await tp.goto(textServer.url);
    await tp.waitForFunction(() => document.getElementById('status')?.dataset['state'] === 'unsupported', null, { timeout: 60_000 });
    assert.match((await tp.locator('#text-notice').textContent()) ?? '', /Text models are not supported here/);
    assert.equal(await tp.locator('#controls').isVisible(), false);
    assert.deepEqual(problems, []);
    await context.close();
  } finally {
    await audioServer.close();
    await textServer.close();
    await browser.close();
  }
});
