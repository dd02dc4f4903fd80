import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { useBackend } from '../testing/setup.js';
import { assertRejectsUserError, assertUserError, runAlp } from '../testing/cli.js';
import { cnnTwin, mlpTwin, writeMlpGraph, writeTwins } from '../testing/graph-fixtures.js';
import { loadDataset, subset } from '../data/index.js';
import { openModel } from './common.js';

const tmp = mkdtempSync(join(tmpdir(), 'alp-graph-cli-'));
process.on('exit', () => rmSync(tmp, { recursive: true, force: true }));
const dir = (name: string): string => join(tmp, name);

interface EvalJson { model: string; result: { cleanAccuracy: number; attacks: Array<{ name: string; robustAccuracy: number; successRate: number | null }> }; warnings?: string[] }

/** Briefly trained twins (a layers model and the same weights as a graph model), so attacks have work to do. */
before(async () => {
  await useBackend();
  const ds = subset(loadDataset('mnist', 'train'), 0, 512);
  const x = tf.tensor4d(ds.images, [ds.count, 28, 28, 1]);
  const y = tf.tensor1d(Array.from(ds.labels), 'float32');
  await writeTwins(mlpTwin(1), 'mlp', x, y, dir('mlp-layers'), dir('mlp-graph'));
  await writeTwins(cnnTwin(1), 'cnn', x, y, dir('cnn-layers'), dir('cnn-graph'));
  writeMlpGraph(mlpTwin(3), dir('two-outputs'), { twoOutputs: true });
  tf.dispose([x, y]);
});

const EVAL = ['--n', '24', '--eps', '0.1', '--attacks', 'fgsm,pgd-ce,apgd-dlr,square', '--queries', '40', '--steps', '5', '--restarts', '2', '--seed', '7', '--json'];

function evalOf(model: string, out: string, extra: string[] = []): EvalJson {
  const r = runAlp(['eval', '--model', model, ...EVAL, '--out', out, ...extra]);
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout) as EvalJson;
}

const numbers = (e: EvalJson): unknown => ({ clean: e.result.cleanAccuracy, attacks: e.result.attacks.map((a) => [a.name, a.robustAccuracy, a.successRate]) });

test('alp eval: a graph model gives the same numbers as its layers twin (softmax stripped; MLP in-thread, CNN on 2 workers)', () => {
  const lm = evalOf(dir('mlp-layers'), dir('mlp-l.json'), ['--strip-softmax']);
  const gm = evalOf(join(dir('mlp-graph'), 'model.json'), dir('mlp-g.json'), ['--strip-softmax']);
  assert.deepEqual(numbers(gm), numbers(lm));
  assert.ok(lm.result.cleanAccuracy > 0.5, `the twin learnt something (clean ${lm.result.cleanAccuracy})`);
  assert.ok(gm.result.attacks.some((a) => a.robustAccuracy < gm.result.cleanAccuracy), 'the attacks found something');
  assert.match(gm.warnings?.[0] ?? '', /removed the final softmax \(--strip-softmax\)/);
  assert.equal((gm.warnings ?? []).length, 1, 'no unverified-gradient warning for the fixture ops');

  const lc = evalOf(dir('cnn-layers'), dir('cnn-l.json'), ['--strip-softmax', '--workers', '1']);
  const gc = evalOf(dir('cnn-graph'), dir('cnn-g.json'), ['--strip-softmax', '--workers', '2']);
  assert.deepEqual(numbers(gc), numbers(lc));
});

test('alp eval on a graph model without --strip-softmax warns as for a layers model; --output-node picks the logits', () => {
  const r = runAlp(['eval', '--model', dir('mlp-graph'), '--n', '8', '--attacks', 'fgsm', '--out', dir('w.json'), '--json']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /warning: .*the last layer applies 'softmax'; alp expects logits.*--strip-softmax/);
  const o = runAlp(['eval', '--model', dir('two-outputs'), '--output-node', 'Identity_1', '--n', '8', '--attacks', 'fgsm', '--out', dir('o.json'), '--json']);
  assert.equal(o.code, 0, o.stderr);
  assert.doesNotMatch(o.stderr, /softmax/);
});

test('graph models in attack, audit, detect, report and the playground', () => {
  const g = dir('cnn-graph');
  const a = runAlp(['attack', '--model', g, '--n', '8', '--steps', '3', '--eps', '0.1', '--strip-softmax', '--out', dir('attack'), '--quiet']);
  assert.equal(a.code, 0, a.stderr);
  const au = runAlp(['audit', '--model', g, '--n', '8', '--budget', 'quick', '--eps', '0.1', '--strip-softmax', '--out', dir('audit'), '--json']);
  assert.equal(au.code, 0, au.stderr);
  const audit = JSON.parse(au.stdout) as { findings: Array<{ id?: string; title?: string; status: string }> };
  const grad = audit.findings.find((f) => /gradient is verified/i.test(f.title ?? ''));
  assert.equal(grad?.status, 'pass', JSON.stringify(audit.findings.map((f) => [f.title, f.status])));
  const c = runAlp(['detect', 'calibrate', '--model', g, '--detector', 'margin', '--calib-n', '32', '--quiet']);
  assert.equal(c.code, 0, c.stderr);
  const d = runAlp(['detect', '--model', g, join(dir('attack'), 'adversarial.f32'), '--json']);
  assert.equal(d.code, 0, d.stderr);
  assert.equal((JSON.parse(d.stdout) as { results: unknown[] }).results.length, 8);
  const e = runAlp(['eval', '--model', g, '--n', '8', '--attacks', 'fgsm', '--strip-softmax', '--quiet']);
  assert.equal(e.code, 0, e.stderr);
  const rep = runAlp(['report', g, '--out', dir('report.html'), '--quiet']);
  assert.equal(rep.code, 0, rep.stderr);
  assert.match(readFileSync(dir('report.html'), 'utf8'), /cnn-graph/);
  // The playground ships the graph's files and tells the page which node gives the logits.
  const pg = runAlp(['playground', dir('two-outputs'), '--data', 'mnist', '--samples', '4', '--output-node', 'Identity_1', '--export', dir('site'), '--quiet']);
  assert.equal(pg.code, 0, pg.stderr);
  const manifest = JSON.parse(readFileSync(join(dir('site'), 'playground.json'), 'utf8')) as { models: Array<{ url: string; outputNode?: string }> };
  assert.deepEqual(manifest.models.map((m) => [m.url, m.outputNode]), [['models/two-outputs/model.json', 'Identity_1']]);
  assert.ok(readFileSync(join(dir('site'), 'models', 'two-outputs', 'group1-shard1of1.bin')).length > 0);
});

test('bad graph models: one line naming the problem, exit 2', async () => {
  const base = ['--n', '8', '--attacks', 'fgsm', '--quiet'];
  // Real processes: a graph error from loading, and one from fitting the data.
  assertUserError(['eval', '--model', dir('two-outputs'), ...base], /the graph has 2 outputs \(Identity, Identity_1\); choose the one that gives the logits with --output-node NAME/);
  const wrong = dir('wrong-input');
  writeMlpGraph(mlpTwin(1, [30, 30, 1]), wrong, { twoOutputs: true });
  assertUserError(['eval', '--model', wrong, '--output-node', 'Identity_1', ...base], /model input shape \[30,30,1\] does not match mnist inputs \[28,28,1\] \(nor their 784 values flattened\)/);

  // The same path in-process (openModel is what alp eval --model calls) for the other problems.
  await assertRejectsUserError(openModel(dir('two-outputs'), true, false, 'Nope'), /--output-node: no node named "Nope"/);
  await assertRejectsUserError(openModel(dir('mlp-layers'), true, false, 'Identity'), /--output-node: only for graph models; .* is a Layers model/);

  const unknown = dir('unknown-op');
  writeMlpGraph(mlpTwin(1), unknown, { renameOp: ['Softmax', 'Softmaxx'] });
  await assertRejectsUserError(openModel(unknown, true), /model\.json: could not run the graph from input_1 to Identity: .*Softmaxx/);

  const missing = dir('missing-weights');
  writeMlpGraph(mlpTwin(1), missing);
  unlinkSync(join(missing, 'group1-shard1of1.bin'));
  await assertRejectsUserError(openModel(missing, true), /weightsManifest\[0\]\.paths\[0\]: weight file .*group1-shard1of1\.bin does not exist/);

  // A graph that cannot run as written: its reshape does not fit its input.
  const broken = dir('broken-reshape');
  writeMlpGraph(mlpTwin(1), broken, { inputShape: [-1, 30, 30, 1] });
  await assertRejectsUserError(openModel(broken, true), /could not run the graph from input_1 to Identity: The implicit shape can't be a fractional number/);
});

test('alp train --model on a graph model is refused in one line saying why and what to do instead', () => {
  assertUserError(['train', '--method', 'standard', '--model', dir('mlp-graph'), '--epochs', '1', '--train-size', '64', '--out', dir('t-graph')],
    /a TF\.js graph model cannot be fine-tuned \(its weights are constants of the graph\); convert the Keras model as a layers model instead: tensorflowjs_converter --input_format keras --output_format tfjs_layers_model/);
});

test('alp train --model: the header and train.json name the user\'s model, not a built-in architecture', () => {
  const out = dir('tuned');
  const t = runAlp(['train', '--method', 'standard', '--model', dir('mlp-layers'), '--epochs', '1', '--train-size', '64', '--val-size', '0', '--out', out, '--workers', '1']);
  assert.equal(t.code, 0, t.stderr);
  const header = t.stderr.split('\n').find((l) => l.startsWith('alp train:')) ?? '';
  assert.match(header, new RegExp(`standard on mnist, ${dir('mlp-layers').replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} \\(Sequential 'mlp_twin'\\),`));
  assert.doesNotMatch(header, /fast-cnn/);
  const tj = JSON.parse(readFileSync(join(out, 'train.json'), 'utf8')) as { config: Record<string, unknown>; model: Record<string, unknown> };
  assert.equal(tj.config['arch'], undefined);
  assert.deepEqual(tj.model, { source: 'file', path: dir('mlp-layers'), format: 'layers-model', className: 'Sequential', name: 'mlp_twin' });
  const meta = JSON.parse(readFileSync(join(out, 'model.json'), 'utf8')) as { userDefinedMetadata: { alp: { config: Record<string, unknown> } } };
  assert.equal(meta.userDefinedMetadata.alp.config['arch'], undefined);
  // The report names it too.
  const rep = runAlp(['report', out, '--out', dir('tuned.html'), '--quiet']);
  assert.equal(rep.code, 0, rep.stderr);
  assert.match(readFileSync(dir('tuned.html'), 'utf8'), /Sequential &#39;mlp_twin&#39;|Sequential 'mlp_twin'/);
});
