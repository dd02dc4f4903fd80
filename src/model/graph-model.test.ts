import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { useBackend } from '../testing/setup.js';
import { cnnTwin, mlpTwin, writeCnnGraph, writeMlpGraph } from '../testing/graph-fixtures.js';
import { lastLayerActivation, loadModel, stripSoftmax } from './io.js';
import { graphLayerOf } from './graph-model.js';
import { modelFingerprint } from './fingerprint.js';
import { adaptModel } from './adapt.js';
import { gradientSupport, VERIFIED_GRAPH_OPS } from './gradient-support.js';
import { loadExactReplica, modelPayload } from '../parallel/replica.js';
import { UserError } from '../util/errors.js';

const tmp = mkdtempSync(join(tmpdir(), 'alp-graph-'));
process.on('exit', () => rmSync(tmp, { recursive: true, force: true }));

/** Seeded inputs in [0,1] and labels. */
function batch(n: number, seed: number): { x: tf.Tensor4D; y: tf.Tensor2D } {
  const x = tf.randomUniform([n, 28, 28, 1], 0, 1, 'float32', seed) as tf.Tensor4D;
  const y = tf.oneHot(tf.tensor1d(Array.from({ length: n }, (_, i) => (i * 7 + seed) % 10), 'int32'), 10).toFloat() as tf.Tensor2D;
  return { x, y };
}

const maxAbs = (a: tf.Tensor, b: tf.Tensor): number => tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0] as number);
const inputGrad = (m: tf.LayersModel, x: tf.Tensor, y: tf.Tensor): tf.Tensor => tf.grad((z: tf.Tensor) => tf.losses.softmaxCrossEntropy(y, m.apply(z) as tf.Tensor))(x);

type Kind = 'mlp' | 'cnn' | 'fused-cnn';
async function twins(kind: Kind, seed = 1): Promise<{ twin: tf.LayersModel; graph: tf.LayersModel; dir: string }> {
  const twin = kind === 'mlp' ? mlpTwin(seed) : cnnTwin(seed);
  const dir = join(tmp, `${kind}-${seed}`);
  if (kind === 'mlp') writeMlpGraph(twin, dir);
  else writeCnnGraph(twin, dir, { fused: kind === 'fused-cnn' });
  return { twin, graph: await loadModel(dir), dir };
}

for (const kind of ['mlp', 'cnn', 'fused-cnn'] as const) {
  test(`graph model (${kind}): same probabilities, logits after stripping, and input gradients as its layers twin`, async () => {
    await useBackend();
    const { twin, graph } = await twins(kind);
    const { x, y } = batch(6, 3);
    assert.equal(lastLayerActivation(graph), 'softmax');
    assert.ok(maxAbs(twin.predict(x) as tf.Tensor, graph.predict(x) as tf.Tensor) < 1e-6);
    assert.equal(stripSoftmax(graph), true);
    assert.equal(stripSoftmax(twin), true);
    assert.equal(lastLayerActivation(graph), 'linear');
    assert.match(graphLayerOf(graph)?.outputNode ?? '', /BiasAdd$/);
    assert.ok(maxAbs(twin.predict(x) as tf.Tensor, graph.predict(x) as tf.Tensor) < 1e-5);
    const gt = inputGrad(twin, x, y), gg = inputGrad(graph, x, y);
    const scale = tf.max(tf.abs(gt)).dataSync()[0] as number;
    assert.ok(scale > 1e-4, 'the gradient is not trivially zero');
    assert.ok(maxAbs(gt, gg) <= 1e-6 + 1e-5 * scale, `gradients differ by ${maxAbs(gt, gg)}`);
    // Against central finite differences on a few pixels, in float64-free terms: a loose tolerance.
    const loss = (z: tf.Tensor): number => tf.tidy(() => tf.losses.softmaxCrossEntropy(y, graph.apply(z) as tf.Tensor).dataSync()[0] as number);
    const g = gg.dataSync();
    const base = x.dataSync();
    const order = Array.from(g.keys()).sort((a, b) => Math.abs(g[b] as number) - Math.abs(g[a] as number)).slice(0, 4);
    for (const i of order) {
      const h = 1e-2;
      const plus = Float32Array.from(base), minus = Float32Array.from(base);
      plus[i] = (plus[i] as number) + h;
      minus[i] = (minus[i] as number) - h;
      const fd = (loss(tf.tensor(plus, x.shape)) - loss(tf.tensor(minus, x.shape))) / (2 * h);
      assert.ok(Math.abs(fd - (g[i] as number)) <= 0.05 * Math.abs(g[i] as number) + 1e-4, `pixel ${i}: finite difference ${fd}, gradient ${g[i]}`);
    }
    tf.dispose([x, y, gt, gg]);
  });
}

test('graph models: every op the gradient table calls verified is in a checked fixture, and the fixtures are verified', async () => {
  await useBackend();
  const ops = new Set<string>();
  for (const kind of ['mlp', 'cnn', 'fused-cnn'] as const) {
    const { graph } = await twins(kind, 2);
    for (const n of graphLayerOf(graph)?.usedNodes() ?? []) ops.add(n.op);
    const support = gradientSupport(graph);
    assert.deepEqual(support.map((s) => s.status), ['verified'], JSON.stringify(support));
  }
  for (const op of VERIFIED_GRAPH_OPS) assert.ok(ops.has(op), `${op} is listed as verified but no fixture uses it`);
  // An op outside the table runs, but is reported unverified (a warning, and an audit finding).
  const dir = join(tmp, 'relu6');
  writeCnnGraph(cnnTwin(1), dir, { renameOp: ['Relu', 'Relu6'] });
  const support = gradientSupport(await loadModel(dir));
  assert.deepEqual(support.map((s) => [s.status, s.note]), [['unverified', 'graph op Relu6 (node sequential/conv2d/Relu) has no gradient check']]);
});

test('graph models: the fingerprint covers the graph weights; a worker replica computes the same logits', async () => {
  await useBackend();
  const a = await twins('mlp', 4);
  const other = await twins('mlp', 5);
  // Same object (TF.js names variables uniquely per process): only the values, then only the fetched node, change.
  const layer = graphLayerOf(a.graph) as NonNullable<ReturnType<typeof graphLayerOf>>;
  const before = modelFingerprint(a.graph);
  const saved = layer.getWeights().map((w) => w.clone());
  const nudged = saved.map((w, i) => (i === 3 ? tf.tidy(() => w.add(tf.scalar(1e-6))) : w));
  layer.setWeights(nudged);
  const afterWeights = modelFingerprint(a.graph);
  assert.notEqual(afterWeights, before, 'a changed graph weight changes the fingerprint');
  layer.setWeights(saved);
  assert.equal(modelFingerprint(a.graph), before);
  stripSoftmax(a.graph);
  assert.notEqual(modelFingerprint(a.graph), before, 'fetching another node changes the fingerprint');

  // Workers get the model as model.save writes it; the graph layer must come back whole, stripped and adapted.
  stripSoftmax(other.graph);
  const adapted = adaptModel(other.graph, [28, 28, 1], { inputRange: [-1, 1] }).model;
  const replica = await loadExactReplica(await modelPayload(adapted));
  const { x } = batch(4, 9);
  assert.equal(maxAbs(adapted.predict(x) as tf.Tensor, replica.predict(x) as tf.Tensor), 0);
  assert.equal(lastLayerActivation(replica), 'linear');
  tf.dispose(x);
});

test('graph models: --output-node picks among several outputs; bad graphs are one UserError naming the file', async () => {
  await useBackend();
  const twin = mlpTwin(6);
  const two = join(tmp, 'two');
  writeMlpGraph(twin, two, { twoOutputs: true });
  await assert.rejects(loadModel(two), (e: Error) => e instanceof UserError && /the graph has 2 outputs \(Identity, Identity_1\); choose the one that gives the logits with --output-node NAME/.test(e.message));
  const logits = await loadModel(two, { outputNode: 'Identity_1' });
  assert.equal(lastLayerActivation(logits), 'linear');
  const probs = await loadModel(two, { outputNode: 'Identity' });
  assert.equal(lastLayerActivation(probs), 'softmax');
  const { x } = batch(3, 1);
  assert.ok(maxAbs(tf.softmax(logits.predict(x) as tf.Tensor), probs.predict(x) as tf.Tensor) < 1e-6);
  await assert.rejects(loadModel(two, { outputNode: 'nope' }), /--output-node: no node named "nope" in the graph/);

  const unknown = join(tmp, 'unknown-op');
  writeMlpGraph(twin, unknown, { renameOp: ['_FusedMatMul', 'FancyMatMul'] });
  await assert.rejects(loadModel(unknown), (e: Error) => e instanceof UserError && /could not run the graph from input_1 to Identity: .*FancyMatMul/.test(e.message));

  const reshaped = join(tmp, 'reshaped');
  writeMlpGraph(twin, reshaped, { reshapeOutput: true });
  const r = await loadModel(reshaped);
  assert.equal(lastLayerActivation(r), 'softmax');
  assert.throws(() => stripSoftmax(r), /the output node Identity reshapes the output of the Softmax sequential\/dense_1\/Softmax \(reshape\/Reshape \(Reshape\)\), so alp cannot fetch the logits instead/);

  const dropped = join(tmp, 'dropped');
  writeMlpGraph(twin, dropped, { dropWeight: 'sequential/dense_1/MatMul/ReadVariableOp' });
  await assert.rejects(loadModel(dropped), /no weight for the graph's Const node sequential\/dense_1\/MatMul\/ReadVariableOp/);

  const noShape = join(tmp, 'unknown-dims');
  writeMlpGraph(twin, noShape, { inputShape: [-1, -1, 28, 1] });
  await assert.rejects(loadModel(noShape), /input node input_1 has shape \[\?,\?,28,1\]; alp needs \[batch, \.\.\.\] with every other dimension known/);

  // A flat input the data cannot be reshaped to: adaptModel's one line, as for layers models.
  const flat = join(tmp, 'flat');
  writeMlpGraph(twin, flat, { inputShape: [-1, 784] });
  const flatModel = await loadModel(flat);
  assert.doesNotThrow(() => adaptModel(flatModel, [28, 28, 1]));
  assert.throws(() => adaptModel(flatModel, [32, 32, 3], { source: flat }), /model input shape \[784\] does not match the data inputs \[32,32,3\]/);
  tf.dispose(x);
});
