/**
 * An attack cascade in the AutoAttack manner: attacks run in order, each only on the examples that are
 * still robust, so the result is the worst case per example at the cost of attacking survivors only.
 * Robust accuracy is recorded after each attack. State is checkpointed after every batch, so an
 * interrupted audit resumes where it stopped.
 */
import { existsSync, readFileSync } from 'node:fs';
import * as tf from '@tensorflow/tfjs';
import type { Attack } from '../attack/attack.js';
import { normOf } from '../attack/threat-model.js';
import type { Dataset } from '../data/dataset.js';
import type { LogitsFn } from '../model/classifier.js';
import { writeJsonAtomic } from '../util/atomic.js';
import { UserError } from '../util/errors.js';
import { gatherRows, predictAll } from './evaluate.js';

export interface CascadeStep {
  attack: string;
  config: Record<string, unknown>;
  /** Robust accuracy over all examples after this attack (and all before it). */
  robustAccuracyAfter: number;
  /** Examples this attack fooled that every earlier attack had failed on. */
  fooledHere: number;
  seconds: number;
}

export interface CascadeResult {
  examples: number;
  cleanAccuracy: number;
  steps: CascadeStep[];
  worstCaseAccuracy: number;
  /** Per example: the attack that first fooled it ('' if robust or misclassified clean). */
  fooledBy: string[];
  /** Per example: 1 if correct and robust to the whole cascade. */
  robust: number[];
  /** Adversarial examples that fooled the model, by example index. */
  adversarial: Map<number, Float32Array>;
}

interface CascadeState {
  key: string;
  robust: number[];
  correct: number[];
  fooledBy: string[];
  steps: CascadeStep[];
  /** Attack in progress and how many of its todo examples are done. */
  attackIndex: number;
  done: number;
  secondsInAttack: number;
}

export interface CascadeOptions {
  batchSize?: number;
  /** JSON file to checkpoint progress to, and to resume from. */
  statePath?: string;
  /** A string identifying model + data + suite; a state with another key is not resumed. */
  key?: string;
  onProgress?: (p: { attack: string; done: number; total: number; robust: number }) => void;
  /** Keep at most this many adversarial examples (for report grids). */
  keepExamples?: number;
}

function loadState(path: string | undefined, key: string): CascadeState | null {
  if (path === undefined || !existsSync(path)) return null;
  let s: CascadeState;
  try {
    s = JSON.parse(readFileSync(path, 'utf8')) as CascadeState;
  } catch (e) {
    throw new UserError(`${path}: cannot resume, the state file is not valid JSON (${(e as Error).message}); delete it to start over`);
  }
  return s.key === key ? s : null;
}

export function runCascade(f: LogitsFn, ds: Dataset, attacks: Attack[], o: CascadeOptions = {}): CascadeResult {
  const bs = o.batchSize ?? 250;
  const key = o.key ?? attacks.map((a) => a.name).join('|');
  let state = loadState(o.statePath, key);
  if (state === null) {
    const pred = predictAll(f, ds);
    const correct = Array.from({ length: ds.count }, (_, i) => Number(pred[i] === ds.labels[i]));
    state = { key, robust: [...correct], correct, fooledBy: new Array<string>(ds.count).fill(''), steps: [], attackIndex: 0, done: 0, secondsInAttack: 0 };
  }
  const adversarial = new Map<number, Float32Array>();
  const keep = o.keepExamples ?? 0;
  const size = ds.shape[0] * ds.shape[1] * ds.shape[2];
  const save = (): void => {
    if (o.statePath !== undefined) writeJsonAtomic(o.statePath, state);
  };

  for (let a = state.attackIndex; a < attacks.length; a++) {
    const attack = attacks[a] as Attack;
    const norm = normOf(attack.threat.norm);
    // Survivors at the start of this attack; those already handled in an interrupted run are skipped.
    const todo: number[] = [];
    for (let i = 0; i < ds.count; i++) if (state.robust[i] || (state.fooledBy[i] === attack.name && state.done > 0)) todo.push(i);
    let fooledHere = state.fooledBy.filter((b) => b === attack.name).length;
    const t0 = Date.now() - state.secondsInAttack * 1000;
    for (let k = state.done; k < todo.length; k += bs) {
      const ids = todo.slice(k, k + bs).filter((i) => state.robust[i] === 1);
      if (ids.length > 0) {
        const { x, y } = gatherRows(ds, ids);
        const r = attack.run(f, x, y);
        const checked = tf.tidy(() => ({
          pred: f(r.adversarial).argMax(-1).dataSync() as Int32Array,
          size: norm.size(tf.sub(r.adversarial, x)).dataSync() as Float32Array,
        }));
        const data = r.adversarial.dataSync() as Float32Array;
        ids.forEach((id, j) => {
          if ((checked.size[j] as number) > attack.threat.eps * (1 + 1e-4) + 1e-6) throw new Error(`${attack.name} left the ε-ball`);
          if (checked.pred[j] !== ds.labels[id]) {
            state.robust[id] = 0;
            state.fooledBy[id] = attack.name;
            fooledHere++;
            if (adversarial.size < keep) adversarial.set(id, data.slice(j * size, (j + 1) * size));
          }
        });
        tf.dispose([x, y, r.adversarial]);
      }
      state.done = Math.min(k + bs, todo.length);
      state.secondsInAttack = (Date.now() - t0) / 1000;
      save();
      o.onProgress?.({ attack: attack.name, done: state.done, total: todo.length, robust: state.robust.reduce((p, q) => p + q, 0) });
    }
    state.steps.push({
      attack: attack.name, config: attack.describe(),
      robustAccuracyAfter: state.robust.reduce((p, q) => p + q, 0) / Math.max(ds.count, 1),
      fooledHere, seconds: (Date.now() - t0) / 1000,
    });
    state.attackIndex = a + 1;
    state.done = 0;
    state.secondsInAttack = 0;
    save();
  }
  const nCorrect = state.correct.reduce((p, q) => p + q, 0);
  return {
    examples: ds.count,
    cleanAccuracy: nCorrect / Math.max(ds.count, 1),
    steps: state.steps,
    worstCaseAccuracy: state.robust.reduce((p, q) => p + q, 0) / Math.max(ds.count, 1),
    fooledBy: state.fooledBy,
    robust: state.robust,
    adversarial,
  };
}
