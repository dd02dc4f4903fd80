/**
 * alp's corrections of TF.js gradients (docs/gradients.md, docs/tfjs-gradient-bugs.md), in one call.
 * This module imports nothing Node-specific, so a browser build can install them too.
 */
import * as tf from '@tensorflow/tfjs';
import { installAvgPoolGrad } from './avg-pool-grad.js';
import { installComparisonGradients } from './comparison-gradients.js';
import { installConv3DKernels } from './conv3d-kernels.js';
import { installDepthwiseKernels } from './depthwise-kernels.js';
import { AlpBatchNormalization } from './batch-normalization.js';
import { AlpLayerNormalization } from './layer-normalization.js';

/**
 * Installs every correction: the average-pooling gradients on cpu (./avg-pool-grad.ts) and, once the
 * wasm backend is registered, on wasm with its missing depthwise gradients (./depthwise-kernels.ts) and
 * corrected 3-D convolution input gradient (./conv3d-kernels.ts); zero gradients for comparisons
 * (./comparison-gradients.ts); the BatchNormalization / LayerNormalization classes models are
 * deserialised with (./*-normalization.ts). Other backends (tfjs-node, webgl) are not touched.
 * Idempotent; setupBackend calls it.
 */
export function installGradientFixes(): void {
  installAvgPoolGrad('cpu');
  if (tf.findBackendFactory('wasm') !== null) {
    installAvgPoolGrad('wasm');
    installDepthwiseKernels();
    installConv3DKernels();
  }
  installComparisonGradients();
  registerLayerClass(AlpBatchNormalization);
  registerLayerClass(AlpLayerNormalization);
}

const registered = new Set<unknown>();

/** Makes model.json files deserialise the layer's class name as `cls` (once). */
function registerLayerClass(cls: unknown): void {
  if (registered.has(cls)) return;
  tf.serialization.registerClass(cls as tf.serialization.SerializableConstructor<tf.serialization.Serializable>);
  registered.add(cls);
}
