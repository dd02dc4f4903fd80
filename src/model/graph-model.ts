/**
 * TF.js graph models (model.json with format 'graph-model', what `tensorflowjs_converter` writes for a
 * SavedModel or a Keras model) as ordinary tf.LayersModels, so attacks, eval, audit, workers and the
 * fingerprint need no second code path.
 *
 * The graph runs inside one layer, GraphModelLayer, through TF.js' own GraphExecutor (GraphModel.execute
 * is differentiable: input gradients flow through it exactly). The graph's Const tensors become the
 * layer's non-trainable weights, and the executor reads those same variables: so `model.save` carries
 * them to worker threads, `model.weights` (and the fingerprint over it) covers them, and nothing is
 * held twice. The layer's config holds the GraphDef and which node it fetches; a final softmax is
 * removed by fetching the Softmax's input instead.
 *
 * Browser-safe: pure tfjs, no node imports (src/browser/load.ts uses it too).
 */
import * as tf from '@tensorflow/tfjs';
import { UserError } from '../util/errors.js';

export const GRAPH_MODEL_FORMAT = 'graph-model';

interface NodeDef {
  name: string;
  op: string;
  input?: string[];
  attr?: Record<string, unknown>;
}

/** The GraphDef JSON of a graph model's modelTopology (only what alp reads; the rest is kept as is). */
export interface GraphDefJson {
  node: NodeDef[];
  versions?: Record<string, unknown>;
  library?: unknown;
  [key: string]: unknown;
}

interface WeightEntry {
  /** The Const node it feeds. */
  name: string;
  shape: number[];
  dtype: 'float32' | 'int32' | 'bool';
}

interface GraphLayerArgs {
  name?: string;
  graph: GraphDefJson;
  weightEntries: WeightEntry[];
  inputNode: string;
  outputNode: string;
  /** Without the batch dimension. */
  inputShape: number[];
  /** Without the batch dimension. */
  outputShape: number[];
  /** Where it came from, for messages. */
  source?: string;
}

/** Ops through which a softmax still reaches the output unchanged (and values pass through as they are). */
const PASS_OPS = new Set(['Identity', 'IdentityN', 'Snapshot', 'StopGradient']);
/** Ops that change only the shape: a softmax behind them is still the output's, but cannot be fetched away. */
const SHAPE_OPS = new Set(['Reshape', 'Squeeze', 'ExpandDims']);
/** Output ops whose values are logits (an affine map of something). */
const LINEAR_OPS = new Set(['MatMul', 'BatchMatMul', 'BatchMatMulV2', 'BiasAdd', 'Add', 'AddV2', 'Sub', 'Conv2D', 'Mean', 'Sum', 'Einsum']);
const ACTIVATION_OPS: Record<string, string> = {
  Softmax: 'softmax', LogSoftmax: 'logSoftmax', Sigmoid: 'sigmoid', Relu: 'relu', Relu6: 'relu6', Tanh: 'tanh', Elu: 'elu', Selu: 'selu',
};

/** `name:1` and `^name` (a control input) both refer to node `name`. */
export function nodeNameOf(input: string): string {
  const s = input.startsWith('^') ? input.slice(1) : input;
  const colon = s.lastIndexOf(':');
  return colon > 0 && /^\d+$/.test(s.slice(colon + 1)) ? s.slice(0, colon) : s;
}

function nodesByName(graph: GraphDefJson): Map<string, NodeDef> {
  return new Map(graph.node.map((n) => [n.name, n]));
}

/** The data inputs of a node (control inputs left out). */
function dataInputs(n: NodeDef): string[] {
  return (n.input ?? []).filter((i) => !i.startsWith('^'));
}

/** Every node the output depends on (data and control inputs), the output included. */
function ancestors(graph: GraphDefJson, output: string): Set<string> {
  const byName = nodesByName(graph);
  const seen = new Set<string>();
  const stack = [output];
  while (stack.length > 0) {
    const name = stack.pop() as string;
    if (seen.has(name)) continue;
    seen.add(name);
    for (const i of byName.get(name)?.input ?? []) stack.push(nodeNameOf(i));
  }
  return seen;
}

interface SoftmaxTrail {
  /** The Softmax node reaching the output, if any. */
  softmax: NodeDef | undefined;
  /** The node whose op decides what the output is (past Identity-like ops). */
  last: NodeDef | undefined;
  /** Shape ops between the softmax and the output (they block fetching the softmax's input instead). */
  shapeOps: string[];
}

function softmaxTrail(graph: GraphDefJson, output: string): SoftmaxTrail {
  const byName = nodesByName(graph);
  let n = byName.get(nodeNameOf(output));
  let last: NodeDef | undefined;
  const shapeOps: string[] = [];
  for (let guard = 0; n !== undefined && guard < graph.node.length; guard++) {
    last ??= PASS_OPS.has(n.op) ? undefined : n;
    if (n.op === 'Softmax') return { softmax: n, last: last ?? n, shapeOps };
    if (!PASS_OPS.has(n.op) && !SHAPE_OPS.has(n.op)) break;
    if (SHAPE_OPS.has(n.op)) shapeOps.push(`${n.name} (${n.op})`);
    const first = dataInputs(n)[0];
    n = first === undefined ? undefined : byName.get(nodeNameOf(first));
  }
  return { softmax: undefined, last, shapeOps };
}

/**
 * What the output node applies last, in the names lastLayerActivation uses: 'softmax' when a Softmax
 * reaches it (through Identity or reshapes), 'linear' for an affine op, the activation's name for the
 * ops in ACTIVATION_OPS, undefined when it cannot tell.
 */
export function outputActivation(graph: GraphDefJson, output: string): string | undefined {
  const t = softmaxTrail(graph, output);
  if (t.softmax !== undefined) return 'softmax';
  const last = t.last;
  if (last === undefined) return undefined;
  if (last.op === '_FusedMatMul' || last.op === '_FusedConv2D') {
    const fused = fusedOpsOf(last);
    const act = fused.find((f) => f !== 'BiasAdd');
    return act === undefined ? 'linear' : (ACTIVATION_OPS[act] ?? act.toLowerCase());
  }
  if (LINEAR_OPS.has(last.op)) return 'linear';
  return ACTIVATION_OPS[last.op];
}

/** Lower-case hex: the one string alphabet TF.js' config (de)serialisation leaves unchanged. */
function toHex(text: string): string {
  let out = '';
  for (const b of new TextEncoder().encode(text)) out += b.toString(16).padStart(2, '0');
  return out;
}

function fromHex(hex: string): string {
  const bytes = new Uint8Array(hex.length / 2);
  for (let i = 0; i < bytes.length; i++) bytes[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return new TextDecoder().decode(bytes);
}

/** What a _Fused* node fuses after its main op (BiasAdd, Relu, ...). */
function fusedOpsOf(n: NodeDef): string[] {
  return ((n.attr?.['fused_ops'] as { list?: { s?: string[] } } | undefined)?.list?.s ?? []).map(decodeAttrString);
}

/** GraphDef JSON stores string attrs base64-encoded. */
function decodeAttrString(s: string): string {
  try {
    const text = atob(s);
    return /^[\x20-\x7e]+$/.test(text) ? text : s;
  } catch {
    return s;
  }
}

function describeShape(shape: readonly (number | null)[]): string {
  return `[${shape.map((d) => (d === null || d < 0 ? '?' : String(d))).join(',')}]`;
}

function executorOf(graph: GraphDefJson, weightMap: Record<string, tf.Tensor>, source: string): tf.GraphModel {
  const g = new tf.GraphModel({} as tf.io.IOHandler);
  // loadWithWeightMap is TF.js' own last step of loading (private in its typings): it takes the
  // weights as tensors, so the executor can read the layer's variables instead of copies.
  const load = (g as unknown as { loadWithWeightMap?: (a: tf.io.ModelArtifacts, w: Record<string, tf.Tensor>) => boolean }).loadWithWeightMap;
  if (typeof load !== 'function') throw new Error(`${source}: this TF.js version has no GraphModel.loadWithWeightMap; alp needs it to run graph models`);
  const versions = graph.versions ?? {};
  load.call(g, { modelTopology: { ...graph, versions }, weightSpecs: [], weightData: new ArrayBuffer(0) }, weightMap);
  return g;
}

/** The whole graph as one layer: input node in, the chosen output node out. */
export class GraphModelLayer extends tf.layers.Layer {
  static className = 'AlpGraphModel';
  readonly graph: GraphDefJson;
  readonly weightEntries: WeightEntry[];
  readonly inputNode: string;
  outputNode: string;
  readonly graphInputShape: number[];
  readonly graphOutputShape: number[];
  readonly source: string;
  private executor: tf.GraphModel | undefined;

  constructor(args: GraphLayerArgs) {
    super({ name: args.name ?? 'graph_model', trainable: false });
    this.graph = args.graph;
    this.weightEntries = args.weightEntries;
    this.inputNode = args.inputNode;
    this.outputNode = args.outputNode;
    this.graphInputShape = args.inputShape;
    this.graphOutputShape = args.outputShape;
    this.source = args.source ?? 'graph model';
  }

  override build(): void {
    const weightMap: Record<string, tf.Tensor> = {};
    this.weightEntries.forEach((e, i) => {
      const v = this.addWeight(`const_${i}`, e.shape, e.dtype, tf.initializers.zeros(), undefined, false);
      weightMap[e.name] = v.read();
    });
    this.executor = executorOf(this.graph, weightMap, this.source);
    this.built = true;
  }

  override computeOutputShape(inputShape: tf.Shape | tf.Shape[]): tf.Shape {
    const s = (Array.isArray(inputShape[0]) || inputShape[0] === undefined ? inputShape[0] : inputShape) as tf.Shape | undefined;
    return [s?.[0] ?? null, ...this.graphOutputShape];
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    const x = Array.isArray(inputs) ? (inputs[0] as tf.Tensor) : inputs;
    if (this.executor === undefined) throw new Error(`${this.source}: the graph layer was called before it was built`);
    return this.executor.execute({ [this.inputNode]: x }, this.outputNode) as tf.Tensor;
  }

  /** The nodes the fetched output depends on (the part of the graph that runs). */
  usedNodes(): Array<{ name: string; op: string; fusedOps: string[] }> {
    const needed = ancestors(this.graph, nodeNameOf(this.outputNode));
    return this.graph.node.filter((n) => needed.has(n.name)).map((n) => ({ name: n.name, op: n.op, fusedOps: fusedOpsOf(n) }));
  }

  /** What the fetched node applies last (see outputActivation); read by lastLayerActivation. */
  get activation(): string | undefined {
    return outputActivation(this.graph, this.outputNode);
  }

  /**
   * Fetches the input of the Softmax that makes the output, so the model outputs logits. Returns false
   * when no softmax reaches the output; a UserError when one does through a reshape (its input has
   * another shape, so there is no node that holds the logits as the output is shaped).
   */
  stripSoftmax(): boolean {
    const t = softmaxTrail(this.graph, this.outputNode);
    if (t.softmax === undefined) return false;
    const logits = dataInputs(t.softmax)[0];
    if (t.shapeOps.length > 0 || logits === undefined) {
      throw new UserError(`${this.source}: the output node ${this.outputNode} reshapes the output of the Softmax ${t.softmax.name} (${t.shapeOps.join(', ')}), so alp cannot fetch the logits instead; convert the model without the softmax, or pick a node that holds logits with --output-node`);
    }
    this.outputNode = logits;
    return true;
  }

  override getConfig(): tf.serialization.ConfigDict {
    const spec: GraphLayerArgs = {
      graph: this.graph, weightEntries: this.weightEntries, inputNode: this.inputNode, outputNode: this.outputNode,
      inputShape: this.graphInputShape, outputShape: this.graphOutputShape, source: this.source,
    };
    return {
      ...super.getConfig(),
      // TF.js snake-cases every string of a config it saves and camel-cases it back on loading (node
      // names, attr keys: dense_1 → dense1); lower-case hex passes both unchanged.
      graph: toHex(JSON.stringify(spec)),
      // For lastLayerActivation and the gradient table, as for a Dense layer's activation.
      activation: this.activation ?? null,
    };
  }

  static override fromConfig<T extends tf.serialization.Serializable>(cls: tf.serialization.SerializableConstructor<T>, config: tf.serialization.ConfigDict): T {
    const spec = JSON.parse(fromHex(String(config['graph']))) as GraphLayerArgs;
    return new cls({ ...spec, name: config['name'] }) as T;
  }

  override dispose(): { refCountAfterDispose: number; numDisposedVariables: number } {
    // Not the executor's dispose: it would dispose the weight map, which is this layer's variables.
    this.executor = undefined;
    return super.dispose();
  }
}
tf.serialization.registerClass(GraphModelLayer as unknown as tf.serialization.SerializableConstructor<tf.serialization.Serializable>);

/** The graph layer inside `model` (alp's adapters may sit in front of it), if it is a graph model. */
export function graphLayerOf(model: tf.LayersModel): GraphModelLayer | undefined {
  for (const layer of model.layers) {
    if (layer instanceof GraphModelLayer) return layer;
    if (layer instanceof tf.LayersModel) {
      const inner = graphLayerOf(layer);
      if (inner !== undefined) return inner;
    }
  }
  return undefined;
}

/** True when model.json's artifacts describe a graph model (by format, or a GraphDef topology). */
export function isGraphArtifacts(a: tf.io.ModelArtifacts): boolean {
  if (a.format === GRAPH_MODEL_FORMAT) return true;
  const t = a.modelTopology as Record<string, unknown> | undefined;
  return a.format === undefined && t !== undefined && !(t instanceof ArrayBuffer) && Array.isArray(t['node']);
}

function placeholderShape(n: NodeDef, source: string): number[] {
  const attr = n.attr?.['shape'] as { shape?: { dim?: Array<{ size?: string | number }>; unknownRank?: boolean } } | undefined;
  const shape = attr?.shape;
  if (shape === undefined || shape.unknownRank === true) {
    throw new UserError(`${source}: input node ${n.name} has no known shape; alp needs the input shape (convert the model with a fixed input signature)`);
  }
  const dims = (shape.dim ?? []).map((d) => Number(d.size ?? -1));
  const rest = dims.slice(1);
  if (dims.length < 2 || rest.some((d) => !(d > 0))) {
    throw new UserError(`${source}: input node ${n.name} has shape ${describeShape(dims)}; alp needs [batch, ...] with every other dimension known (convert the model with a fixed input shape)`);
  }
  return rest;
}

function inputDtype(n: NodeDef): string {
  const t = (n.attr?.['dtype'] as { type?: string } | undefined)?.type;
  return t ?? 'DT_FLOAT';
}

export interface GraphLoadOptions {
  /** The node whose value is the logits (`--output-node`); default the graph's only output. */
  outputNode?: string;
  /** Names the model in messages (its model.json path or URL). */
  source?: string;
}

/**
 * A graph model's artifacts (as loaded from model.json and its weight shards) as a tf.LayersModel
 * taking [B, ...input shape] and returning the chosen output node. Bad graphs are UserErrors naming
 * `source`: no input or several, several outputs and no --output-node, an unknown node, a Const with
 * no weight, an op TF.js cannot run, an output that is not [batch, classes].
 */
export function graphModelFromArtifacts(a: tf.io.ModelArtifacts, o: GraphLoadOptions = {}): tf.LayersModel {
  const source = o.source ?? 'graph model';
  const graph = a.modelTopology as GraphDefJson;
  if (typeof graph !== 'object' || graph === null || !Array.isArray(graph.node)) {
    throw new UserError(`${source}: format 'graph-model': expected modelTopology.node, the GraphDef's array of nodes, found ${graph === null || typeof graph !== 'object' ? String(graph) : 'none'}`);
  }
  if (a.modelInitializer != null) {
    throw new UserError(`${source}: the graph has an initializer graph (hash tables); alp runs image and audio classifiers without one`);
  }
  graph.node.forEach((n, i) => {
    if (typeof n?.name !== 'string' || typeof n.op !== 'string') throw new UserError(`${source}: modelTopology.node[${i}]: expected an object with a string name and op`);
  });
  const byName = nodesByName(graph);
  const consumed = new Set(graph.node.flatMap((n) => (n.input ?? []).map(nodeNameOf)));
  const signatureOutputs = Object.values((a.signature as { outputs?: Record<string, { name?: string }> } | undefined)?.outputs ?? {})
    .map((e) => (typeof e?.name === 'string' ? nodeNameOf(e.name) : undefined))
    .filter((n): n is string => n !== undefined && byName.has(n));
  const outputs = signatureOutputs.length > 0
    ? [...new Set(signatureOutputs)]
    : graph.node.filter((n) => !consumed.has(n.name) && n.op !== 'Const' && n.op !== 'NoOp' && !n.op.startsWith('Placeholder')).map((n) => n.name);

  let outputNode: string;
  if (o.outputNode !== undefined) {
    if (!byName.has(nodeNameOf(o.outputNode))) {
      throw new UserError(`${source}: --output-node: no node named ${JSON.stringify(o.outputNode)} in the graph (its outputs: ${outputs.join(', ') || 'none'})`);
    }
    outputNode = o.outputNode;
  } else if (outputs.length === 1) {
    outputNode = outputs[0] as string;
  } else if (outputs.length === 0) {
    throw new UserError(`${source}: the graph has no output node; name the node that holds the logits with --output-node NAME`);
  } else {
    throw new UserError(`${source}: the graph has ${outputs.length} outputs (${outputs.slice(0, 6).join(', ')}${outputs.length > 6 ? ', …' : ''}); choose the one that gives the logits with --output-node NAME`);
  }

  const needed = ancestors(graph, nodeNameOf(outputNode));
  const placeholders = graph.node.filter((n) => n.op.startsWith('Placeholder') && needed.has(n.name));
  if (placeholders.length !== 1) {
    throw new UserError(`${source}: the output node ${outputNode} depends on ${placeholders.length} input nodes${placeholders.length > 0 ? ` (${placeholders.map((n) => n.name).join(', ')})` : ''}; alp runs models with exactly one input`);
  }
  const input = placeholders[0] as NodeDef;
  if (inputDtype(input) !== 'DT_FLOAT') {
    throw new UserError(`${source}: input node ${input.name} takes ${inputDtype(input)}; alp attacks models whose input is float (DT_FLOAT)`);
  }
  const inputShape = placeholderShape(input, source);

  // The Const nodes' values, decoded as TF.js does (quantized weights are dequantized here).
  const specs = a.weightSpecs ?? [];
  for (const s of specs) {
    if (s.dtype === 'string' || s.dtype === 'complex64') throw new UserError(`${source}: weightsManifest weight ${s.name}: dtype ${s.dtype} is not supported by alp's graph models`);
  }
  const decoded = tf.io.decodeWeights(a.weightData ?? new ArrayBuffer(0), specs);
  try {
    for (const n of graph.node) {
      if (n.op === 'Const' && needed.has(n.name) && decoded[n.name] === undefined) {
        throw new UserError(`${source}: weightsManifest: no weight for the graph's Const node ${n.name}; the manifest and the graph do not belong together`);
      }
    }
    const entries: WeightEntry[] = Object.keys(decoded)
      .filter((name) => byName.has(name))
      .map((name) => {
        const t = decoded[name] as tf.Tensor;
        return { name, shape: [...t.shape], dtype: t.dtype as WeightEntry['dtype'] };
      });

    // Run it once on zeros: an op TF.js cannot run, or an output that is not [1, classes], fails here
    // with the graph's own message instead of in the middle of an attack.
    const probe = executorOf(graph, decoded, source);
    let outShape: number[];
    try {
      const y = tf.tidy(() => probe.execute({ [input.name]: tf.zeros([1, ...inputShape]) }, outputNode) as tf.Tensor);
      outShape = [...y.shape];
      y.dispose();
    } catch (e) {
      if (e instanceof UserError) throw e;
      throw new UserError(`${source}: could not run the graph from ${input.name} to ${outputNode}: ${(e as Error).message.split('\n')[0]}`);
    }
    if (outShape.length !== 2 || outShape[0] !== 1) {
      throw new UserError(`${source}: output node ${outputNode} gives shape ${describeShape(outShape)} for one input; alp needs [batch, classes] logits (pick another node with --output-node)`);
    }

    const layer = new GraphModelLayer({ graph, weightEntries: entries, inputNode: input.name, outputNode, inputShape, outputShape: outShape.slice(1), source });
    const x = tf.input({ shape: inputShape, name: 'graph_input' });
    const model = tf.model({ inputs: x, outputs: layer.apply(x) as tf.SymbolicTensor, name: 'graph_model' });
    layer.setWeights(entries.map((e) => decoded[e.name] as tf.Tensor));
    return model;
  } finally {
    tf.dispose(Object.values(decoded));
  }
}
