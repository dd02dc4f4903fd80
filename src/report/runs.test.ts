import type { AttackName } from '../eval/suite.js';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { UserError } from '../util/errors.js';
import { auditArgv, evalArgv, shellQuote, trainArgv, trainOptionOf } from './commands.js';
import { demoFolder, fullRun, standardRun, syntheticLoader, syntheticTest, TRAIN_CONFIG, trainOnlyRun, writeAudit } from './fixtures.js';
import { buildExamples, dataLayerLoader, readExamplesFile } from './examples.js';
import { loadRuns } from './runs.js';

function tmp(t: { after: (fn: () => void) => void }): string {
  const d = mkdtempSync(join(tmpdir(), 'alp-runs-'));
  t.after(() => rmSync(d, { recursive: true, force: true }));
  return d;
}

function rejectsUser(fn: () => unknown, ...parts: string[]): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof UserError, `expected a UserError, got ${String(e)}`);
    for (const p of parts) assert.ok(e.message.includes(p), `message '${e.message}' should mention '${p}'`);
    return true;
  });
}

test('a full run folder is read into typed records', (t) => {
  const d = tmp(t);
  const [r] = loadRuns([fullRun(join(d, 'alp'))]);
  assert.ok(r !== undefined);
  assert.equal(r.name, 'alp');
  assert.deepEqual(r.files, ['model.json', 'train.json', 'eval.json', 'audit.json']);
  assert.equal(r.model?.layers, 3);
  assert.equal(r.model?.params, 3 * 3 * 8 + 8 + 5408 * 10 + 10);
  assert.equal(r.configSource, 'train.json');
  assert.equal(r.config?.['method'], 'alp');
  assert.equal(r.train?.epochs.length, 3);
  assert.equal(r.train?.evals.length, 6);
  assert.deepEqual(r.train?.argv, ['--method', 'alp', '--preset', 'quick', '--out', 'runs/x']);
  assert.equal(r.eval?.attacks.length, 3);
  assert.equal(r.eval?.epsSweep.length, 5);
  assert.deepEqual(r.eval?.threat, { norm: 'linf', eps: 0.3 });
  assert.equal(r.audit?.cascade.length, 4);
  assert.deepEqual(r.audit?.findings.map((f) => f.status), ['pass', 'warn', 'fail']);
  assert.equal(r.audit?.examples, 100);
  assert.deepEqual(r.audit?.adversarial?.shape, [6, 28, 28, 1]);
  assert.deepEqual(r.audit?.adversarial?.clean, [0, 3, 5, 7, 11, 13]);
  assert.deepEqual(r.warnings, []);
});

test('a folder with only train.json is a run; the config comes from it', (t) => {
  const d = tmp(t);
  const [r] = loadRuns([trainOnlyRun(join(d, 'trades'))]);
  assert.deepEqual(r?.files, ['train.json']);
  assert.equal(r?.eval, null);
  assert.equal(r?.audit, null);
  assert.equal(r?.model, null);
  assert.equal(r?.config?.['method'], 'trades');
});

test('model.json metadata supplies the config when there is no train.json', (t) => {
  const d = tmp(t);
  const f = standardRun(join(d, 'std'));
  rmSync(join(f, 'train.json'));
  const [r] = loadRuns([f]);
  assert.equal(r?.configSource, 'model.json');
  assert.equal(r?.config?.['method'], 'standard');
});

test('a demo folder expands into its models; numbers from report.json fill in a missing eval.json', (t) => {
  const d = tmp(t);
  const demo = demoFolder(join(d, 'demo'));
  const runs = loadRuns([demo]);
  assert.deepEqual(runs.map((r) => r.name), ['standard', 'alp']);
  assert.deepEqual(runs.map((r) => r.folder), [join(demo, 'standard'), join(demo, 'alp')]);
  assert.ok(runs.every((r) => r.files.includes('../report.json') && r.files.includes('eval.json')));
  assert.equal(runs[1]?.eval?.threat?.eps, 0.3);
  // Without the sub-folders the demo's own numbers are the run.
  rmSync(join(demo, 'standard'), { recursive: true });
  rmSync(join(demo, 'alp', 'eval.json'));
  const again = loadRuns([demo]);
  assert.deepEqual(again[0]?.files, ['../report.json']);
  assert.equal(again[0]?.config?.['method'], 'standard');
  assert.equal(again[0]?.eval?.cleanAccuracy, 0.99);
  assert.equal(again[1]?.eval?.attacks.length, 3);
  assert.equal(again[1]?.eval?.file, join(demo, 'report.json'));
});

test('runs with the same folder name are told apart by their parent', (t) => {
  const d = tmp(t);
  const runs = loadRuns([standardRun(join(d, 'a', 'run')), standardRun(join(d, 'b', 'run'))]);
  assert.deepEqual(runs.map((r) => r.name), ['a/run', 'b/run']);
});

test('bad RUN arguments are user errors that name the path', (t) => {
  const d = tmp(t);
  rejectsUser(() => loadRuns([join(d, 'nope')]), join(d, 'nope'), 'no such run folder');
  mkdirSync(join(d, 'empty'));
  rejectsUser(() => loadRuns([join(d, 'empty')]), join(d, 'empty'), 'not a run folder', 'train.json');
  rejectsUser(() => loadRuns([]), 'RUN');
  // A report.json that is not a demo's is not a run either.
  mkdirSync(join(d, 'other'));
  writeFileSync(join(d, 'other', 'report.json'), '{"hello": 1}');
  rejectsUser(() => loadRuns([join(d, 'other')]), 'not a run folder');
});

test('malformed JSON is a user error naming the file and the parse error', (t) => {
  const d = tmp(t);
  const f = standardRun(join(d, 'std'));
  writeFileSync(join(f, 'train.json'), '{"config": {"method": "alp",}');
  rejectsUser(() => loadRuns([f]), join(f, 'train.json'), 'malformed JSON');
  writeFileSync(join(f, 'train.json'), '[1, 2]');
  rejectsUser(() => loadRuns([f]), join(f, 'train.json'), 'expected a JSON object', 'array');
  writeFileSync(join(f, 'train.json'), '{}');
  writeFileSync(join(f, 'eval.json'), '');
  rejectsUser(() => loadRuns([f]), join(f, 'eval.json'), 'malformed JSON');
});

test('fields of the wrong type are dropped, not trusted', (t) => {
  const d = tmp(t);
  const f = join(d, 'odd');
  mkdirSync(f);
  writeFileSync(join(f, 'eval.json'), JSON.stringify({
    threat: { norm: 'linf', eps: '0.3' }, result: { cleanAccuracy: 'high', attacks: [{ name: 'x', robustAccuracy: 0.5 }, { robustAccuracy: 0.1 }, 7], worstCaseAccuracy: null },
    epsSweep: [{ eps: 0.1, robustAccuracy: 0.4 }, { eps: 'a' }],
  }));
  const [r] = loadRuns([f]);
  assert.equal(r?.eval?.threat, null);
  assert.equal(r?.eval?.cleanAccuracy, null);
  assert.deepEqual(r?.eval?.attacks.map((a) => a.name), ['x']);
  assert.deepEqual(r?.eval?.epsSweep, [{ eps: 0.1, robustAccuracy: 0.4 }]);
});

test('examples.f32: decoded little-endian, size checked against the shape; a missing file is a warning', async (t) => {
  const d = tmp(t);
  const f = fullRun(join(d, 'alp'));
  const [r] = loadRuns([f]);
  const meta = r!.audit!.adversarial!;
  const adv = readExamplesFile(f, meta);
  assert.equal(adv.length, 6 * 28 * 28);
  const ds = syntheticTest();
  // The fixture is clean ± 0.3 clipped to [0,1].
  assert.ok(Math.abs((adv[0] as number) - Math.min(1, (ds.images[0] as number) + 0.3)) < 1e-6);
  const ex = await buildExamples(r!, syntheticLoader(ds), 4);
  assert.equal(ex?.total, 6);
  assert.equal(ex?.cards.length, 4);
  assert.ok(ex?.cards.every((c) => c.hasClean && c.png.startsWith('data:image/png;base64,')));
  assert.ok(Math.abs((ex?.cards[0]?.linf ?? 0) - 0.3) < 1e-6);
  assert.deepEqual(ex?.cards.map((c) => [c.index, c.label, c.advPred]), [[0, 0, 3], [3, 3, 6], [5, 5, 8], [7, 7, 0]]);
  // Without the clean images the strips show the adversarial image alone, and say why.
  const alone = await buildExamples(r!, async () => ({ error: 'no data here' }), 2);
  assert.ok(alone?.cards.every((c) => !c.hasClean && c.linf === null));
  assert.ok(alone?.notes.some((n) => n.includes('no data here')));

  writeFileSync(join(f, 'examples.f32'), new Uint8Array(100));
  await assert.rejects(buildExamples(r!, syntheticLoader(ds), 4), (e: unknown) => e instanceof UserError && e.message.includes('examples.f32') && e.message.includes('found 100'));
  rmSync(join(f, 'examples.f32'));
  const [r2] = loadRuns([f]);
  assert.equal(r2?.audit?.adversarial, null);
  assert.ok(r2?.warnings.some((w) => w.includes('examples.f32') && w.includes('missing')));
});

test('clean images come from the data layer: the MNIST test images at the listed indices', async (t) => {
  const { loadDataset } = await import('../data/index.js');
  const mnist = loadDataset('mnist', 'test', { limit: 50 });
  const f = join(tmp(t), 'mnist-run');
  mkdirSync(f);
  writeAudit(f, mnist, [4, 17, 42]);
  const [r] = loadRuns([f]);
  const loader = dataLayerLoader();
  const ex = await buildExamples(r!, loader, 10);
  assert.deepEqual(ex?.notes, []);
  assert.deepEqual(ex?.cards.map((c) => c.label), [4, 17, 42].map((i) => mnist.labels[i]));
  for (const c of ex?.cards ?? []) {
    assert.ok(c.hasClean);
    // ±0.3 clipped to the box: the largest change is 0.3 (in float32).
    assert.ok(Math.abs((c.linf as number) - 0.3) < 1e-6, String(c.linf));
    // Three 28×28 tiles at 3× with 3 px padding.
    assert.deepEqual([c.width, c.height], [3 * 84 + 4 * 3, 84 + 2 * 3]);
  }
  // A dataset the data layer does not know is a note, not a failure.
  const odd = await loader('imagenet');
  assert.ok('error' in odd && odd.error.includes('imagenet'));
});

test('the rebuilt train command parses back to the same config', async () => {
  const { TRAIN_SPEC, configOverrides } = await import('../cli/commands/train.js');
  const { parseArgs } = await import('../cli/args.js');
  const { resolveConfig, DEFAULTS } = await import('../train/config.js');
  const known = new Set(TRAIN_SPEC.options.map((o) => o.name));
  for (const key of Object.keys(DEFAULTS)) assert.ok(trainOptionOf(key, known) !== null, `config field ${key} has no alp train option`);
  assert.equal(trainOptionOf('dataset', known), 'data');
  assert.equal(trainOptionOf('lrDecayAt', known), 'lr-decay-at');
  assert.equal(trainOptionOf('out', known), null);
  assert.equal(trainOptionOf('futureKnob', known), null);
  const config = { ...DEFAULTS, method: 'trades' as const, lr: 1e-4, lrDecayAt: [0.3, 0.6, 0.9], schedule: 'step' as const, epsRampEpochs: 0.25, beta: 3 };
  const { argv, unmapped } = trainArgv(config, 'runs/my run', null, known);
  assert.deepEqual(unmapped, []);
  assert.equal(argv[0], 'alp');
  assert.equal(argv[1], 'train');
  const p = parseArgs(argv.slice(2), TRAIN_SPEC);
  assert.equal(p['out'], 'runs/my run');
  assert.deepEqual(resolveConfig(undefined, configOverrides(p)), config);
  assert.deepEqual(trainArgv({ ...config, futureKnob: true }, 'o', 'base/model.json').unmapped, ['futureKnob']);
  // --augment's object spells back to the option.
  const augmented = { ...config, augment: { crop: 4, flip: true } };
  const a = trainArgv(augmented, 'o', null, known);
  assert.deepEqual(a.unmapped, []);
  assert.deepEqual(resolveConfig(undefined, configOverrides(parseArgs(a.argv.slice(2), TRAIN_SPEC))), augmented);
  assert.deepEqual(trainArgv(config, 'o', 'base/model.json').argv.slice(-4), ['--model', 'base/model.json', '--out', 'o']);
  // A step schedule that never decays, and the CW-margin twins, have their spellings too.
  const never = { ...config, method: 'alp' as const, lrDecayAt: [], attackLoss: 'cw' as const };
  const n = trainArgv(never, 'o', null, known);
  assert.deepEqual(n.unmapped, []);
  assert.deepEqual(resolveConfig(undefined, configOverrides(parseArgs(n.argv.slice(2), TRAIN_SPEC))), never);
});

test('the rebuilt eval command rebuilds the recorded attack suite', async (t) => {
  const { EVAL_SPEC } = await import('../cli/commands/eval.js');
  const { parseArgs } = await import('../cli/args.js');
  const { buildSuite } = await import('../eval/suite.js');
  const d = tmp(t);
  const [r] = loadRuns([fullRun(join(d, 'alp'))]);
  const argv = evalArgv(r!.eval!, 'runs/alp', 'mnist');
  assert.ok(argv !== null);
  const p = parseArgs(argv.slice(2), EVAL_SPEC);
  assert.equal(p['n'], 200);
  assert.deepEqual(p['eps-sweep'], [0, 0.1, 0.2, 0.3, 0.4]);
  const suite = buildSuite({
    threat: { norm: p['norm'] as 'linf', eps: p['eps'] as number }, attacks: p['attacks'] as AttackName[],
    steps: p['steps'] as number, restarts: p['restarts'] as number, seed: p['seed'] as number,
  });
  assert.deepEqual(suite.map((a) => a.describe()), r!.eval!.attacks.map((a) => a.config));
  // A file from before suite specs, with an attack whose options its configs do not carry: no command rather than a wrong one.
  assert.equal(evalArgv({ ...r!.eval!, attacks: [{ ...r!.eval!.attacks[0]!, config: { attack: 'square' } }] }, 'x', null), null);
  assert.deepEqual(auditArgv(r!.audit!, 'runs/alp', 'mnist'), ['alp', 'audit', '--model', 'runs/alp', '--data', 'mnist', '--n', '100', '--norm', 'linf', '--eps', '0.3', '--budget', 'quick', '--seed', '0']);
});

test('shell quoting', () => {
  assert.equal(shellQuote('runs/alp-1'), 'runs/alp-1');
  assert.equal(shellQuote('my run'), "'my run'");
  assert.equal(shellQuote("it's"), "'it'\\''s'");
  assert.equal(shellQuote(''), "''");
  assert.equal(shellQuote('$(rm -rf /)'), "'$(rm -rf /)'");
  assert.equal(TRAIN_CONFIG.method, 'alp');
});

test('numbers measured on other weights than the model beside them are flagged', async (t) => {
  const { weightsHash } = await import('../model/fingerprint.js');
  const { readFileSync } = await import('node:fs');
  const d = tmp(t);
  const folder = fullRun(join(d, 'alp'));
  writeFileSync(join(folder, 'weights.bin'), Uint8Array.from({ length: 64 }, (_, i) => i));
  const here = weightsHash(join(folder, 'model.json'));
  assert.ok(here !== null && /^[0-9a-f]{64}$/.test(here));
  const stamp = (file: string, hash: string): void => {
    const j = JSON.parse(readFileSync(join(folder, file), 'utf8')) as Record<string, unknown>;
    writeFileSync(join(folder, file), JSON.stringify({ ...j, weightsHash: hash }));
  };
  stamp('eval.json', here);
  stamp('audit.json', here);
  assert.deepEqual(loadRuns([folder])[0]!.warnings.filter((w) => w.includes('sha256')), []);
  // Retrained since: the weights change, the recorded hashes do not.
  writeFileSync(join(folder, 'weights.bin'), Uint8Array.from({ length: 64 }, (_, i) => 255 - i));
  const flagged = loadRuns([folder])[0]!.warnings.filter((w) => w.includes('sha256'));
  assert.equal(flagged.length, 2, flagged.join('\n'));
  assert.ok(flagged.some((w) => w.includes('eval.json')) && flagged.some((w) => w.includes('audit.json')));
  assert.ok(flagged.every((w) => w.includes(here.slice(0, 12)) && w.includes('not this model')));
});

test('a version-2 eval.json gives the exact command for every attack, APGD and Square included', async (t) => {
  const { EVAL_SPEC } = await import('../cli/commands/eval.js');
  const { parseArgs } = await import('../cli/args.js');
  const { buildSuite, ATTACK_NAMES } = await import('../eval/suite.js');
  const { evalArtifact } = await import('../artifacts/eval.js');
  const threat = { norm: 'l2' as const, eps: 1.5 };
  const spec = { threat, attacks: [...ATTACK_NAMES], steps: 17, restarts: 3, seed: 42, stepSize: 0.2, queries: 123, survivors: ['square'] };
  const suite = buildSuite(spec);
  const art = evalArtifact({
    model: 'runs/x', weightsHash: null, dataset: 'mnist', threat, suite: spec,
    result: {
      examples: 50, cleanAccuracy: 0.9, worstCaseAccuracy: 0.1,
      attacks: suite.map((a) => ({ name: a.name, config: a.describe(), robustAccuracy: 0.5, successRate: 0.4, maxPerturbation: 1.5, seconds: 1 })),
    },
    epsSweep: null, seconds: 1, versions: {},
  });
  const d = tmp(t);
  mkdirSync(join(d, 'run'));
  writeFileSync(join(d, 'run', 'eval.json'), JSON.stringify(art));
  const [r] = loadRuns([join(d, 'run')]);
  const argv = evalArgv(r!.eval!, 'runs/x', 'mnist');
  assert.ok(argv !== null, 'no command rebuilt');
  const p = parseArgs(argv.slice(2), EVAL_SPEC);
  const rebuilt = buildSuite({
    threat: { norm: p['norm'] as 'l2', eps: p['eps'] as number }, attacks: p['attacks'] as AttackName[], steps: p['steps'] as number,
    restarts: p['restarts'] as number, seed: p['seed'] as number, stepSize: p['step-size'] as number, queries: p['queries'] as number,
  });
  assert.deepEqual(rebuilt.map((a) => a.describe()), suite.map((a) => a.describe()));
  assert.deepEqual(p['survivors'], ['square']);
});
