/**
 * A classifier guarded by a calibrated detector: each input gets the model's prediction, the
 * detector's suspicion score, and a decision (reject when the score exceeds the calibrated
 * threshold). Inputs are validated first: the right size, finite, inside [0,1]. Free of Node
 * built-ins (the browser bundle uses it); loadGuard, which reads files, is in detector-files.ts.
 */
import * as tf from '@tensorflow/tfjs';
import { logitsOf, type LogitsFn } from '../model/classifier.js';
import { UserError } from '../util/errors.js';
import { assertValidInputs } from '../util/validate.js';
import type { CalibratedDetector } from './calibrate.js';

export interface GuardDecision {
  /** Predicted class (argmax of the logits). */
  prediction: number;
  /** Softmax probability of the predicted class. */
  confidence: number;
  /** The detector's score; higher = more suspicious. */
  suspicion: number;
  threshold: number;
  flagged: boolean;
  /** 'reject' when flagged: the input looks adversarial and the prediction should not be trusted. */
  decision: 'accept' | 'reject';
}

export interface Guard {
  readonly inputShape: [number, number, number];
  readonly numClasses: number;
  readonly detector: string;
  readonly threshold: number;
  readonly fprTarget: number;
  /** Decisions for a batch: a [N,H,W,C] tensor, or N·H·W·C values in [0,1] (NHWC). */
  check(x: tf.Tensor | Float32Array): GuardDecision[];
}

export interface GuardOptions {
  /** [H, W, C]; required when `model` is a plain logits function. */
  inputShape?: [number, number, number];
  /** Inputs scored per forward batch. */
  batchSize?: number;
}

function shapeOf(model: tf.LayersModel): [number, number, number] {
  const s = model.inputs[0]?.shape.slice(1) ?? [];
  if (s.length !== 3 || s.some((d) => d === null || d < 1)) {
    throw new UserError(`guard: expected a model with image input [H, W, C], found [${s.join(',')}]`);
  }
  return s as [number, number, number];
}

export function guard(model: tf.LayersModel | LogitsFn, detector: CalibratedDetector, o: GuardOptions = {}): Guard {
  const f = logitsOf(model);
  const inputShape = o.inputShape ?? (typeof model === 'function' ? undefined : shapeOf(model));
  if (inputShape === undefined) throw new UserError('guard: a logits function needs options.inputShape [H, W, C]');
  if (detector.detector.needsFit) throw new UserError(`guard: the ${detector.detector.kind} detector is not fitted; calibrate it first`);
  const [h, w, c] = inputShape;
  const size = h * w * c;
  const numClasses = typeof model === 'function' ? NaN : (model.outputs[0]?.shape[model.outputs[0].shape.length - 1] as number);
  const bs = o.batchSize ?? 64;
  const { threshold, fprTarget } = detector.calibration;
  return {
    inputShape: [h, w, c], numClasses, detector: detector.detector.name, threshold, fprTarget,
    check(x: tf.Tensor | Float32Array): GuardDecision[] {
      let data: Float32Array;
      if (x instanceof Float32Array) data = x;
      else {
        const got = x.shape.slice(1);
        if (x.rank !== 4 || got.join() !== inputShape.join()) {
          throw new UserError(`guard: expected inputs of shape [N, ${inputShape.join(', ')}], got [${x.shape.join(', ')}]`);
        }
        data = x.dataSync() as Float32Array;
      }
      if (data.length === 0 || data.length % size !== 0) {
        throw new UserError(`guard: expected a multiple of ${h}×${w}×${c} = ${size} values (NHWC images), got ${data.length}`);
      }
      assertValidInputs(data, 'guard input');
      const n = data.length / size;
      const out: GuardDecision[] = [];
      for (let i = 0; i < n; i += bs) {
        const m = Math.min(bs, n - i);
        const xt = tf.tensor4d(data.subarray(i * size, (i + m) * size), [m, h, w, c]);
        try {
          const { pred, conf } = tf.tidy(() => {
            const p = tf.softmax(f(xt));
            return { pred: tf.argMax(p, 1).dataSync() as Int32Array, conf: tf.max(p, 1).dataSync() as Float32Array };
          });
          const s = detector.detector.score(f, xt);
          for (let j = 0; j < m; j++) {
            const flagged = (s[j] as number) > threshold;
            out.push({ prediction: pred[j] as number, confidence: conf[j] as number, suspicion: s[j] as number, threshold, flagged, decision: flagged ? 'reject' : 'accept' });
          }
        } finally {
          xt.dispose();
        }
      }
      return out;
    },
  };
}
