import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { compareMethods, COMPARE_FILE, type CompareResult } from './compare.js';
import { METHODS } from '../train/config.js';
import { useBackend } from '../testing/setup.js';
import { UserError } from '../util/errors.js';
import { writeReport } from '../report/report.js';
import { npy, writeNpz } from '../testing/npz.js';

test('compare: every method on one budget, audited and shifted, written to compare.json; resume keeps finished methods', async () => {
  await useBackend();
  const out = mkdtempSync(join(tmpdir(), 'alp-compare-'));
  try {
    const opts = {
      out, budgetSeconds: 1, auditVersion: 'quick' as const, testExamples: 16, probeSteps: 6,
      overrides: { arch: 'mlp' as const, trainSize: 600, valSize: 50, batchSize: 32, seed: 3 },
      shifts: [{ kind: 'noise' as const, level: 0.3 }, { kind: 'rotate' as const, level: 25 }],
    };
    const phases: string[] = [];
    const r = await compareMethods({ ...opts, onPhase: (m, p) => phases.push(`${m}: ${p}`) });
    const onDisk = JSON.parse(readFileSync(join(out, COMPARE_FILE), 'utf8')) as CompareResult;
    assert.deepEqual(onDisk, JSON.parse(JSON.stringify(r)));
    assert.deepEqual(r.methods.map((m) => m.method), [...METHODS]);
    for (const m of r.methods) {
      assert.ok(m.complete, `${m.method} did not finish`);
      assert.ok(m.steps >= 1 && m.pace.secondsPerStep > 0);
      assert.equal(m.audit.cascade.length, 5, `${m.method}: the quick cascade has five attacks`);
      assert.ok(m.audit.findings.length >= 7);
      assert.equal(m.generalisation.shifts.length, 2);
      assert.equal(m.generalisation.examples, 16);
      // The step count is what the measured pace allows in the budget (rounded up to whole batches per epoch).
      const allowed = Math.max(1, Math.floor(1 / m.pace.secondsPerStep));
      assert.ok(m.steps >= allowed && m.steps < allowed + m.config.epochs, `${m.method}: ${m.steps} steps for ${allowed} allowed`);
    }
    // Each method's folder records the `alp train` command of its config (config-argv.ts; cli/config-argv.test.ts
    // parses such commands back) and the versions, so `alp zoo add` can card it.
    for (const m of r.methods) {
      const t = JSON.parse(readFileSync(join(out, m.method, 'train.json'), 'utf8')) as { argv: string[]; versions: Record<string, string>; config: { epochs: number; trainSize: number } };
      const after = (flag: string): string | undefined => t.argv[t.argv.indexOf(flag) + 1];
      assert.equal(after('--method'), m.method);
      // The budget's epochs and training examples, written unless the preset's (quick: 4 epochs, all examples).
      assert.equal(t.argv.includes('--epochs') ? after('--epochs') : '4', String(t.config.epochs));
      assert.equal(t.argv.includes('--train-size') ? after('--train-size') : '0', String(t.config.trainSize));
      assert.deepEqual(t.argv.slice(-4), ['--workers', '1', '--out', join(out, m.method)]);
      assert.equal(typeof t.versions['alp'], 'string');
    }
    const by = (name: string) => r.methods.find((m) => m.method === name)!;
    // PGD-10 training costs more per step than plain training, so it gets fewer steps of the same budget.
    assert.ok(by('alp').pace.secondsPerStep > by('standard').pace.secondsPerStep, `alp ${by('alp').pace.secondsPerStep} s/step vs standard ${by('standard').pace.secondsPerStep}`);
    // A standard model is not robust at ε = 0.3; the comparison must not say otherwise.
    assert.ok(by('standard').audit.worstCaseAccuracy < by('standard').audit.cleanAccuracy);
    assert.ok(r.best !== null && r.best.methods.length >= 1);
    for (const m of r.methods) {
      assert.ok(m.audit.worstCaseAccuracy <= r.best.worstCaseAccuracy);
      assert.equal(r.best.methods.includes(m.method), m.audit.worstCaseAccuracy === r.best.worstCaseAccuracy);
    }
    assert.ok(phases.some((p) => p.startsWith('trades: training')));
    // Fairness under a varying load: every pace is measured back to back before any method trains, with the load recorded.
    const lastProbe = phases.map((p) => p.endsWith('measuring pace')).lastIndexOf(true);
    const firstTraining = phases.findIndex((p) => p.includes(': training'));
    // Two rounds (the second in reverse order), averaged.
    assert.equal(phases.filter((p) => p.endsWith('measuring pace')).length, 2 * METHODS.length);
    assert.ok(lastProbe < firstTraining, phases.join('\n'));
    for (const m of r.methods) {
      assert.ok(m.pace.loadAverage?.length === 3 && typeof m.pace.measuredAt === 'string', `${m.method}: no load recorded`);
      assert.ok(m.pace.rounds?.length === 2 && Math.abs(m.pace.secondsPerStep - (m.pace.rounds[0]! + m.pace.rounds[1]!) / 2) < 1e-12);
    }

    // One report page over the comparison folder: every method's audit, the comparison table, the shift chart.
    const page = await writeReport([out], { out: join(out, 'report.html') });
    assert.deepEqual(page.data.models.map((m) => m.summary.name), [...METHODS]);
    assert.ok(page.data.models.every((m) => m.audit !== null && m.audit.worstCaseAccuracy !== null), 'a method folder lacks its audit.json');
    const html = readFileSync(page.html, 'utf8');
    assert.match(html, /<section id="comparison">/);
    for (const m of METHODS) assert.match(html, new RegExp(`<td class="nowrap">${m}</td>`));
    assert.equal(page.data.comparison[0]?.rows.length, METHODS.length);
    assert.equal(page.data.comparison[0]?.shifts.length, METHODS.length * 3); // clean + two shifts each
    assert.ok(page.data.charts.some((c) => c.id === 'shifts') && /<svg/.test(html.slice(html.indexOf('id="chart-shifts"'))));

    // Resuming a finished comparison re-runs nothing and returns the same numbers.
    const again = await compareMethods({ ...opts, resume: true, onPhase: () => assert.fail('resume re-ran a finished method') });
    assert.deepEqual(again, r);
    // Another budget in the same folder is refused, not mixed in.
    await assert.rejects(compareMethods({ ...opts, budgetSeconds: 9, resume: true }), (e: unknown) => e instanceof UserError && e.code === 6 && /compare\.json: holds the comparison with other settings \(budgetSeconds \S+ there, 9 now\); not resumed/.test(e.message));
    // Nor is a second comparison started over it without resume, or a method named twice.
    await assert.rejects(compareMethods({ ...opts }), (e: unknown) => e instanceof UserError && e.code === 6 && /holds a comparison already; set resume to continue it/.test(e.message));
    await assert.rejects(compareMethods({ ...opts, methods: ['standard', 'standard'], resume: true }), (e: unknown) => e instanceof UserError && /methods: expected each method once, got standard more than once/.test(e.message));
    // A damaged compare.json is named, not half-read.
    writeFileSync(join(out, COMPARE_FILE), '{"schema": "alp.compare/1", "methods": [');
    await assert.rejects(writeReport([out], { out: join(out, 'r2.html') }), (e: unknown) => e instanceof UserError && e.message.includes(COMPARE_FILE));
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});

test("compare writes each method's audit.json through the output guard, with the version and data header", async () => {
  await useBackend();
  const out = mkdtempSync(join(tmpdir(), 'alp-compare-guard-'));
  try {
    const opts = {
      out, budgetSeconds: 0.3, methods: ['standard'] as const, auditVersion: 'quick' as const, testExamples: 8, probeSteps: 3,
      overrides: { arch: 'mlp' as const, trainSize: 200, valSize: 20, batchSize: 32, seed: 5 }, shifts: [],
    };
    // An audit.json of other weights where the method's audit goes: refused (exit 6), left as it was.
    const foreign = JSON.stringify({ schema: 'alp.audit/1', weightsHash: 'f'.repeat(64), dataset: 'mnist', examples: 8, threat: { norm: 'linf', eps: 0.3 }, version: 'quick', seed: 5 });
    mkdirSync(join(out, 'standard'), { recursive: true });
    writeFileSync(join(out, 'standard', 'audit.json'), foreign);
    await assert.rejects(compareMethods({ ...opts, methods: [...opts.methods] }), (e: unknown) => e instanceof UserError && e.code === 6 && /standard[/\\]audit\.json: holds the audit of other weights/.test(e.message));
    assert.equal(readFileSync(join(out, 'standard', 'audit.json'), 'utf8'), foreign);
    // Replaced with force, and then written with the header `alp audit` writes.
    const r = await compareMethods({ ...opts, methods: [...opts.methods], force: true });
    const a = JSON.parse(readFileSync(join(out, 'standard', 'audit.json'), 'utf8')) as Record<string, unknown>;
    const versions = a['versions'] as Record<string, string>;
    assert.equal(typeof versions['alp'], 'string');
    assert.equal(typeof versions['tfjs'], 'string');
    assert.ok(r.methods.length === 1 && typeof versions['backend'] === 'string');
    assert.deepEqual(a['data'], r.data);
    assert.equal(typeof a['weightsHash'], 'string');
    // A resume of the finished comparison keeps the same audit (same weights, examples and settings).
    await compareMethods({ ...opts, methods: [...opts.methods], resume: true });
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});

test("compare on a user's RGB images trains every method at the radius it audits (the data kind's defaults), and records that command", async () => {
  await useBackend();
  const out = mkdtempSync(join(tmpdir(), 'alp-compare-rgb-'));
  try {
    // 8×8 RGB images, two classes told apart by their red channel.
    const image = (n: number, seed: number): { x: Uint8Array; y: Uint8Array } => {
      const x = new Uint8Array(n * 8 * 8 * 3);
      const y = new Uint8Array(n);
      for (let i = 0; i < n; i++) {
        y[i] = (i + seed) % 2;
        for (let p = 0; p < 64; p++) for (let c = 0; c < 3; c++) x[(i * 64 + p) * 3 + c] = c === 0 ? (y[i] === 1 ? 200 : 40) : (i * 37 + p * 11 + c) % 256;
      }
      return { x, y };
    };
    const train = image(120, 0);
    const testSet = image(16, 1);
    const data = join(out, 'rgb.npz');
    writeNpz(data, {
      x_train: npy('|u1', [120, 8, 8, 3], train.x), y_train: npy('|u1', [120], train.y),
      x_test: npy('|u1', [16, 8, 8, 3], testSet.x), y_test: npy('|u1', [16], testSet.y),
    });
    const r = await compareMethods({
      out: join(out, 'cmp'), budgetSeconds: 0.3, methods: ['pgd-at'], auditVersion: 'quick', testExamples: 8, probeSteps: 3, shifts: [], ood: null,
      overrides: { dataset: data, arch: 'mlp', valSize: 20, batchSize: 16, seed: 2 },
    });
    // RGB data: ε = 8/255 and step 2/255 unless chosen, for the audit and for training alike.
    assert.equal(r.threat.eps, 8 / 255);
    const m = r.methods[0]!;
    assert.equal(m.config.eps, 8 / 255);
    assert.ok(Math.abs(m.config.attackStepSize - 2 / 255) < 1e-12, `step ${m.config.attackStepSize}`);
    const t = JSON.parse(readFileSync(join(out, 'cmp', 'pgd-at', 'train.json'), 'utf8')) as { argv: string[]; config: { eps: number }; data: { defaults?: { fields: { eps?: number } } } };
    assert.equal(t.config.eps, 8 / 255);
    // Recorded as alp train records it, so eval and audit of the folder measure at 8/255 without --eps.
    assert.equal(t.data.defaults?.fields.eps, 8 / 255);
    assert.equal(t.argv[t.argv.indexOf('--data') + 1], data);
    assert.ok(!t.argv.includes('--eps'), `the data kind gives ε; the command need not: ${t.argv.join(' ')}`);
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});
