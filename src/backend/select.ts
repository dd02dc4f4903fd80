/**
 * Chooses the TF.js backend. The library itself never assumes one: attacks and training are written
 * against tfjs-core ops only, so `@tensorflow/tfjs-node` (native TensorFlow) just works when a user
 * has it installed, and here, where it cannot install, the `wasm` backend is made trainable by
 * ./wasm-kernels.ts.
 *
 * Whatever the backend, alp installs its gradient corrections first (./gradient-fixes.ts): kernels for
 * cpu and wasm, zero gradients for comparisons, and normalisation layers that can be differentiated
 * without center or scale.
 */
import * as tf from '@tensorflow/tfjs';
import { OptionError } from '../util/errors.js';
import { installWasmKernels } from './wasm-kernels.js';
import { installNativeKernels, nativeApi } from './native-kernels.js';
import { installFusedKernels } from './fused-kernels.js';
import { installFusedAdam } from './fused-adam.js';
import { installNativeNetwork } from './native-network.js';
import { installGradientFixes } from './gradient-fixes.js';

export { installGradientFixes };

import { BACKEND_CHOICES, type BackendChoice } from './backend-choices.js';

export { BACKEND_CHOICES, type BackendChoice };

async function tryImport(name: string): Promise<boolean> {
  try {
    await import(name);
    return true;
  } catch {
    return false;
  }
}

/**
 * Sets up and activates a backend; returns the name actually in use.
 * `auto` prefers native TensorFlow (tfjs-node), then wasm, then the pure-JS cpu backend.
 */
export async function setupBackend(choice: BackendChoice = 'auto'): Promise<string> {
  if (!BACKEND_CHOICES.includes(choice)) {
    throw new OptionError(`{backend}: expected one of ${BACKEND_CHOICES.join(', ')}, got '${String(choice)}'`);
  }
  installGradientFixes();
  if (choice === 'auto' || choice === 'tensorflow') {
    // Either package registers the backend 'tensorflow'; the GPU build first when both are there.
    const ok = (await tryImport('@tensorflow/tfjs-node-gpu')) || (await tryImport('@tensorflow/tfjs-node'));
    if (ok && tf.findBackend('tensorflow') !== null && (await tf.setBackend('tensorflow'))) {
      await tf.ready();
      return 'tensorflow';
    }
    if (choice === 'tensorflow') {
      throw new OptionError("{backend} tensorflow: neither '@tensorflow/tfjs-node-gpu' nor '@tensorflow/tfjs-node' is installed (or they failed to load)");
    }
  }
  if (choice === 'auto' || choice === 'wasm') {
    if (await tryImport('@tensorflow/tfjs-backend-wasm')) {
      installWasmKernels();
      installGradientFixes(); // now that the wasm backend is registered, its corrections too
      installNativeKernels();
      // The training attack's path around TF.js' engine for small Sequential models (./native-network.ts).
      installNativeNetwork(nativeApi());
      // ALP_NO_FUSED=1 keeps TF.js' own kernels for these (for A/B measurements, bench/README.md).
      if (process.env['ALP_NO_FUSED'] !== '1') {
        installFusedKernels(nativeApi());
        installFusedAdam(nativeApi());
      }
      if (await tf.setBackend('wasm')) {
        await tf.ready();
        return 'wasm';
      }
    }
    if (choice === 'wasm') throw new OptionError("{backend}: 'wasm': '@tensorflow/tfjs-backend-wasm' could not be initialised");
  }
  await tf.setBackend('cpu');
  await tf.ready();
  return 'cpu';
}
