/**
 * L∞ PGD with the cross-entropy objective on a native network (backend/native-network.ts): the loop of
 * `gradientAscent` in training mode, from a given start, without TF.js' engine. Every iterate is the one
 * `gradientAscent` computes from the same gradient: the start is projected, then each step is
 * x ← Π(x + α·sign(∇)), each operation rounded to float32 in the same order (native-pgd.test.ts).
 */
import type { NativeNetwork } from '../backend/native-network.js';
import { nativeLinfStep } from '../backend/native-network.js';

export interface NativePgdOptions {
  eps: number;
  stepSize: number;
  steps: number;
  /** The input box, or null for none. */
  box: readonly [number, number] | null;
}

/** The last iterate of untargeted L∞ PGD-CE from `start` (n examples of x). Reads the network's weights first. */
export function nativeLinfPgd(net: NativeNetwork, x: Float32Array, start: Float32Array, labels: Int32Array, n: number, o: NativePgdOptions): Float32Array {
  const size = n * net.inputSize;
  if (x.length !== size || start.length !== size || labels.length !== n) {
    throw new RangeError(`nativeLinfPgd: ${n} examples need ${size} input values and ${n} labels; got ${x.length}, ${start.length}, ${labels.length}`);
  }
  net.load();
  const xAdv = Float32Array.from(start);
  // gradientAscent projects its start first: the step with a zero gradient.
  nativeLinfStep(xAdv, new Float32Array(size), x, size, 0, o.eps, o.box);
  for (let s = 0; s < o.steps; s++) nativeLinfStep(xAdv, net.inputGradient(xAdv, labels, n), x, size, o.stepSize, o.eps, o.box);
  return xAdv;
}
