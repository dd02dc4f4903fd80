/**
 * The native network's pooling steps (./native-steps.ts): max and average pooling over windows, and
 * global average and max pooling, forward and input gradient, with TF.js' sums and masks.
 */
import * as tf from '@tensorflow/tfjs';
import type { NativeApi } from './native-kernels.js';
import { avgPoolBackward, type PoolGeometry } from './avg-pool-grad.js';
import type { Step } from './native-steps.js';


export function maxPoolStep(native: NativeApi, layer: string, inputs: number[], out: number, info: tf.backend_util.Conv2DInfo): Step {
  const outSize = info.outHeight * info.outWidth * info.outChannels;
  const inSize = info.inHeight * info.inWidth * info.inChannels;
  return {
    layer, inputs, out, outSize,
    forward([x], o, n) {
      native.maxPool(x as Float32Array, n, info.inHeight, info.inWidth, info.inChannels, info.outHeight, info.outWidth, info.filterHeight, info.filterWidth,
        info.strideHeight, info.strideWidth, info.padInfo.top, info.padInfo.left, o);
    },
    backward(dy, [x], _o, n, buf) {
      const dx = buf.get(`${layer}:dx`, n * inSize);
      native.maxPoolGrad(dy, x as Float32Array, n, info.inHeight, info.inWidth, info.inChannels, info.outHeight, info.outWidth, info.filterHeight, info.filterWidth,
        info.strideHeight, info.strideWidth, info.padInfo.top, info.padInfo.left, dx);
      return [dx];
    },
  };
}

/** AveragePooling2D: each window's in-bounds cells summed in order and divided by their count, as TF.js; the gradient shares dy the same way. */
export function avgPoolStep(layer: string, inputs: number[], out: number, info: tf.backend_util.Conv2DInfo): Step {
  const outSize = info.outHeight * info.outWidth * info.outChannels;
  const inSize = info.inHeight * info.inWidth * info.inChannels;
  const geom = (n: number): PoolGeometry => ({
    batch: n, inH: info.inHeight, inW: info.inWidth, channels: info.inChannels, outH: info.outHeight, outW: info.outWidth,
    filterH: info.filterHeight, filterW: info.filterWidth, strideH: info.strideHeight, strideW: info.strideWidth,
    padTop: info.padInfo.top, padLeft: info.padInfo.left,
  });
  return {
    layer, inputs, out, outSize,
    forward([x], o, n) {
      const xv = x as Float32Array;
      const { inHeight: H, inWidth: W, inChannels: C, outHeight: OH, outWidth: OW, filterHeight: FH, filterWidth: FW } = info;
      const acc = new Float32Array(C);
      for (let b = 0; b < n; b++) {
        for (let oy = 0; oy < OH; oy++) {
          const y0 = Math.max(oy * info.strideHeight - info.padInfo.top, 0), y1 = Math.min(oy * info.strideHeight - info.padInfo.top + FH, H);
          for (let ox = 0; ox < OW; ox++) {
            const x0 = Math.max(ox * info.strideWidth - info.padInfo.left, 0), x1 = Math.min(ox * info.strideWidth - info.padInfo.left + FW, W);
            acc.fill(0);
            for (let iy = y0; iy < y1; iy++) {
              for (let ix = x0; ix < x1; ix++) {
                const base = ((b * H + iy) * W + ix) * C;
                for (let c = 0; c < C; c++) acc[c] = (acc[c] as number) + (xv[base + c] as number);
              }
            }
            const count = Math.max((y1 - y0) * (x1 - x0), 1);
            const ob = ((b * OH + oy) * OW + ox) * C;
            for (let c = 0; c < C; c++) o[ob + c] = (acc[c] as number) / count;
          }
        }
      }
    },
    backward(dy, _ins, _o, n, buf) {
      const dx = buf.get(`${layer}:dx`, n * inSize);
      avgPoolBackward(dy, geom(n), dx);
      return [dx];
    },
  };
}

/**
 * GlobalAveragePooling2D: average pooling with one window over the whole image (TF.js' mean: the sum in
 * order, divided by the count; the gradient dy / count to every position), the same float32 operations.
 */
export function globalAvgStep(native: NativeApi, layer: string, inputs: number[], out: number, H: number, W: number, C: number): Step {
  const HW = H * W;
  return {
    layer, inputs, out, outSize: C,
    forward([x], o, n) {
      // avgPoolStep's float32 sums over one window, on the native column sum (rows added in order).
      const xv = x as Float32Array;
      for (let b = 0; b < n; b++) {
        const ob = o.subarray(b * C, (b + 1) * C);
        native.sumRows(xv.subarray(b * HW * C, (b + 1) * HW * C), HW, C, ob);
        for (let c = 0; c < C; c++) ob[c] = (ob[c] as number) / HW;
      }
    },
    backward(dy, _ins, _o, n, buf) {
      // avgPoolBackward with one window: every position gets dy / count.
      const dx = buf.get(`${layer}:dx`, n * HW * C);
      const row = new Float32Array(C);
      for (let b = 0; b < n; b++) {
        for (let c = 0; c < C; c++) row[c] = (dy[b * C + c] as number) / HW;
        for (let p = 0; p < HW; p++) dx.set(row, (b * HW + p) * C);
      }
      return [dx];
    },
  };
}

/** GlobalMaxPooling2D: TF.js' max and its gradient, which every position equal to the max receives in full. */
export function globalMaxStep(layer: string, inputs: number[], out: number, HW: number, C: number): Step {
  return {
    layer, inputs, out, outSize: C,
    forward([x], o, n) {
      const xv = x as Float32Array;
      for (let b = 0; b < n; b++) {
        for (let c = 0; c < C; c++) {
          let m = -Infinity;
          for (let p = 0; p < HW; p++) {
            const v = xv[(b * HW + p) * C + c] as number;
            if (v > m || Number.isNaN(v)) m = v;
          }
          o[b * C + c] = m;
        }
      }
    },
    backward(dy, [x], o, n, buf) {
      const xv = x as Float32Array;
      const dx = buf.get(`${layer}:dx`, n * HW * C);
      for (let b = 0; b < n; b++) {
        for (let p = 0; p < HW; p++) {
          for (let c = 0; c < C; c++) {
            const i = (b * HW + p) * C + c;
            dx[i] = xv[i] === o[b * C + c] ? (dy[b * C + c] as number) : 0;
          }
        }
      }
      return [dx];
    },
  };
}
