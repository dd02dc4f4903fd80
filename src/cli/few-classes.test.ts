/**
 * Every command on a user's 2-class and 3-class image folder, in-process (each command's work
 * function, as alp runs it after parsing): train, eval with the default suite (which adapts to fewer
 * than 4 classes), attack, audit, detect calibrate/eval, compare, report (class names and clean images
 * of the user's data) and the playground's site. Small 8×8 images and an MLP keep it fast.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodePng } from '../report/png.js';
import { parseCommand, type Parsed } from './args.js';
import { TRAIN_SPEC } from './specs/train.js';
import { EVAL_SPEC } from './specs/eval.js';
import { ATTACK_SPEC } from './specs/attack.js';
import { AUDIT_SPEC } from './specs/audit.js';
import { COMPARE_SPEC } from './specs/compare.js';
import { REPORT_SPEC } from './specs/report.js';
import { PLAYGROUND_SPEC } from './specs/playground.js';

const tmp = mkdtempSync(join(tmpdir(), 'alp-few-classes-'));
process.on('exit', () => rmSync(tmp, { recursive: true, force: true }));
process.env['XDG_CACHE_HOME'] = join(tmp, 'cache');

/** `root/{train,test}/<name>/i.png`: 8×8 (RGBA, grey values: read as RGB), class k a bright 3×3 block at its own place, plus noise. */
function folder(root: string, names: string[], perClass: number): void {
  for (const split of ['train', 'test']) {
    names.forEach((name, k) => {
      mkdirSync(join(root, split, name), { recursive: true });
      for (let i = 0; i < perClass; i++) {
        const rgba = new Uint8Array(8 * 8 * 4);
        for (let p = 0; p < 64; p++) {
          const [y, x] = [Math.floor(p / 8), p % 8];
          const lit = y >= 2 * k && y < 2 * k + 3 && x >= 2 * k && x < 2 * k + 3;
          const v = (lit ? 190 : 30) + ((p * 7 + i * 13 + (split === 'test' ? 5 : 0)) % 40);
          rgba.set([v, v, v, 255], p * 4);
        }
        writeFileSync(join(root, split, name, `${String(i).padStart(3, '0')}.png`), encodePng(8, 8, rgba));
      }
    });
  }
}

const run = async (spec: Parameters<typeof parseCommand>[1], args: string[], work: (p: Parsed, a: string[]) => Promise<unknown>): Promise<void> => {
  await work(parseCommand(args, spec) as Parsed, args);
};
const json = <T>(path: string): T => JSON.parse(readFileSync(path, 'utf8')) as T;

for (const names of [['cat', 'dog'], ['apple', 'banana', 'cherry']]) {
  const k = names.length;
  test(`every command on a ${k}-class image folder`, { timeout: 300_000 }, async () => {
    const data = join(tmp, `data-${k}`);
    folder(data, names, 16);
    const out = join(tmp, `run-${k}`);
    await run(TRAIN_SPEC, ['--method', 'alp', '--data', data, '--arch', 'mlp', '--epochs', '4', '--batch-size', '16', '--val-size', '0', '--eps', '0.1', '--attack-steps', '2', '--lr', '0.01', '--out', out, '--workers', '1', '--quiet'],
      async (p, a) => (await import('./commands/train.js')).runTrainCommand(p, a));
    assert.deepEqual(json<{ data: { source: { classNames: string[] } } }>(join(out, 'train.json')).data.source.classNames, names);

    // eval: the default suite, adapted to fewer than 4 classes, and saying what ran instead.
    await run(EVAL_SPEC, ['--model', out, '--n', '8', '--eps', '0.1', '--steps', '3', '--restarts', '1', '--queries', '20', '--workers', '1', '--quiet'],
      async (p, a) => (await import('./commands/eval.js')).runEvalCommand(p, a));
    type Suite = { attacks: string[]; replaced: Array<{ attack: string; by: string | null; reason: string }> };
    const ev = json<{ classNames: string[]; suite: Suite; result: { examples: number; cleanAccuracy: number; attacks: Array<{ name: string }> } }>(join(out, 'eval.json'));
    assert.deepEqual(ev.classNames, names);
    assert.equal(ev.result.examples, 8);
    assert.ok(ev.result.cleanAccuracy >= 0.75, `clean ${ev.result.cleanAccuracy}`);
    assert.ok(ev.result.attacks.length >= 2, JSON.stringify(ev.result.attacks.map((x) => x.name)));
    // APGD-T (targeted DLR) needs 4 classes: untargeted DLR stands in with 3, the CW margin with 2, and eval.json says why.
    const standIn = k === 3 ? 'apgd-dlr-untargeted' : 'apgd-cw';
    assert.ok(!ev.suite.attacks.includes('apgd-dlr') && ev.suite.attacks.includes(standIn), JSON.stringify(ev.suite.attacks));
    assert.deepEqual(ev.suite.replaced.map((r) => [r.attack, r.by]), [['apgd-dlr', standIn]]);
    assert.match(ev.suite.replaced[0]?.reason ?? '', new RegExp(`needs 4 classes; the model has ${k}`));

    await run(ATTACK_SPEC, ['--model', out, '--n', '4', '--attack', 'pgd-ce', '--eps', '0.1', '--steps', '3', '--out', join(tmp, `attack-${k}.json`), '--workers', '1', '--quiet'],
      async (p, a) => (await import('./commands/attack.js')).runAttackCommand(p, a));
    assert.ok(existsSync(join(tmp, `attack-${k}.json`)));

    await run(AUDIT_SPEC, ['--model', out, '--n', '8', '--budget', 'quick', '--eps', '0.3', '--workers', '1', '--quiet'],
      async (p, a) => (await import('./commands/audit.js')).runAuditCommand(p, a));
    // At ε = 0.3 (beyond this model's robustness) the audit finds adversarial images: the report shows them.
    assert.deepEqual(json<{ classNames: string[] }>(join(out, 'audit.json')).classNames, names);

    const { detectCommand } = await import('./commands/detect.js');
    await detectCommand(['calibrate', '--model', out, '--detector', 'margin', '--calib-n', '20', '--fpr', '0.1', '--quiet']);
    await detectCommand(['eval', '--model', out, '--n', '8', '--detectors', 'margin', '--fprs', '0.1', '--calib-n', '20', '--eps', '0.1', '--attacks', 'pgd-ce', '--steps', '3', '--restarts', '1', '--no-adaptive', '--workers', '1', '--quiet']);
    assert.ok(existsSync(join(out, 'detector.json')) && existsSync(join(out, 'detect-eval.json')));

    // report: the user's class names and clean test images beside the adversarial ones.
    const page = join(tmp, `report-${k}.html`);
    await run(REPORT_SPEC, [out, '--out', page, '--quiet'], async (p) => (await import('./commands/report.js')).runReportCommand(p));
    const html = readFileSync(page, 'utf8');
    for (const n of names) assert.match(html, new RegExp(n));
    assert.doesNotMatch(html, /clean images unavailable|names no dataset/);
    const { buildReport } = await import('../report/report.js');
    const model = await buildReport([out], { out: join(tmp, 'unused.html') });
    const ex = (model as unknown as { examples: Array<{ classNames: string[] | null; cards: Array<{ hasClean: boolean }> } | null> }).examples[0];
    assert.deepEqual(ex?.classNames, names);
    assert.ok((ex?.cards.length ?? 0) > 0 && ex?.cards.every((c) => c.hasClean), 'clean example images shown');

    // playground: the static export of the run, with the user's test images and class names.
    const site = join(tmp, `playground-${k}`);
    await run(PLAYGROUND_SPEC, [out, '--export', site, '--samples', '4', '--quiet'], async (p) => (await import('./commands/playground.js')).runPlaygroundCommand(p));
    const pg = json<{ classNames: string[]; shape: number[]; samples: { count: number } }>(join(site, 'playground.json'));
    assert.deepEqual([pg.classNames, pg.shape, pg.samples.count], [names, [8, 8, 3], 4]);
  });
}

test('compare on a 2-class folder: two methods, each trained and evaluated on it', { timeout: 300_000 }, async () => {
  const data = join(tmp, 'data-compare');
  // compare trains with batch 64 and holds out half the training split at most: 70 a class leaves 70 to train on.
  folder(data, ['no', 'yes'], 70);
  const out = join(tmp, 'compare');
  await run(COMPARE_SPEC, ['--methods', 'standard,alp', '--data', data, '--budget-minutes', '0.02', '--n', '8', '--eps', '0.1', '--out', out, '--quiet'],
    async (p, a) => (await import('./commands/compare.js')).runCompareCommand(p, a));
  const files = JSON.stringify(readFileSync(join(out, 'compare.json'), 'utf8'));
  assert.match(files, /standard/);
  assert.match(files, /alp/);
});
