/**
 * Graph-model fixtures written by hand (no tensorflowjs_converter offline): a small MLP and a small CNN
 * as GraphDef JSON with their Const weights in a weights manifest, each beside its twin Layers model
 * with the same weights. The graphs use what the converter writes: Placeholder, Const, MatMul,
 * _FusedMatMul and _FusedConv2D (BiasAdd+Relu fused in, as the converter's optimiser does), BiasAdd,
 * Relu, Conv2D, MaxPool, Reshape, Softmax and an Identity output. Not part of the public API.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { saveModel } from '../model/io.js';

interface Node { name: string; op: string; input?: string[]; attr?: Record<string, unknown> }
type Weight = { name: string; value: tf.Tensor };

const FLOAT = { type: 'DT_FLOAT' };
const b64 = (s: string): string => Buffer.from(s, 'utf8').toString('base64');
const dims = (shape: number[]): { dim: Array<{ size: string }> } => ({ dim: shape.map((d) => ({ size: String(d) })) });

function placeholder(name: string, shape: number[]): Node {
  return { name, op: 'Placeholder', attr: { dtype: FLOAT, shape: { shape: dims(shape) } } };
}
function constNode(name: string, t: tf.Tensor): Node {
  const dtype = t.dtype === 'int32' ? 'DT_INT32' : 'DT_FLOAT';
  return { name, op: 'Const', attr: { value: { tensor: { dtype, tensorShape: dims([...t.shape]) } }, dtype: { type: dtype } } };
}
const op = (name: string, o: string, input: string[], attr: Record<string, unknown> = {}): Node => ({ name, op: o, input, attr: { T: FLOAT, ...attr } });

export interface GraphFixtureOptions {
  /** Also expose the logits as a second output (a graph with two outputs). */
  twoOutputs?: boolean;
  /** Replace this op name by another (e.g. an op TF.js does not know). */
  renameOp?: [from: string, to: string];
  /** Leave this Const's weight out of the manifest. */
  dropWeight?: string;
  /** The Placeholder's shape, batch included (default: the twin's). */
  inputShape?: number[];
  /** MLP: the output is Reshape(Softmax(logits)), a softmax that cannot be fetched away. */
  reshapeOutput?: boolean;
  /** CNN: Conv2D+BiasAdd+Relu as one _FusedConv2D node, as the converter's optimiser writes it. */
  fused?: boolean;
}

/** Writes model.json and one weight shard for `nodes` and `weights` into `dir`. */
function writeGraph(dir: string, nodes: Node[], weights: Weight[], o: GraphFixtureOptions): void {
  mkdirSync(dir, { recursive: true });
  const kept = weights.filter((w) => w.name !== o.dropWeight);
  const bytes = kept.map((w) => {
    const d = w.value.dataSync();
    return new Uint8Array(d.buffer.slice(d.byteOffset, d.byteOffset + d.byteLength) as ArrayBuffer);
  });
  const shard = 'group1-shard1of1.bin';
  writeFileSync(join(dir, shard), Buffer.concat(bytes));
  const renamed = o.renameOp === undefined ? nodes : nodes.map((n) => (n.op === o.renameOp?.[0] ? { ...n, op: o.renameOp[1] } : n));
  const modelJson = {
    format: 'graph-model',
    generatedBy: '2.15.0',
    convertedBy: 'alp test fixture (hand-written, in the layout of TensorFlow.js Converter v4)',
    modelTopology: { node: renamed, library: {}, versions: { producer: 1482 } },
    weightsManifest: [{ paths: [shard], weights: kept.map((w) => ({ name: w.name, shape: [...w.value.shape], dtype: w.value.dtype })) }],
  };
  writeFileSync(join(dir, 'model.json'), JSON.stringify(modelJson));
}

/** The MLP: Flatten → Dense(16, relu) → Dense(10, softmax), for [28,28,1] inputs (or `inputShape`). */
export function mlpTwin(seed = 1, inputShape: [number, number, number] = [28, 28, 1]): tf.LayersModel {
  return tf.sequential({
    name: 'mlp_twin',
    layers: [
      tf.layers.flatten({ inputShape }),
      tf.layers.dense({ units: 16, activation: 'relu', kernelInitializer: tf.initializers.glorotUniform({ seed }) }),
      tf.layers.dense({ units: 10, activation: 'softmax', kernelInitializer: tf.initializers.glorotUniform({ seed: seed + 1 }) }),
    ],
  });
}

/** The CNN: Conv2D(4, 3x3, relu) → MaxPooling2D(2) → Flatten → Dense(10, softmax), for [28,28,1] inputs. */
export function cnnTwin(seed = 1): tf.LayersModel {
  return tf.sequential({
    name: 'cnn_twin',
    layers: [
      tf.layers.conv2d({ inputShape: [28, 28, 1], filters: 4, kernelSize: 3, activation: 'relu', kernelInitializer: tf.initializers.glorotUniform({ seed }) }),
      tf.layers.maxPooling2d({ poolSize: 2 }),
      tf.layers.flatten(),
      tf.layers.dense({ units: 10, activation: 'softmax', kernelInitializer: tf.initializers.glorotUniform({ seed: seed + 1 }) }),
    ],
  });
}

/** Writes `mlp` (made by mlpTwin) as a graph model into `dir`, the way the converter lays one out. */
export function writeMlpGraph(mlp: tf.LayersModel, dir: string, o: GraphFixtureOptions = {}): void {
  const [k1, b1, k2, b2] = mlp.getWeights() as [tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor];
  const shape = tf.tensor1d([-1, k1.shape[0] as number], 'int32');
  const weights: Weight[] = [
    { name: 'sequential/flatten/Const', value: shape },
    { name: 'sequential/dense/MatMul/ReadVariableOp', value: k1 },
    { name: 'sequential/dense/BiasAdd/ReadVariableOp', value: b1 },
    { name: 'sequential/dense_1/MatMul/ReadVariableOp', value: k2 },
    { name: 'sequential/dense_1/BiasAdd/ReadVariableOp', value: b2 },
  ];
  const outShape = tf.tensor1d([-1, 10], 'int32');
  if (o.reshapeOutput === true) weights.push({ name: 'reshape/shape', value: outShape });
  const nodes: Node[] = [
    placeholder('input_1', o.inputShape ?? [-1, ...(mlp.inputs[0]?.shape.slice(1) as number[])]),
    ...weights.map((w) => constNode(w.name, w.value)),
    op('sequential/flatten/Reshape', 'Reshape', ['input_1', 'sequential/flatten/Const'], { Tshape: { type: 'DT_INT32' } }),
    op('sequential/dense/Relu', '_FusedMatMul', ['sequential/flatten/Reshape', 'sequential/dense/MatMul/ReadVariableOp', 'sequential/dense/BiasAdd/ReadVariableOp'], {
      num_args: { i: '1' }, epsilon: { f: 0 }, fused_ops: { list: { s: [b64('BiasAdd'), b64('Relu')] } }, transpose_a: { b: false }, transpose_b: { b: false },
    }),
    op('sequential/dense_1/MatMul', 'MatMul', ['sequential/dense/Relu', 'sequential/dense_1/MatMul/ReadVariableOp'], { transpose_a: { b: false }, transpose_b: { b: false } }),
    op('sequential/dense_1/BiasAdd', 'BiasAdd', ['sequential/dense_1/MatMul', 'sequential/dense_1/BiasAdd/ReadVariableOp'], { data_format: { s: b64('NHWC') } }),
    op('sequential/dense_1/Softmax', 'Softmax', ['sequential/dense_1/BiasAdd']),
    ...(o.reshapeOutput === true
      ? [op('reshape/Reshape', 'Reshape', ['sequential/dense_1/Softmax', 'reshape/shape'], { Tshape: { type: 'DT_INT32' } }), op('Identity', 'Identity', ['reshape/Reshape'])]
      : [op('Identity', 'Identity', ['sequential/dense_1/Softmax'])]),
    ...(o.twoOutputs === true ? [op('Identity_1', 'Identity', ['sequential/dense_1/BiasAdd'])] : []),
  ];
  writeGraph(dir, nodes, weights, o);
  tf.dispose([shape, outShape]);
}

/** Writes `cnn` (made by cnnTwin) as a graph model into `dir`. */
export function writeCnnGraph(cnn: tf.LayersModel, dir: string, o: GraphFixtureOptions = {}): void {
  const [k1, b1, k2, b2] = cnn.getWeights() as [tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor];
  const flat = k2.shape[0] as number;
  const shape = tf.tensor1d([-1, flat], 'int32');
  const weights: Weight[] = [
    { name: 'sequential/conv2d/Conv2D/ReadVariableOp', value: k1 },
    { name: 'sequential/conv2d/BiasAdd/ReadVariableOp', value: b1 },
    { name: 'sequential/flatten/Const', value: shape },
    { name: 'sequential/dense/MatMul/ReadVariableOp', value: k2 },
    { name: 'sequential/dense/BiasAdd/ReadVariableOp', value: b2 },
  ];
  const ones = { list: { i: ['1', '1', '1', '1'] } };
  const nodes: Node[] = [
    placeholder('input_1', o.inputShape ?? [-1, 28, 28, 1]),
    ...weights.map((w) => constNode(w.name, w.value)),
    ...(o.fused === true
      ? [op('sequential/conv2d/Relu', '_FusedConv2D', ['input_1', 'sequential/conv2d/Conv2D/ReadVariableOp', 'sequential/conv2d/BiasAdd/ReadVariableOp'], {
        strides: ones, dilations: ones, padding: { s: b64('VALID') }, data_format: { s: b64('NHWC') }, use_cudnn_on_gpu: { b: true }, explicit_paddings: { list: {} },
        num_args: { i: '1' }, epsilon: { f: 0 }, leakyrelu_alpha: { f: 0.2 }, fused_ops: { list: { s: [b64('BiasAdd'), b64('Relu')] } },
      })]
      : [
        op('sequential/conv2d/Conv2D', 'Conv2D', ['input_1', 'sequential/conv2d/Conv2D/ReadVariableOp'], {
          strides: ones, dilations: ones, padding: { s: b64('VALID') }, data_format: { s: b64('NHWC') }, use_cudnn_on_gpu: { b: true }, explicit_paddings: { list: {} },
        }),
        op('sequential/conv2d/BiasAdd', 'BiasAdd', ['sequential/conv2d/Conv2D', 'sequential/conv2d/BiasAdd/ReadVariableOp'], { data_format: { s: b64('NHWC') } }),
        op('sequential/conv2d/Relu', 'Relu', ['sequential/conv2d/BiasAdd']),
      ]),
    op('sequential/max_pooling2d/MaxPool', 'MaxPool', ['sequential/conv2d/Relu'], {
      ksize: { list: { i: ['1', '2', '2', '1'] } }, strides: { list: { i: ['1', '2', '2', '1'] } }, padding: { s: b64('VALID') }, data_format: { s: b64('NHWC') },
    }),
    op('sequential/flatten/Reshape', 'Reshape', ['sequential/max_pooling2d/MaxPool', 'sequential/flatten/Const'], { Tshape: { type: 'DT_INT32' } }),
    op('sequential/dense/MatMul', 'MatMul', ['sequential/flatten/Reshape', 'sequential/dense/MatMul/ReadVariableOp'], { transpose_a: { b: false }, transpose_b: { b: false } }),
    op('sequential/dense/BiasAdd', 'BiasAdd', ['sequential/dense/MatMul', 'sequential/dense/BiasAdd/ReadVariableOp'], { data_format: { s: b64('NHWC') } }),
    op('sequential/dense/Softmax', 'Softmax', ['sequential/dense/BiasAdd']),
    op('Identity', 'Identity', ['sequential/dense/Softmax']),
    ...(o.twoOutputs === true ? [op('Identity_1', 'Identity', ['sequential/dense/BiasAdd'])] : []),
  ];
  writeGraph(dir, nodes, weights, o);
  shape.dispose();
}

/**
 * Trains `twin` briefly on `x`/`y` (so accuracies and attack results mean something), then saves it as
 * a Layers model into `layersDir` and as a graph model into `graphDir`.
 */
export async function writeTwins(twin: tf.LayersModel, kind: 'mlp' | 'cnn', x: tf.Tensor, y: tf.Tensor, layersDir: string, graphDir: string, o: GraphFixtureOptions = {}): Promise<void> {
  twin.compile({ optimizer: tf.train.adam(0.01), loss: 'sparseCategoricalCrossentropy' });
  await twin.fit(x, y, { epochs: 3, batchSize: 64, shuffle: false, verbose: 0 });
  await saveModel(twin, layersDir);
  if (kind === 'mlp') writeMlpGraph(twin, graphDir, o);
  else writeCnnGraph(twin, graphDir, o);
}
