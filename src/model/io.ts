/**
 * Saving and loading TF.js Layers models on the local filesystem. Pure @tensorflow/tfjs has no
 * `file://` handler in Node, so these are our own tf.io.IOHandlers.
 *
 * The on-disk layout is exactly what TF.js's own savers produce and what `tf.loadLayersModel` expects
 * over HTTP: a folder holding `model.json` (format 'layers-model', with a weightsManifest whose single
 * group points at the relative path `weights.bin`) and `weights.bin`. Serve the folder with any static
 * HTTP server and a browser loads it with `tf.loadLayersModel('https://host/dir/model.json')`.
 *
 * Loading distrusts the files: a bad model.json, a weights path that escapes the model's folder, a
 * missing shard or a byte count that disagrees with the manifest are UserErrors that name the file and
 * the field, never a crash deep inside TF.js.
 */
import { existsSync, readFileSync, realpathSync, statSync } from 'node:fs';
import { dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { writeFileAtomic, writeJsonAtomic } from '../util/atomic.js';
import { UserError } from '../util/errors.js';
import { graphLayerOf, graphModelFromArtifacts, GraphModelLayer, isGraphArtifacts } from './graph-model.js';

export const MODEL_JSON = 'model.json';
export const WEIGHTS_BIN = 'weights.bin';

type WeightSpec = tf.io.WeightsManifestEntry;
type ManifestGroup = tf.io.WeightsManifestConfig[number];

/** Bytes per stored element, by the spec's dtype (or its quantization dtype when quantized). */
const DTYPE_BYTES: Record<string, number> = {
  float32: 4,
  int32: 4,
  bool: 1,
  complex64: 8,
  uint8: 1,
  uint16: 2,
  float16: 2,
};

function describe(v: unknown): string {
  if (v === undefined) return 'nothing';
  if (v === null) return 'null';
  if (Array.isArray(v)) return `an array of length ${v.length}`;
  if (typeof v === 'string') return `the string ${JSON.stringify(v.length > 60 ? v.slice(0, 60) + '…' : v)}`;
  if (typeof v === 'object') return 'an object';
  return `${typeof v} ${String(v)}`;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** A model.json's top-level object; a missing file, a folder, bad JSON or a non-object is one UserError naming the file. */
function readModelJson(file: string): Record<string, unknown> {
  if (!existsSync(file)) throw new UserError(`${file}: no such file (expected a TF.js model.json)`);
  if (statSync(file).isDirectory()) throw new UserError(`${file}: expected a model.json file, found a folder`);
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new UserError(`${file}: expected JSON, could not parse it: ${(e as Error).message}`);
  }
  if (!isRecord(json)) throw new UserError(`${file}: expected a JSON object at the top level, found ${describe(json)}`);
  return json;
}

// ---------------------------------------------------------------------------------------------------
// Saving

/**
 * An IOHandler whose save() writes `dir/weights.bin` and then `dir/model.json`, each atomically. The
 * weights go first, so an interrupted save leaves either the previous model.json (if any) or none at
 * all, never a model.json that points at weights that were not written.
 */
export function fileSaver(dir: string): tf.io.IOHandler {
  return {
    async save(artifacts: tf.io.ModelArtifacts): Promise<tf.io.SaveResult> {
      if (existsSync(dir) && !statSync(dir).isDirectory()) {
        throw new UserError(`${dir}: expected a folder to save the model into, found a file`);
      }
      if (artifacts.modelTopology === undefined || artifacts.modelTopology === null) {
        throw new Error('fileSaver: the model artifacts carry no modelTopology');
      }
      if (artifacts.modelTopology instanceof ArrayBuffer) {
        throw new Error('fileSaver: binary model topologies (GraphDef) are not supported; save a Layers model');
      }
      const weightSpecs = artifacts.weightSpecs ?? [];
      const weightData = artifacts.weightData === undefined
        ? new ArrayBuffer(0)
        : tf.io.CompositeArrayBuffer.join(artifacts.weightData);

      const modelJson: Record<string, unknown> = {
        modelTopology: artifacts.modelTopology,
        format: artifacts.format ?? 'layers-model',
        generatedBy: artifacts.generatedBy ?? `TensorFlow.js tfjs-layers v${tf.version_layers}`,
        convertedBy: artifacts.convertedBy ?? null,
        weightsManifest: [{ paths: [WEIGHTS_BIN], weights: weightSpecs }],
      };
      if (artifacts.trainingConfig != null) modelJson['trainingConfig'] = artifacts.trainingConfig;
      if (artifacts.signature != null) modelJson['signature'] = artifacts.signature;
      if (artifacts.userDefinedMetadata != null) modelJson['userDefinedMetadata'] = artifacts.userDefinedMetadata;
      if (artifacts.modelInitializer != null) modelJson['modelInitializer'] = artifacts.modelInitializer;
      if (artifacts.initializerSignature != null) modelJson['initializerSignature'] = artifacts.initializerSignature;

      writeFileAtomic(join(dir, WEIGHTS_BIN), new Uint8Array(weightData));
      writeJsonAtomic(join(dir, MODEL_JSON), modelJson);

      return {
        modelArtifactsInfo: {
          dateSaved: new Date(),
          modelTopologyType: 'JSON',
          modelTopologyBytes: JSON.stringify(artifacts.modelTopology).length,
          weightSpecsBytes: JSON.stringify(weightSpecs).length,
          weightDataBytes: weightData.byteLength,
        },
      };
    },
  };
}

// ---------------------------------------------------------------------------------------------------
// Loading

function checkShape(file: string, field: string, shape: unknown): number[] {
  if (!Array.isArray(shape) || shape.some((d) => typeof d !== 'number' || !Number.isInteger(d) || d < 0)) {
    throw new UserError(`${file}: ${field}: expected an array of non-negative integers, found ${describe(shape)}`);
  }
  return shape as number[];
}

function checkSpec(file: string, field: string, spec: unknown): WeightSpec {
  if (!isRecord(spec)) throw new UserError(`${file}: ${field}: expected a weight spec object, found ${describe(spec)}`);
  if (typeof spec['name'] !== 'string' || spec['name'] === '') {
    throw new UserError(`${file}: ${field}.name: expected a non-empty string, found ${describe(spec['name'])}`);
  }
  checkShape(file, `${field}.shape`, spec['shape']);
  const dtype = spec['dtype'];
  if (typeof dtype !== 'string' || !['float32', 'int32', 'bool', 'complex64', 'string'].includes(dtype)) {
    throw new UserError(`${file}: ${field}.dtype: expected one of float32, int32, bool, complex64, string, found ${describe(dtype)}`);
  }
  const q = spec['quantization'];
  if (q !== undefined) {
    if (!isRecord(q) || typeof q['dtype'] !== 'string' || !['uint8', 'uint16', 'float16'].includes(q['dtype'])) {
      throw new UserError(`${file}: ${field}.quantization.dtype: expected one of uint8, uint16, float16, found ${describe(isRecord(q) ? q['dtype'] : q)}`);
    }
  }
  return spec as unknown as WeightSpec;
}

/**
 * Bytes that the specs occupy, walking `data` for string weights (each element is a little-endian
 * uint32 length followed by that many bytes). Returns undefined when a string weight runs past the end.
 */
function expectedBytes(specs: WeightSpec[], data: Uint8Array): number | undefined {
  let offset = 0;
  for (const s of specs) {
    const n = s.shape.reduce((a, b) => a * b, 1);
    if (s.dtype === 'string') {
      const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
      for (let i = 0; i < n; i++) {
        if (offset + 4 > data.byteLength) return undefined;
        offset += 4 + view.getUint32(offset, true);
      }
    } else {
      const per = DTYPE_BYTES[s.quantization?.dtype ?? s.dtype] as number;
      offset += n * per;
    }
  }
  return offset;
}

/** Resolves a manifest path against the model's folder; rejects absolute paths and escapes. */
function resolveWeightPath(file: string, field: string, modelDir: string, p: unknown): string {
  if (typeof p !== 'string' || p === '') {
    throw new UserError(`${file}: ${field}: expected a relative file path, found ${describe(p)}`);
  }
  if (isAbsolute(p) || p.startsWith('/') || p.startsWith('\\') || /^[A-Za-z]:/.test(p) || /^[A-Za-z][A-Za-z0-9+.-]*:\/\//.test(p)) {
    throw new UserError(`${file}: ${field}: expected a path relative to the model's folder, found the absolute path ${JSON.stringify(p)}`);
  }
  const full = resolve(modelDir, p);
  const rel = relative(modelDir, full);
  if (rel === '' || rel === '..' || rel.startsWith('..' + sep) || isAbsolute(rel)) {
    throw new UserError(`${file}: ${field}: expected a file inside the model's folder ${modelDir}, found ${JSON.stringify(p)}, which resolves outside it`);
  }
  return full;
}

/**
 * An IOHandler whose load() reads and validates `model.json` and its weight shards (concatenated in
 * manifest order) and returns ModelArtifacts with a single ArrayBuffer of weights.
 */
export function fileLoader(modelJsonPath: string): tf.io.IOHandler {
  return {
    async load(): Promise<tf.io.ModelArtifacts> {
      const file = modelJsonPath;
      const json = readModelJson(file);
      const topology = json['modelTopology'];
      if (topology === undefined || topology === null) {
        throw new UserError(`${file}: modelTopology: expected the model's topology object, found ${describe(topology)}`);
      }
      if (!isRecord(topology)) throw new UserError(`${file}: modelTopology: expected an object, found ${describe(topology)}`);
      const manifest = json['weightsManifest'];
      if (!Array.isArray(manifest) || manifest.length === 0) {
        throw new UserError(`${file}: weightsManifest: expected a non-empty array of weight groups, found ${describe(manifest)}`);
      }

      const modelDir = resolve(dirname(file));
      const specs: WeightSpec[] = [];
      const shards: Uint8Array[] = [];
      const groups: ManifestGroup[] = [];
      manifest.forEach((g: unknown, gi: number) => {
        const gField = `weightsManifest[${gi}]`;
        if (!isRecord(g)) throw new UserError(`${file}: ${gField}: expected an object with paths and weights, found ${describe(g)}`);
        const paths = g['paths'];
        const weights = g['weights'];
        if (!Array.isArray(paths) || paths.length === 0) {
          throw new UserError(`${file}: ${gField}.paths: expected a non-empty array of file paths, found ${describe(paths)}`);
        }
        if (!Array.isArray(weights)) {
          throw new UserError(`${file}: ${gField}.weights: expected an array of weight specs, found ${describe(weights)}`);
        }
        weights.forEach((s: unknown, si: number) => specs.push(checkSpec(file, `${gField}.weights[${si}]`, s)));
        paths.forEach((p: unknown, pi: number) => {
          const field = `${gField}.paths[${pi}]`;
          const full = resolveWeightPath(file, field, modelDir, p);
          if (!existsSync(full)) throw new UserError(`${file}: ${field}: weight file ${full} does not exist`);
          if (!statSync(full).isFile()) throw new UserError(`${file}: ${field}: expected a weight file, found a folder at ${full}`);
          // The textual check above does not see symlinks: compare real paths, so a weights.bin that
          // links to a file elsewhere (or a linked folder on the way) is refused too.
          const realDir = realpathSync(modelDir), real = realpathSync(full);
          const realRel = relative(realDir, real);
          if (realRel === '' || realRel === '..' || realRel.startsWith('..' + sep) || isAbsolute(realRel)) {
            throw new UserError(`${file}: ${field}: expected a file inside the model's folder ${realDir}, found ${JSON.stringify(p)}, a link to ${real} outside it`);
          }
          shards.push(readFileSync(real));
        });
        groups.push(g as unknown as ManifestGroup);
      });

      const total = shards.reduce((a, s) => a + s.byteLength, 0);
      const data = new Uint8Array(total);
      let off = 0;
      for (const s of shards) {
        data.set(s, off);
        off += s.byteLength;
      }
      const want = expectedBytes(specs, data);
      if (want === undefined) {
        throw new UserError(`${file}: weightsManifest: the weight files (${total} bytes) end inside a string weight; they are truncated or do not match the specs`);
      }
      if (want !== total) {
        throw new UserError(`${file}: weightsManifest: the weight specs (${specs.length} tensors) need ${want} bytes, but the weight files hold ${total} bytes`);
      }

      const artifacts: tf.io.ModelArtifacts = {
        modelTopology: topology as {},
        weightSpecs: specs,
        weightData: data.buffer,
      };
      if (typeof json['format'] === 'string') artifacts.format = json['format'];
      if (typeof json['generatedBy'] === 'string') artifacts.generatedBy = json['generatedBy'];
      if (typeof json['convertedBy'] === 'string' || json['convertedBy'] === null) artifacts.convertedBy = json['convertedBy'] as string | null;
      if (json['trainingConfig'] != null) artifacts.trainingConfig = json['trainingConfig'] as tf.io.TrainingConfig;
      if (json['signature'] != null) artifacts.signature = json['signature'] as {};
      if (json['userDefinedMetadata'] != null) {
        if (!isRecord(json['userDefinedMetadata'])) {
          throw new UserError(`${file}: userDefinedMetadata: expected an object, found ${describe(json['userDefinedMetadata'])}`);
        }
        artifacts.userDefinedMetadata = json['userDefinedMetadata'] as {};
      }
      if (json['modelInitializer'] != null) artifacts.modelInitializer = json['modelInitializer'] as {};
      if (json['initializerSignature'] != null) artifacts.initializerSignature = json['initializerSignature'] as {};
      return artifacts;
    },
  };
}

// ---------------------------------------------------------------------------------------------------
// Model-level helpers

/**
 * Saves a Layers model (without optimizer state) into `dir` as model.json + weights.bin. `metadata`
 * is merged into model.json's userDefinedMetadata; it must be JSON-serializable.
 */
export async function saveModel(model: tf.LayersModel, dir: string, metadata?: Record<string, unknown>): Promise<tf.io.SaveResult> {
  const inner = fileSaver(dir);
  if (metadata === undefined) return model.save(inner);
  try {
    JSON.stringify(metadata);
  } catch (e) {
    throw new Error(`saveModel: metadata is not JSON-serializable: ${(e as Error).message}`);
  }
  const handler: tf.io.IOHandler = {
    save: (a: tf.io.ModelArtifacts) =>
      (inner.save as NonNullable<tf.io.IOHandler['save']>)({ ...a, userDefinedMetadata: { ...(a.userDefinedMetadata ?? {}), ...(metadata as Record<string, {}>) } }),
  };
  return model.save(handler);
}

/** `path` itself if it names a file, else `path/model.json`. */
export function modelJsonPath(pathOrDir: string): string {
  if (existsSync(pathOrDir) && statSync(pathOrDir).isDirectory()) {
    const p = join(pathOrDir, MODEL_JSON);
    if (!existsSync(p)) throw new UserError(`${pathOrDir}: expected a folder holding ${MODEL_JSON}, found none`);
    return p;
  }
  if (!existsSync(pathOrDir)) throw new UserError(`${pathOrDir}: no such model file or folder (expected a model.json or a folder holding one)`);
  return pathOrDir;
}

function weightShapes(model: tf.LayersModel): Map<string, number[]> {
  const m = new Map<string, number[]>();
  for (const w of model.weights) m.set(w.originalName, w.shape.map((d) => d as number));
  return m;
}

export interface LoadModelOptions {
  /** Graph models: the node that holds the logits (`--output-node`); default the graph's only output. */
  outputNode?: string;
}

/**
 * What model.json says about the model without building it: its format, and the class and name of a
 * Layers model's topology (for run headers and train.json). Undefined fields when it does not say.
 */
export function describeModelFile(pathOrDir: string): { file: string; format: 'layers-model' | 'graph-model' | string; className?: string; name?: string } {
  const file = modelJsonPath(pathOrDir);
  const json = readModelJson(file);
  const topology = json['modelTopology'];
  const graphLike = isRecord(topology) && Array.isArray(topology['node']);
  const format = typeof json['format'] === 'string' ? json['format'] : graphLike ? 'graph-model' : 'layers-model';
  const out: { file: string; format: string; className?: string; name?: string } = { file, format };
  // Keras saves {class_name, config: {name}} either at the top or under model_config.
  const keras = isRecord(topology) ? (isRecord(topology['model_config']) ? topology['model_config'] : topology) : undefined;
  if (keras !== undefined && typeof keras['class_name'] === 'string') out.className = keras['class_name'];
  const cfg = keras !== undefined && isRecord(keras['config']) ? keras['config'] : undefined;
  if (cfg !== undefined && typeof cfg['name'] === 'string') out.name = cfg['name'];
  return out;
}

/** One line for `alp train --model` on a graph model: why it cannot be fine-tuned, and what to do. */
export function graphTrainingRefusal(file: string): string {
  return `${file}: a TF.js graph model cannot be fine-tuned (its weights are constants of the graph); convert the Keras model as a layers model instead: tensorflowjs_converter --input_format keras --output_format tfjs_layers_model model.h5 DIR, then alp train --model DIR`;
}

/**
 * Loads a model from a folder or a model.json path: a Layers model as TF.js builds it, a graph model
 * (format 'graph-model', what tensorflowjs_converter writes) as a LayersModel that runs its graph (see
 * model/graph-model.ts). Any failure while turning the files into a model (unknown layer class, weight
 * shapes that disagree with the topology, an op TF.js cannot run, ...) is a UserError that names the file.
 */
export async function loadModel(pathOrDir: string, o: LoadModelOptions = {}): Promise<tf.LayersModel> {
  const file = modelJsonPath(pathOrDir);
  const inner = fileLoader(file);
  const artifacts = await (inner.load as NonNullable<tf.io.IOHandler['load']>)();
  if (isGraphArtifacts(artifacts)) {
    try {
      return graphModelFromArtifacts(artifacts, { source: file, ...(o.outputNode !== undefined ? { outputNode: o.outputNode } : {}) });
    } catch (e) {
      if (e instanceof UserError) throw e;
      throw new UserError(`${file}: could not build a model from the graph: ${(e as Error).message.split('\n')[0]}`);
    }
  }
  if (artifacts.format !== undefined && artifacts.format !== 'layers-model') {
    throw new UserError(`${file}: format: expected 'layers-model' (a TF.js Layers model) or 'graph-model', found ${JSON.stringify(artifacts.format)}`);
  }
  if (o.outputNode !== undefined) {
    throw new UserError(`--output-node: only for graph models; ${file} is a Layers model (its output is its last layer's)`);
  }
  const specs: WeightSpec[] = artifacts.weightSpecs ?? [];
  let model: tf.LayersModel;
  try {
    model = await tf.loadLayersModel(tf.io.fromMemory(artifacts));
  } catch (e) {
    if (e instanceof UserError) throw e;
    throw new UserError(`${file}: could not build a Layers model from it: ${(e as Error).message}`);
  }
  // TF.js checks shapes itself when loading; this re-check guards against a model whose variables
  // were matched loosely, and makes the message name the weight.
  const shapes = weightShapes(model);
  specs.forEach((s, i) => {
    const got = shapes.get(s.name);
    if (got !== undefined && (got.length !== s.shape.length || got.some((d, k) => d !== s.shape[k]))) {
      model.dispose();
      throw new UserError(`${file}: weightsManifest weight ${i} (${s.name}).shape: the topology expects [${got.join(',')}], the manifest gives [${s.shape.join(',')}]`);
    }
  });
  return model;
}

const ACTIVATION_LAYERS: Record<string, string> = {
  Softmax: 'softmax',
  ReLU: 'relu',
  LeakyReLU: 'leakyrelu',
  PReLU: 'prelu',
  ELU: 'elu',
  ThresholdedReLU: 'thresholdedrelu',
};

/**
 * The activation applied by the layer that produces the model's (first) output: 'linear' for logits,
 * 'softmax' etc. otherwise, undefined when the layer has no activation of its own (Flatten, Add, ...).
 * Callers warn when it is not linear, since attacks need logits.
 */
export function lastLayerActivation(model: tf.LayersModel): string | undefined {
  const layer = model.outputLayers?.[0] ?? model.layers[model.layers.length - 1];
  if (layer === undefined) return undefined;
  if (layer instanceof tf.LayersModel) return lastLayerActivation(layer);
  if (layer instanceof GraphModelLayer) return layer.activation;
  const byClass = ACTIVATION_LAYERS[layer.getClassName()];
  if (byClass !== undefined) return byClass;
  const act = (layer.getConfig() as Record<string, unknown>)['activation'];
  return typeof act === 'string' ? act : undefined;
}


/**
 * Removes a final softmax in place so the model outputs logits, which attacks and training need (a
 * softmax saturates their gradients; `alp train` would apply a second one in its loss). Handles the
 * activation of the output layer (Dense, Conv, Activation …); a separate Softmax layer cannot be
 * rewritten and is a UserError. Returns whether anything changed.
 */
export function stripSoftmax(model: tf.LayersModel): boolean {
  if (lastLayerActivation(model) !== 'softmax') return false;
  // A graph model: fetch the Softmax's input instead of its output.
  const graph = graphLayerOf(model);
  if (graph !== undefined) return graph.stripSoftmax();
  let layer: tf.layers.Layer | undefined = model.outputLayers?.[0] ?? model.layers[model.layers.length - 1];
  while (layer instanceof tf.LayersModel) layer = layer.outputLayers?.[0] ?? layer.layers[layer.layers.length - 1];
  const holder = layer as unknown as { activation?: { getClassName(): string } };
  if (layer === undefined || holder.activation === undefined || holder.activation.getClassName() !== 'softmax') {
    throw new UserError(`${model.name}: its output comes from a separate ${layer?.getClassName() ?? 'softmax'} layer, which cannot be removed here; save the model without it (alp needs logits)`);
  }
  // The linear activation object of a throwaway layer: tfjs does not export the activation classes.
  const linear = tf.layers.activation({ activation: 'linear' }) as unknown as { activation: { getClassName(): string } };
  holder.activation = linear.activation;
  return true;
}
