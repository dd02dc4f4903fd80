/**
 * Picks a TF.js backend in the browser: webgl where the page can get a GPU context, else wasm, else
 * the plain cpu backend, with alp's kernel and gradient corrections installed for cpu and wasm. The wasm binaries are fetched from `wasmPath` (a URL prefix ending in '/'),
 * so a page can serve them itself and stay offline.
 */
import * as tf from '@tensorflow/tfjs';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import { UserError } from '../util/errors.js';
import { installGradientFixes } from '../backend/gradient-fixes.js';
import { installWasmKernels } from '../backend/wasm-kernels.js';

export type BrowserBackend = 'webgl' | 'wasm' | 'cpu';
export const BROWSER_BACKENDS: readonly BrowserBackend[] = ['webgl', 'wasm', 'cpu'];

export interface BackendChoice {
  backend: BrowserBackend;
  /** Backends tried before it that failed to initialise, with why. */
  skipped: Array<{ backend: BrowserBackend; reason: string }>;
}

/** Tries `order` (default webgl, wasm, cpu) and keeps the first backend that initialises. */
export async function chooseBackend(o: { wasmPath: string; order?: readonly BrowserBackend[] }): Promise<BackendChoice> {
  const order = o.order ?? BROWSER_BACKENDS;
  for (const b of order) {
    if (!BROWSER_BACKENDS.includes(b)) throw new UserError(`backend: expected one of ${BROWSER_BACKENDS.join(', ')}, got '${String(b)}'`);
  }
  if (!o.wasmPath.endsWith('/')) throw new UserError(`wasmPath: expected a URL prefix ending in '/', got '${o.wasmPath}'`);
  setWasmPaths(o.wasmPath);
  // The same corrections as in Node (backend/select.ts): TF.js' wrong or missing gradients on cpu and
  // wasm, and wasm's Sign, which is 0 below 2^-23 and would stall PGD on tiny gradients. webgl is not
  // corrected (docs/gradients.md).
  installGradientFixes();
  installWasmKernels();
  installGradientFixes();
  const skipped: BackendChoice['skipped'] = [];
  for (const b of order) {
    let ok = false;
    let reason = 'initialisation returned false';
    try {
      ok = await tf.setBackend(b);
      if (ok) await tf.ready();
    } catch (e) {
      ok = false;
      reason = (e as Error).message;
    }
    if (ok && tf.getBackend() === b) return { backend: b, skipped };
    skipped.push({ backend: b, reason });
  }
  throw new Error(`no TF.js backend initialised (tried ${order.join(', ')})`);
}
