/**
 * Correct average-pooling gradients (2-D and 3-D) for the `cpu` and `wasm` backends.
 *
 * Both backends' forward AvgPool divide each window by the number of cells that lie inside the input
 * (padding excluded), but both backends' AvgPoolGrad (tfjs 4.22) divide by the full window area. With
 * 'same' padding the edge gradients are therefore too small (a 3×3 window at a corner covers 4 cells:
 * the gradient is 4/9 of the truth). The kernel here divides by the same count as the forward pass.
 * With 'valid' padding nothing changes. AvgPool3DGrad has the same fault and gets the same fix. tfjs-node runs TensorFlow's own kernel and is not touched.
 * docs/tfjs-gradient-bugs.md has a reproduction.
 */
import * as tf from '@tensorflow/tfjs';
import type { HeapBackend } from './wasm-kernels.js';

type Info = tf.TensorInfo;
type Attrs = Record<string, unknown>;
type Args = { inputs: Record<string, Info>; attrs?: Attrs; backend: unknown };

/** The pooling geometry a kernel needs; dy's own shape gives the output size. */
export interface PoolGeometry {
  batch: number; inH: number; inW: number; channels: number; outH: number; outW: number;
  filterH: number; filterW: number; strideH: number; strideW: number; padTop: number; padLeft: number;
}

export function poolGeometry(inputShape: readonly number[], dyShape: readonly number[], attrs: Attrs): PoolGeometry {
  const info = tf.backend_util.computePool2DInfo(inputShape as [number, number, number, number], attrs['filterSize'] as [number, number] | number,
    attrs['strides'] as [number, number] | number, 1, attrs['pad'] as 'same' | 'valid' | number, attrs['dimRoundingMode'] as 'floor' | undefined);
  return {
    batch: info.batchSize, inH: info.inHeight, inW: info.inWidth, channels: info.inChannels,
    outH: dyShape[1] as number, outW: dyShape[2] as number,
    filterH: info.filterHeight, filterW: info.filterWidth, strideH: info.strideHeight, strideW: info.strideWidth,
    padTop: info.padInfo.top, padLeft: info.padInfo.left,
  };
}

/**
 * dx of average pooling, NHWC: every output cell's gradient is shared equally among the input cells
 * its window covers inside the input. Writes into `dx` (zeroed here).
 */
export function avgPoolBackward(dy: ArrayLike<number>, g: PoolGeometry, dx: Float32Array): void {
  dx.fill(0);
  const { batch: N, inH: H, inW: W, channels: C, outH: OH, outW: OW, filterH: FH, filterW: FW } = g;
  for (let n = 0; n < N; n++) {
    for (let oy = 0; oy < OH; oy++) {
      const y0 = Math.max(oy * g.strideH - g.padTop, 0), y1 = Math.min(oy * g.strideH - g.padTop + FH, H);
      for (let ox = 0; ox < OW; ox++) {
        const x0 = Math.max(ox * g.strideW - g.padLeft, 0), x1 = Math.min(ox * g.strideW - g.padLeft + FW, W);
        const count = (y1 - y0) * (x1 - x0);
        if (count <= 0) continue;
        const from = ((n * OH + oy) * OW + ox) * C;
        for (let iy = y0; iy < y1; iy++) {
          for (let ix = x0; ix < x1; ix++) {
            const to = ((n * H + iy) * W + ix) * C;
            for (let c = 0; c < C; c++) dx[to + c] = (dx[to + c] as number) + (dy[from + c] as number) / count;
          }
        }
      }
    }
  }
}

/** 3-D pooling geometry (NDHWC); dy's own shape gives the output size. */
interface Pool3DGeometry {
  batch: number; inD: number; inH: number; inW: number; channels: number; outD: number; outH: number; outW: number;
  filterD: number; filterH: number; filterW: number; strideD: number; strideH: number; strideW: number;
  padFront: number; padTop: number; padLeft: number;
}

function pool3DGeometry(inputShape: readonly number[], dyShape: readonly number[], attrs: Attrs): Pool3DGeometry {
  const info = tf.backend_util.computePool3DInfo(inputShape as [number, number, number, number, number], attrs['filterSize'] as [number, number, number] | number,
    attrs['strides'] as [number, number, number] | number, 1, attrs['pad'] as 'same' | 'valid' | number, attrs['dimRoundingMode'] as 'floor' | undefined);
  return {
    batch: info.batchSize, inD: info.inDepth, inH: info.inHeight, inW: info.inWidth, channels: info.inChannels,
    outD: dyShape[1] as number, outH: dyShape[2] as number, outW: dyShape[3] as number,
    filterD: info.filterDepth, filterH: info.filterHeight, filterW: info.filterWidth,
    strideD: info.strideDepth, strideH: info.strideHeight, strideW: info.strideWidth,
    padFront: info.padInfo.front, padTop: info.padInfo.top, padLeft: info.padInfo.left,
  };
}

/** The 3-D counterpart of avgPoolBackward (NDHWC). */
export function avgPool3DBackward(dy: ArrayLike<number>, g: Pool3DGeometry, dx: Float32Array): void {
  dx.fill(0);
  const { batch: N, inD: D, inH: H, inW: W, channels: C, outD: OD, outH: OH, outW: OW } = g;
  const span = (o: number, stride: number, pad: number, f: number, size: number): [number, number] =>
    [Math.max(o * stride - pad, 0), Math.min(o * stride - pad + f, size)];
  for (let n = 0; n < N; n++) {
    for (let od = 0; od < OD; od++) {
      const [d0, d1] = span(od, g.strideD, g.padFront, g.filterD, D);
      for (let oy = 0; oy < OH; oy++) {
        const [y0, y1] = span(oy, g.strideH, g.padTop, g.filterH, H);
        for (let ox = 0; ox < OW; ox++) {
          const [x0, x1] = span(ox, g.strideW, g.padLeft, g.filterW, W);
          const count = (d1 - d0) * (y1 - y0) * (x1 - x0);
          if (count <= 0) continue;
          const from = (((n * OD + od) * OH + oy) * OW + ox) * C;
          for (let id = d0; id < d1; id++) {
            for (let iy = y0; iy < y1; iy++) {
              for (let ix = x0; ix < x1; ix++) {
                const to = (((n * D + id) * H + iy) * W + ix) * C;
                for (let c = 0; c < C; c++) dx[to + c] = (dx[to + c] as number) + (dy[from + c] as number) / count;
              }
            }
          }
        }
      }
    }
  }
}

interface CpuBackend {
  data: { get(dataId: object): { values: ArrayLike<number> } };
  makeTensorInfo(shape: number[], dtype: tf.DataType, values: Float32Array): Info;
}

function cpuKernel(args: Args): Info {
  const { dy, input } = args.inputs as { dy: Info; input: Info };
  const be = args.backend as CpuBackend;
  const g = poolGeometry(input.shape, dy.shape, args.attrs ?? {});
  const dx = new Float32Array(input.shape.reduce((a, b) => a * b, 1));
  avgPoolBackward(be.data.get(dy.dataId).values, g, dx);
  return be.makeTensorInfo([...input.shape], 'float32', dx);
}

function wasmKernel(args: Args): Info {
  const { dy, input } = args.inputs as { dy: Info; input: Info };
  const be = args.backend as HeapBackend;
  const g = poolGeometry(input.shape, dy.shape, args.attrs ?? {});
  const out = be.makeOutput([...input.shape], 'float32');
  avgPoolBackward(be.typedArrayFromHeap(dy), g, be.typedArrayFromHeap(out));
  return out;
}

function cpuKernel3D(args: Args): Info {
  const { dy, input } = args.inputs as { dy: Info; input: Info };
  const be = args.backend as CpuBackend;
  const dx = new Float32Array(input.shape.reduce((a, b) => a * b, 1));
  avgPool3DBackward(be.data.get(dy.dataId).values, pool3DGeometry(input.shape, dy.shape, args.attrs ?? {}), dx);
  return be.makeTensorInfo([...input.shape], 'float32', dx);
}

function wasmKernel3D(args: Args): Info {
  const { dy, input } = args.inputs as { dy: Info; input: Info };
  const be = args.backend as HeapBackend;
  const out = be.makeOutput([...input.shape], 'float32');
  avgPool3DBackward(be.typedArrayFromHeap(dy), pool3DGeometry(input.shape, dy.shape, args.attrs ?? {}), be.typedArrayFromHeap(out));
  return out;
}

const KERNELS: Record<string, Record<string, (args: Args) => Info>> = {
  cpu: { AvgPoolGrad: cpuKernel, AvgPool3DGrad: cpuKernel3D },
  wasm: { AvgPoolGrad: wasmKernel, AvgPool3DGrad: wasmKernel3D },
};
const installed = new Set<string>();

/**
 * Registers the corrected AvgPoolGrad and AvgPool3DGrad on `backend` ('cpu' or 'wasm'); other
 * backends are left alone. Idempotent. Returns whether kernels are installed for that backend.
 */
export function installAvgPoolGrad(backend: string): boolean {
  const kernels = KERNELS[backend];
  if (kernels === undefined) return false;
  if (installed.has(backend)) return true;
  for (const [name, func] of Object.entries(kernels)) {
    if (tf.getKernel(name, backend) !== undefined) tf.unregisterKernel(name, backend);
    tf.registerKernel({ kernelName: name, backendName: backend, kernelFunc: func as unknown as tf.KernelFunc });
  }
  installed.add(backend);
  return true;
}
