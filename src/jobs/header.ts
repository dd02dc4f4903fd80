/**
 * The version header every result file carries (`versions`): which alp, Node, TF.js and kernels
 * measured its numbers. One function, so a library caller's files say it as the CLI's do.
 */
import { createRequire } from 'node:module';
import * as tf from '@tensorflow/tfjs';
import { nativeKernelsInstalled } from '../backend/native-kernels.js';

/** The header for a run on `backend` (default: the backend TF.js runs now); `extra` adds fields. */
export function runVersions(backend: string = tf.getBackend(), extra: Record<string, string> = {}): Record<string, string> {
  const require = createRequire(import.meta.url);
  const v = (name: string): string => {
    try {
      return (require(`${name}/package.json`) as { version: string }).version;
    } catch {
      return 'not installed';
    }
  };
  return {
    alp: (require('../../package.json') as { version: string }).version,
    node: process.version,
    tfjs: v('@tensorflow/tfjs-core'),
    'tfjs-backend-wasm': v('@tensorflow/tfjs-backend-wasm'),
    backend,
    nativeKernels: nativeKernelsInstalled() ? 'openblas' : 'none',
    ...extra,
  };
}
