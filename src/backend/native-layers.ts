/**
 * From a tfjs-layers model to the native network's steps: which layers and options are covered
 * (docs/native-network.md), each layer call translated into its steps, and the reason, by layer class
 * and name, for anything that keeps a model on TF.js.
 */
import * as tf from '@tensorflow/tfjs';
import type { NativeApi } from './native-kernels.js';
import { ACTIVATIONS, type Activation } from './native-activations.js';
import { activationStep, addStep, concatStep, identityStep, multiplyStep, rescaleStep, sizeOf, Weight, zeroPadStep, type BnLayer, type Shape, type Step } from './native-steps.js';
import { convStep, denseStep, depthwiseStep } from './native-conv-steps.js';
import { batchNormStep } from './native-batch-norm.js';
import { avgPoolStep, globalAvgStep, globalMaxStep, maxPoolStep } from './native-pool-steps.js';

export type Sym = tf.SymbolicTensor & { sourceLayer: tf.layers.Layer; inputs: tf.SymbolicTensor[] };

/** A model the native network does not cover; the message names the layer and why. */
export class Unsupported extends Error {}

function refuse(layer: tf.layers.Layer, why: string): never {
  throw new Unsupported(`${layer.getClassName()} layer '${layer.name}': ${why}`);
}

function pair(v: unknown, fallback: number): [number, number] {
  if (v === undefined || v === null) return [fallback, fallback];
  if (typeof v === 'number') return [v, v];
  const a = v as number[];
  return [a[0] as number, (a[1] ?? a[0]) as number];
}

function weightOf(layer: tf.layers.Layer, suffix: string): tf.LayerVariable | null {
  const w = layer.weights.find((v) => v.originalName.endsWith(`/${suffix}`) || v.originalName === suffix);
  return w ?? null;
}

function activationOfConfig(layer: tf.layers.Layer, cfg: tf.serialization.ConfigDict): Activation {
  const a = cfg['activation'];
  const name = a === undefined || a === null ? 'linear' : String(a);
  const act = ACTIVATIONS[name];
  if (act === undefined) refuse(layer, `activation '${name}'`);
  return act;
}

function channelsLast(layer: tf.layers.Layer, cfg: tf.serialization.ConfigDict): void {
  const f = cfg['dataFormat'];
  if (f !== undefined && f !== null && f !== 'channelsLast') refuse(layer, `dataFormat '${String(f)}' (channelsLast only)`);
}

function padding(layer: tf.layers.Layer, cfg: tf.serialization.ConfigDict): 'same' | 'valid' {
  const p = cfg['padding'];
  if (p !== 'same' && p !== 'valid') refuse(layer, `padding '${String(p)}'`);
  return p;
}

function spatial(layer: tf.layers.Layer, s: Shape): [number, number, number] {
  if (s.length !== 3) refuse(layer, `input of rank ${s.length + 1} (expects [batch, H, W, C])`);
  return s as [number, number, number];
}

/** The steps one layer call becomes: its main operation, then its activation when that is not fused. */
export function stepsOf(native: NativeApi, layer: tf.layers.Layer, ins: number[], out: number, inShapes: Shape[], outShape: Shape, outSize: number, fresh: () => number): Step[] {
  const cls = layer.getClassName();
  const cfg = layer.getConfig();
  // Unique per call: a layer called twice (shared weights) is two steps with their own buffers.
  const name = `${layer.name}@${out}`;
  if (layer.weights.some((w) => w.dtype !== 'float32')) refuse(layer, 'non-float32 weights');
  const one = (): Shape => {
    if (inShapes.length !== 1) refuse(layer, `${inShapes.length} inputs`);
    return inShapes[0] as Shape;
  };
  /** The main step into a fresh node, then the activation into `out` (relu is fused by the caller). */
  const withActivation = (act: Activation, main: (to: number) => Step): Step[] => {
    if (act.name === 'linear') return [main(out)];
    const mid = fresh();
    return [main(mid), activationStep(native, `${name}:${act.name}`, [mid], out, outSize, act)];
  };
  switch (cls) {
    case 'Dropout':
    case 'SpatialDropout1D':
    case 'GaussianNoise':
    case 'GaussianDropout':
    case 'AlphaDropout':
    case 'Flatten':
    case 'Reshape': {
      // Inference: the noise layers are identities; reshapes keep NHWC's row-major order.
      const s = one();
      if (cls === 'Flatten' && cfg['dataFormat'] === 'channelsFirst') refuse(layer, "dataFormat 'channelsFirst'");
      if (sizeOf(s) !== outSize) refuse(layer, 'changes the number of values');
      const step = identityStep(name, ins, out, outSize);
      // In training these layers draw random noise from TF.js' generator: only TF.js can reproduce it.
      const noise = Number(cfg['rate'] ?? cfg['stddev'] ?? 0);
      if (cls !== 'Flatten' && cls !== 'Reshape' && noise !== 0) return [{ ...step, trainingRefusal: `${cls} layer '${layer.name}': its training noise is drawn by TF.js` }];
      return [step];
    }
    case 'Activation': {
      const act = activationOfConfig(layer, cfg);
      return [act.name === 'linear' ? identityStep(name, ins, out, outSize) : activationStep(native, name, ins, out, outSize, act)];
    }
    case 'ReLU': {
      const max = cfg['maxValue'];
      const act = max === undefined || max === null ? (ACTIVATIONS['relu'] as Activation) : { ...(ACTIVATIONS['relu-clip'] as Activation), cap: Number(max) };
      return [activationStep(native, name, ins, out, outSize, act)];
    }
    case 'LeakyReLU': {
      const alpha = Number(cfg['alpha'] ?? 0.3);
      return [activationStep(native, name, ins, out, outSize, { ...(ACTIVATIONS['leaky'] as Activation), alpha })];
    }
    case 'ELU': {
      if (Number(cfg['alpha'] ?? 1) !== 1) refuse(layer, 'alpha other than 1');
      return [activationStep(native, name, ins, out, outSize, ACTIVATIONS['elu'] as Activation)];
    }
    case 'Conv2D':
    case 'DepthwiseConv2D':
    case 'SeparableConv2D': {
      const s = spatial(layer, one());
      channelsLast(layer, cfg);
      const pad = padding(layer, cfg);
      const act = activationOfConfig(layer, cfg);
      const relu = act.name === 'relu';
      const fused = relu ? (ACTIVATIONS['linear'] as Activation) : act;
      const strides = pair(cfg['strides'], 1), dil = pair(cfg['dilationRate'], 1);
      if (cfg['groups'] !== undefined && cfg['groups'] !== null && cfg['groups'] !== 1) refuse(layer, `groups ${String(cfg['groups'])}`);
      const bias = cfg['useBias'] === false ? null : weightOf(layer, 'bias');
      if (cfg['useBias'] !== false && bias === null) refuse(layer, 'no bias weight found');
      const b = bias === null ? null : new Weight(bias);
      if (cls === 'Conv2D') {
        const kernel = weightOf(layer, 'kernel');
        if (kernel === null || layer.weights.length !== (b === null ? 1 : 2)) refuse(layer, 'unexpected weights');
        const info = tf.backend_util.computeConv2DInfo([1, ...s], kernel.shape as [number, number, number, number], strides, dil, pad, undefined, false, 'channelsLast');
        return withActivation(fused, (to) => convStep(native, name, ins, to, info, new Weight(kernel), b, relu));
      }
      const dk = weightOf(layer, 'depthwise_kernel');
      if (dk === null) refuse(layer, 'no depthwise_kernel weight found');
      const dInfo = tf.backend_util.computeConv2DInfo([1, ...s], dk.shape as [number, number, number, number], strides, dil, pad, undefined, true, 'channelsLast');
      if (cls === 'DepthwiseConv2D') {
        // tfjs-layers 4.22 computes this layer without its dilation (its call passes none): not a model to reproduce.
        if (dil[0] !== 1 || dil[1] !== 1) refuse(layer, 'dilationRate (tfjs-layers ignores it in DepthwiseConv2D)');
        if (layer.weights.length !== (b === null ? 1 : 2)) refuse(layer, 'unexpected weights');
        return withActivation(fused, (to) => depthwiseStep(native, name, ins, to, dInfo, new Weight(dk), b, relu));
      }
      const pk = weightOf(layer, 'pointwise_kernel');
      if (pk === null || layer.weights.length !== (b === null ? 2 : 3)) refuse(layer, 'unexpected weights');
      const mid = fresh();
      const pInfo = tf.backend_util.computeConv2DInfo([1, dInfo.outHeight, dInfo.outWidth, dInfo.outChannels], pk.shape as [number, number, number, number], 1, 1, 'valid', undefined, false, 'channelsLast');
      return [
        depthwiseStep(native, `${name}:depthwise`, ins, mid, dInfo, new Weight(dk), null, false),
        ...withActivation(fused, (to) => convStep(native, `${name}:pointwise`, [mid], to, pInfo, new Weight(pk), b, relu)),
      ];
    }
    case 'Dense': {
      const s = one();
      const act = activationOfConfig(layer, cfg);
      const relu = act.name === 'relu';
      const kernel = weightOf(layer, 'kernel');
      const bias = cfg['useBias'] === false ? null : weightOf(layer, 'bias');
      if (kernel === null || layer.weights.length !== (bias === null ? 1 : 2)) refuse(layer, 'unexpected weights');
      const [K, N] = kernel.shape as [number, number];
      if (s[s.length - 1] !== K) refuse(layer, `input's last axis ${s[s.length - 1]} for a kernel of ${K} rows`);
      const rows = sizeOf(s) / K;
      return withActivation(relu ? (ACTIVATIONS['linear'] as Activation) : act, (to) => denseStep(native, name, ins, to, K, N, rows, new Weight(kernel), bias === null ? null : new Weight(bias), relu));
    }
    case 'BatchNormalization': {
      const s = one();
      const bn = layer as unknown as BnLayer;
      const axis = Array.isArray(bn.axis) ? bn.axis : [bn.axis];
      if (axis.length !== 1 || !(axis[0] === -1 || axis[0] === s.length)) refuse(layer, `axis ${JSON.stringify(bn.axis)} (the last axis only)`);
      // Without center or scale, training is what alp's BatchNormalization (backend/batch-normalization.ts) does.
      return [batchNormStep(native, name, ins, out, outSize, s[s.length - 1] as number, bn)];
    }
    case 'Rescaling': {
      const scale = cfg['scale'], offset = cfg['offset'] ?? 0;
      if (typeof scale !== 'number' || typeof offset !== 'number') refuse(layer, 'a scale or offset that is not one number');
      one();
      return [rescaleStep(name, ins, out, outSize, scale as number, offset as number)];
    }
    case 'Add':
    case 'Multiply': {
      if (inShapes.some((sh) => sizeOf(sh) !== outSize)) refuse(layer, 'inputs of different shapes (broadcasting)');
      return [cls === 'Add' ? addStep(native, name, ins, out, outSize) : multiplyStep(name, ins, out, outSize)];
    }
    case 'Concatenate': {
      const rank = outShape.length;
      let axis = Number(cfg['axis'] ?? -1);
      axis = axis < 0 ? axis + rank + 1 : axis; // with the batch axis
      if (axis < 1 || axis > rank) refuse(layer, `axis ${String(cfg['axis'])}`);
      const outer = sizeOf(outShape.slice(0, axis - 1));
      const chunks = inShapes.map((sh) => sizeOf(sh.slice(axis - 1)));
      return [concatStep(name, ins, out, outSize, outer, chunks)];
    }
    case 'MaxPooling2D':
    case 'AveragePooling2D': {
      const s = spatial(layer, one());
      channelsLast(layer, cfg);
      const pad = padding(layer, cfg);
      const pool = pair(cfg['poolSize'], 2);
      const strides = cfg['strides'] === undefined || cfg['strides'] === null ? pool : pair(cfg['strides'], 1);
      const info = tf.backend_util.computePool2DInfo([1, ...s], pool, strides, 1, pad);
      return [cls === 'MaxPooling2D' ? maxPoolStep(native, name, ins, out, info) : avgPoolStep(name, ins, out, info)];
    }
    case 'GlobalAveragePooling2D':
    case 'GlobalMaxPooling2D': {
      const [H, W, C] = spatial(layer, one());
      channelsLast(layer, cfg);
      return [cls === 'GlobalAveragePooling2D' ? globalAvgStep(native, name, ins, out, H, W, C) : globalMaxStep(name, ins, out, H * W, C)];
    }
    case 'ZeroPadding2D': {
      const s = spatial(layer, one());
      channelsLast(layer, cfg);
      const p = cfg['padding'];
      let pads: [number, number, number, number];
      if (typeof p === 'number') pads = [p, p, p, p];
      else if (Array.isArray(p) && typeof p[0] === 'number') pads = [p[0], p[0], p[1] as number, p[1] as number];
      else if (Array.isArray(p)) {
        const [[t, b], [l, r]] = p as [[number, number], [number, number]];
        pads = [t, b, l, r];
      } else refuse(layer, `padding ${JSON.stringify(p)}`);
      return [zeroPadStep(name, ins, out, s, pads)];
    }
    default:
      refuse(layer, 'not covered by the native network');
  }
}

