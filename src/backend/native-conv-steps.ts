/**
 * The native network's steps with weights on a matrix product or convolution (./native-steps.ts):
 * Conv2D, Dense and DepthwiseConv2D, each with its bias and fused ReLU, forward, input gradient and,
 * in training, the gradients of its kernel and bias.
 */
import * as tf from '@tensorflow/tfjs';
import type { NativeApi } from './native-kernels.js';
import type { Buffers, Step, Weight, WeightGrads } from './native-steps.js';

/** The gradient at a fused ReLU's input: dy · step(x), TF.js' ReLU gradient, taken on the output (positive exactly where x is). */
function throughRelu(native: NativeApi, layer: string, relu: boolean, dy: Float32Array, o: Float32Array, size: number, buf: Buffers): Float32Array {
  if (!relu) return dy;
  const g = buf.get(`${layer}:relu`, size);
  native.reluGrad(dy, o, g, size);
  return g;
}

/** A step's load(): its kernel's and bias's current values. */
function loader(kernel: Weight, bias: Weight | null): () => void {
  return () => {
    kernel.load();
    bias?.load();
  };
}

/** A bias's gradient: the column sums of the output gradient g [R, C]. */
function biasGrad(native: NativeApi, layer: string, bias: Weight | null, g: Float32Array, R: number, C: number, buf: Buffers, wg: WeightGrads): void {
  if (bias === null) return;
  const db = buf.get(`${layer}:db`, C);
  native.sumRows(g.subarray(0, R * C), R, C, db);
  wg.add(bias, db);
}


/** Conv2D (any stride, 'same'/'valid', dilation by a zero-dilated kernel) with bias and fused ReLU. */
export function convStep(native: NativeApi, layer: string, inputs: number[], out: number, info: tf.backend_util.Conv2DInfo, kernel: Weight, bias: Weight | null, relu: boolean): Step {
  const KH = info.effectiveFilterHeight, KW = info.effectiveFilterWidth;
  const dH = info.dilationHeight, dW = info.dilationWidth;
  const dilated = dH !== 1 || dW !== 1;
  let w: Float32Array = new Float32Array(0);
  const outSize = info.outHeight * info.outWidth * info.outChannels;
  const inSize = info.inHeight * info.inWidth * info.inChannels;
  return {
    layer, inputs, out, outSize,
    load() {
      const k = kernel.load();
      bias?.load();
      if (!dilated) {
        w = k;
        return;
      }
      // The kernel spread over its dilated extent with zeros between taps: the same sums (plus exact zeros).
      const Ci = info.inChannels, Co = info.outChannels;
      if (w.length !== KH * KW * Ci * Co) w = new Float32Array(KH * KW * Ci * Co);
      else w.fill(0);
      for (let ky = 0; ky < info.filterHeight; ky++) {
        for (let kx = 0; kx < info.filterWidth; kx++) {
          w.set(k.subarray((ky * info.filterWidth + kx) * Ci * Co, (ky * info.filterWidth + kx + 1) * Ci * Co), ((ky * dH) * KW + kx * dW) * Ci * Co);
        }
      }
    },
    forward([x], o, n) {
      native.conv2d(x as Float32Array, n, info.inHeight, info.inWidth, info.inChannels, w, KH, KW, info.outChannels, o,
        info.outHeight, info.outWidth, info.strideHeight, info.strideWidth, info.padInfo.top, info.padInfo.left, bias?.value ?? null, relu);
    },
    backward(dy, [x], o, n, buf, wg) {
      const g = throughRelu(native, layer, relu, dy, o, n * outSize, buf);
      if (wg !== undefined && wg !== null) {
        const Ci = info.inChannels, Co = info.outChannels;
        const dwEff = buf.get(`${layer}:dw`, KH * KW * Ci * Co);
        native.conv2dBackpropFilter((x as Float32Array).subarray(0, n * inSize), n, info.inHeight, info.inWidth, Ci, g.subarray(0, n * outSize), info.outHeight, info.outWidth, Co,
          dwEff, KH, KW, info.strideHeight, info.strideWidth, info.padInfo.top, info.padInfo.left);
        let dw = dwEff;
        if (dilated) {
          // The gradient of the zero-dilated kernel at its taps is the kernel's gradient.
          dw = buf.get(`${layer}:dwTaps`, info.filterHeight * info.filterWidth * Ci * Co);
          for (let ky = 0; ky < info.filterHeight; ky++) {
            for (let kx = 0; kx < info.filterWidth; kx++) {
              const from = ((ky * dH) * KW + kx * dW) * Ci * Co;
              dw.set(dwEff.subarray(from, from + Ci * Co), (ky * info.filterWidth + kx) * Ci * Co);
            }
          }
        }
        wg.add(kernel, dw);
        biasGrad(native, layer, bias, g, n * info.outHeight * info.outWidth, Co, buf, wg);
      }
      const dx = buf.get(`${layer}:dx`, n * inSize);
      native.conv2dBackpropInput(g, n, info.outHeight, info.outWidth, info.outChannels, w, KH, KW, info.inChannels, dx,
        info.inHeight, info.inWidth, info.strideHeight, info.strideWidth, info.padInfo.top, info.padInfo.left);
      return [dx];
    },
  };
}

/** Dense on the last axis (rows = everything before it), bias and fused ReLU. */
export function denseStep(native: NativeApi, layer: string, inputs: number[], out: number, K: number, N: number, rowsPerExample: number, kernel: Weight, bias: Weight | null, relu: boolean): Step {
  const outSize = rowsPerExample * N;
  return {
    layer, inputs, out, outSize,
    load: loader(kernel, bias),
    forward([x], o, n) {
      const M = n * rowsPerExample;
      native.sgemm(false, false, M, N, K, x as Float32Array, kernel.value, o, false);
      if (bias !== null || relu) native.biasAct(o, M, N, bias?.value ?? null, relu);
    },
    backward(dy, [x], o, n, buf, wg) {
      const M = n * rowsPerExample;
      const g = throughRelu(native, layer, relu, dy, o, M * N, buf);
      if (wg !== undefined && wg !== null) {
        // dW = xᵀ·g [K, N], as TF.js' MatMul gradient.
        const dw = buf.get(`${layer}:dw`, K * N);
        native.sgemm(true, false, K, N, M, (x as Float32Array).subarray(0, M * K), g.subarray(0, M * N), dw, false);
        wg.add(kernel, dw);
        biasGrad(native, layer, bias, g, M, N, buf, wg);
      }
      const dx = buf.get(`${layer}:dx`, M * K);
      native.sgemm(false, true, M, K, N, g, kernel.value, dx, false);
      return [dx];
    },
  };
}

/** DepthwiseConv2D: output channel c·M + m is input channel c convolved with its own filter m (native loops, float32 sums). */
export function depthwiseStep(native: NativeApi, layer: string, inputs: number[], out: number, info: tf.backend_util.Conv2DInfo, kernel: Weight, bias: Weight | null, relu: boolean): Step {
  const { inHeight: H, inWidth: W, inChannels: C, outHeight: OH, outWidth: OW, filterHeight: FH, filterWidth: FW } = info;
  const M = info.outChannels / C;
  const { strideHeight: sH, strideWidth: sW, dilationHeight: dH, dilationWidth: dW } = info;
  const top = info.padInfo.top, left = info.padInfo.left;
  const CM = C * M;
  const outSize = OH * OW * CM;
  const inSize = H * W * C;
  return {
    layer, inputs, out, outSize,
    load: loader(kernel, bias),
    forward([x], o, n) {
      native.depthwiseConv2d((x as Float32Array).subarray(0, n * inSize), n, H, W, C, kernel.value, FH, FW, M, o.subarray(0, n * outSize), OH, OW, sH, sW, dH, dW, top, left);
      if (bias !== null || relu) native.biasAct(o.subarray(0, n * outSize), n * OH * OW, CM, bias?.value ?? null, relu);
    },
    backward(dy, [x], o, n, buf, wg) {
      const g = throughRelu(native, layer, relu, dy, o, n * outSize, buf);
      if (wg !== undefined && wg !== null) {
        // Summed in float64 (TF.js sums in float32 in another order: within float32 rounding, not to the bit).
        const dw = buf.get(`${layer}:dw`, FH * FW * CM);
        native.depthwiseConv2dBackpropFilter((x as Float32Array).subarray(0, n * inSize), n, H, W, C, g.subarray(0, n * outSize), FH, FW, M, dw, OH, OW, sH, sW, dH, dW, top, left);
        wg.add(kernel, dw);
        biasGrad(native, layer, bias, g, n * OH * OW, CM, buf, wg);
      }
      const dx = buf.get(`${layer}:dx`, n * inSize);
      native.depthwiseConv2dBackpropInput(g, n, H, W, C, kernel.value, FH, FW, M, dx, OH, OW, sH, sW, dH, dW, top, left);
      return [dx];
    },
  };
}
