/**
 * The depthwise-convolution gradients tfjs-backend-wasm 4.22 lacks: without
 * `DepthwiseConv2dNativeBackpropInput` no DepthwiseConv2D or SeparableConv2D model can be attacked on
 * wasm, and without `...BackpropFilter` none can be trained. Plain loops over the wasm heap (these
 * layers are cheap next to full convolutions), NHWC, any stride, padding and dilation.
 */
import * as tf from '@tensorflow/tfjs';
import type { HeapBackend } from './wasm-kernels.js';

type Info = tf.TensorInfo;
type Attrs = Record<string, unknown>;
type Args = { inputs: Record<string, Info>; attrs?: Attrs; backend: unknown };

function geometry(xShape: number[], filterShape: number[], a: Attrs): tf.backend_util.Conv2DInfo {
  return tf.backend_util.computeConv2DInfo(xShape as [number, number, number, number], filterShape as [number, number, number, number],
    a['strides'] as [number, number] | number, (a['dilations'] as [number, number] | number | undefined) ?? 1, a['pad'] as 'same' | 'valid' | number,
    a['dimRoundingMode'] as 'floor' | undefined, true);
}

/**
 * Visits every (input cell, filter tap, output cell) triple of a depthwise convolution:
 * visit(xIndex, filterIndex, dyIndex) for channel c and multiplier m.
 */
function forEachTap(info: tf.backend_util.Conv2DInfo, visit: (xi: number, fi: number, oi: number) => void): void {
  const { batchSize: N, inHeight: H, inWidth: W, inChannels: C, outHeight: OH, outWidth: OW, filterHeight: FH, filterWidth: FW } = info;
  const M = info.outChannels / C;
  const { strideHeight: sH, strideWidth: sW, dilationHeight: dH, dilationWidth: dW } = info;
  const top = info.padInfo.top, left = info.padInfo.left;
  for (let n = 0; n < N; n++) {
    for (let oy = 0; oy < OH; oy++) {
      for (let ox = 0; ox < OW; ox++) {
        const o = ((n * OH + oy) * OW + ox) * C * M;
        for (let ky = 0; ky < FH; ky++) {
          const iy = oy * sH - top + ky * dH;
          if (iy < 0 || iy >= H) continue;
          for (let kx = 0; kx < FW; kx++) {
            const ix = ox * sW - left + kx * dW;
            if (ix < 0 || ix >= W) continue;
            const xb = ((n * H + iy) * W + ix) * C, fb = (ky * FW + kx) * C * M;
            for (let c = 0; c < C; c++) {
              for (let m = 0; m < M; m++) visit(xb + c, fb + c * M + m, o + c * M + m);
            }
          }
        }
      }
    }
  }
}

/**
 * One gradient of a depthwise convolution: a zeroed output of `shape` (the input's or the filter's,
 * from the attribute `shapeAttr`) that gets other[·] * dy[oi] added at every tap; `intoInput` says
 * whether the sum lands at the tap's input cell (other = filter) or filter cell (other = input).
 */
function tapGradient(args: Args, shapeAttr: 'inputShape' | 'filterShape', other: Info, dy: Info): Info {
  const a = args.attrs ?? {};
  const shape = a[shapeAttr] as number[];
  const intoInput = shapeAttr === 'inputShape';
  const info = intoInput ? geometry(shape, other.shape, a) : geometry(other.shape, shape, a);
  const be = args.backend as HeapBackend;
  const out = be.makeOutput([...shape], 'float32');
  const acc = be.typedArrayFromHeap(out), v = be.typedArrayFromHeap(other), g = be.typedArrayFromHeap(dy);
  acc.fill(0);
  if (intoInput) {
    forEachTap(info, (xi, fi, oi) => {
      acc[xi] = (acc[xi] as number) + (v[fi] as number) * (g[oi] as number);
    });
  } else {
    forEachTap(info, (xi, fi, oi) => {
      acc[fi] = (acc[fi] as number) + (v[xi] as number) * (g[oi] as number);
    });
  }
  return out;
}

function backpropInput(args: Args): Info {
  const { dy, filter } = args.inputs as { dy: Info; filter: Info };
  return tapGradient(args, 'inputShape', filter, dy);
}

function backpropFilter(args: Args): Info {
  const { x, dy } = args.inputs as { x: Info; dy: Info };
  return tapGradient(args, 'filterShape', x, dy);
}

const KERNELS: Record<string, (args: Args) => Info> = {
  DepthwiseConv2dNativeBackpropInput: backpropInput,
  DepthwiseConv2dNativeBackpropFilter: backpropFilter,
};

/** Registers the missing depthwise gradients on wasm (only where the backend has none). Idempotent. */
export function installDepthwiseKernels(): void {
  for (const [name, func] of Object.entries(KERNELS)) {
    if (tf.getKernel(name, 'wasm') !== undefined) continue;
    tf.registerKernel({ kernelName: name, backendName: 'wasm', kernelFunc: func as unknown as tf.KernelFunc });
  }
}
