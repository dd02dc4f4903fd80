/**
 * The input gradient of 3-D convolutions on wasm. tfjs-backend-wasm 4.22's `Conv3DBackpropInputV2`
 * is wrong along the depth axis: the last depth slices get too little or no gradient, with 'same' and
 * with 'valid' padding (for ones of shape [1, 3, 1, 1, 1] and a [2, 1, 1, 1, 1] filter of ones, 'same',
 * it returns [1, 2, 1] instead of [1, 2, 2]; docs/tfjs-gradient-bugs.md). This is a plain loop over the wasm heap, NDHWC, any stride and padding.
 */
import * as tf from '@tensorflow/tfjs';
import type { HeapBackend } from './wasm-kernels.js';

type Info = tf.TensorInfo;
type Args = { inputs: Record<string, Info>; attrs?: Record<string, unknown>; backend: unknown };

function conv3DBackpropInput(args: Args): Info {
  const { dy, filter } = args.inputs as { dy: Info; filter: Info };
  const a = args.attrs ?? {};
  const inputShape = a['inputShape'] as [number, number, number, number, number];
  const info = tf.backend_util.computeConv3DInfo(inputShape, filter.shape as [number, number, number, number, number],
    a['strides'] as [number, number, number] | number, 1, a['pad'] as 'same' | 'valid');
  const be = args.backend as HeapBackend;
  const out = be.makeOutput([...inputShape], 'float32');
  const dx = be.typedArrayFromHeap(out), w = be.typedArrayFromHeap(filter), g = be.typedArrayFromHeap(dy);
  dx.fill(0);
  const { batchSize: N, inDepth: D, inHeight: H, inWidth: W, inChannels: CI, outDepth: OD, outHeight: OH, outWidth: OW, outChannels: CO } = info;
  const { filterDepth: FD, filterHeight: FH, filterWidth: FW, strideDepth: sD, strideHeight: sH, strideWidth: sW } = info;
  const { front, top, left } = info.padInfo;
  for (let n = 0; n < N; n++) {
    for (let od = 0; od < OD; od++) {
      for (let oy = 0; oy < OH; oy++) {
        for (let ox = 0; ox < OW; ox++) {
          const o = (((n * OD + od) * OH + oy) * OW + ox) * CO;
          for (let kd = 0; kd < FD; kd++) {
            const id = od * sD - front + kd;
            if (id < 0 || id >= D) continue;
            for (let ky = 0; ky < FH; ky++) {
              const iy = oy * sH - top + ky;
              if (iy < 0 || iy >= H) continue;
              for (let kx = 0; kx < FW; kx++) {
                const ix = ox * sW - left + kx;
                if (ix < 0 || ix >= W) continue;
                const xi = (((n * D + id) * H + iy) * W + ix) * CI, fi = ((kd * FH + ky) * FW + kx) * CI * CO;
                for (let ci = 0; ci < CI; ci++) {
                  let s = 0;
                  for (let co = 0; co < CO; co++) s += (w[fi + ci * CO + co] as number) * (g[o + co] as number);
                  dx[xi + ci] = (dx[xi + ci] as number) + s;
                }
              }
            }
          }
        }
      }
    }
  }
  return out;
}

let installed = false;

/** Replaces wasm's Conv3DBackpropInputV2. Idempotent. */
export function installConv3DKernels(): void {
  if (installed) return;
  if (tf.getKernel('Conv3DBackpropInputV2', 'wasm') !== undefined) tf.unregisterKernel('Conv3DBackpropInputV2', 'wasm');
  tf.registerKernel({ kernelName: 'Conv3DBackpropInputV2', backendName: 'wasm', kernelFunc: conv3DBackpropInput as unknown as tf.KernelFunc });
  installed = true;
}
