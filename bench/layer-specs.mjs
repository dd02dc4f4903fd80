// A model as bench/peer.py rebuilds it in PyTorch: the architecture from the layer configs, the weights
// as raw float32 files beside it (shared by bench.mjs and train-e2e.mjs).
import { writeFileSync } from 'node:fs';
import path from 'node:path';

const pair = (v) => (Array.isArray(v) ? v.slice(0, 2) : [v, v]);

export function layerSpec(layer, dir, index) {
  const cls = layer.getClassName();
  const c = layer.getConfig();
  const weights = layer.getWeights().map((w, j) => {
    const file = `w${index}_${j}.f32`;
    writeFileSync(path.join(dir, file), Buffer.from(w.dataSync().buffer));
    return { file, shape: w.shape };
  });
  const unsupported = (what) => {
    throw new Error(`bench: layer ${layer.name} (${cls}) has ${what}, which peer.py does not reproduce`);
  };
  switch (cls) {
    case 'InputLayer':
      return { type: 'input', weights };
    case 'Conv2D':
    case 'DepthwiseConv2D':
      if (c.dataFormat !== undefined && c.dataFormat !== 'channelsLast') unsupported(`dataFormat ${c.dataFormat}`);
      if (pair(c.dilationRate ?? 1).some((d) => d !== 1)) unsupported('dilation');
      return { type: cls === 'Conv2D' ? 'conv2d' : 'depthwise2d', filters: c.filters, kernelSize: pair(c.kernelSize), strides: pair(c.strides ?? 1), padding: c.padding, activation: c.activation, useBias: c.useBias, weights };
    case 'BatchNormalization': {
      const axis = Array.isArray(c.axis) ? c.axis : [c.axis];
      if (axis.length !== 1 || (axis[0] !== -1 && axis[0] !== 3)) unsupported(`axis ${c.axis}`);
      const byKind = Object.fromEntries(layer.weights.map((w, j) => [w.originalName.split('/').pop(), weights[j]]));
      return { type: 'batchnorm', epsilon: c.epsilon, momentum: c.momentum, weights: byKind };
    }
    case 'Activation':
      return { type: 'activation', activation: c.activation, weights };
    case 'Add':
      return { type: 'add', weights };
    case 'GlobalAveragePooling2D':
      return { type: 'gap', weights };
    case 'MaxPooling2D':
      return { type: 'maxpool2d', poolSize: pair(c.poolSize), strides: pair(c.strides ?? c.poolSize), padding: c.padding, weights };
    case 'Flatten':
      return { type: 'flatten', weights };
    case 'Dense':
      return { type: 'dense', units: c.units, activation: c.activation, useBias: c.useBias, weights };
    default:
      return unsupported('a layer type');
  }
}


/** Every layer's spec (a functional model's with its name and the layers it reads), weights written to dir. */
export function layerSpecs(dir, model) {
  const graph = model.getClassName() !== 'Sequential';
  const layers = model.layers.map((l, i) => ({
    ...layerSpec(l, dir, i),
    ...(graph ? { name: l.name, inputs: l.inboundNodes[0]?.inboundLayers.map((p) => p.name) ?? [] } : {}),
  }));
  return { graph, layers };
}
