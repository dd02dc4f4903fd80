/**
 * An attack cascade in the AutoAttack manner: attacks run in order, each only on the examples that are
 * still robust, so the result is the worst case per example at the cost of attacking survivors only.
 * Robust accuracy is recorded after each attack. State is checkpointed after every batch, so an
 * interrupted audit resumes where it stopped.
 */
import { checkEvalCall } from './check-call.js';
import { existsSync, readFileSync } from 'node:fs';
import type { Attack } from '../attack/attack.js';
import { attackRows, predictDataset } from '../attack/runner.js';
import type { Dataset } from '../data/dataset.js';
import type { LogitsFn } from '../model/classifier.js';
import { writeJsonAtomic } from '../util/atomic.js';
import { UserError } from '../util/errors.js';
import { rowsOf } from './evaluate.js';

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
  /** The adversarial examples kept so far (test index, flat row), so a resumed run loses none. */
  kept: Array<{ id: number; data: number[] }>;
}

export interface CascadeOptions {
  batchSize?: number;
  /** JSON file to checkpoint progress to, and to resume from. */
  statePath?: string;
  /** A string identifying model + data + suite; a state with another key is not resumed. */
  key?: string;
  /** Called after every batch of every attack: examples done of `total` this attack runs on, and how many are still robust. */
  onProgress?: (p: { attack: string; done: number; total: number; robust: number }) => void;
  /** Told whether a state file was resumed (true) or one with another key was found and ignored (false). */
  onResume?: (resumed: boolean) => void;
  /** Keep at most this many adversarial examples (for report grids). */
  keepExamples?: number;
  /**
   * Aborting it stops the cascade after the current batch with InterruptedError; that batch is in the
   * state file already, so the same call resumes from it.
   */
  signal?: AbortSignal;
  /**
   * Attack only rows [start, end) (a shard's or a worker's share); rows outside count as neither
   * correct nor robust, so the result's accuracies are then over `ds.count` and only its per-example
   * vectors inside the range mean anything.
   */
  range?: readonly [number, number];
}

function loadState(path: string | undefined, key: string): CascadeState | null {
  if (path === undefined || !existsSync(path)) return null;
  let s: CascadeState;
  try {
    s = JSON.parse(readFileSync(path, 'utf8')) as CascadeState;
  } catch (e) {
    throw new UserError(`${path}: cannot resume, the state file is not valid JSON (${(e as Error).message}); delete it to start over`);
  }
  if (s.key !== key) return null;
  // A state written before kept examples were checkpointed cannot give the uninterrupted result.
  if (!Array.isArray(s.kept)) throw new UserError(`${path}: cannot resume, the state file predates kept-example checkpoints; run with --fresh`);
  return s;
}

export async function runCascade(f: LogitsFn, ds: Dataset, attacks: Attack[], o: CascadeOptions = {}): Promise<CascadeResult> {
  checkEvalCall(ds, attacks.map((a) => a.threat), o);
  const bs = o.batchSize ?? 250;
  const key = o.key ?? attacks.map((a) => a.name).join('|');
  let state = loadState(o.statePath, key);
  if (state !== null) o.onResume?.(true);
  else if (o.statePath !== undefined && existsSync(o.statePath)) o.onResume?.(false);
  if (state === null) {
    const [start, end] = o.range ?? [0, ds.count];
    const pred = predictDataset(f, rowsOf(ds, start, end));
    const correct = Array.from({ length: ds.count }, (_, i) => (i >= start && i < end ? Number(pred[i - start] === ds.labels[i]) : 0));
    state = { key, robust: [...correct], correct, fooledBy: new Array<string>(ds.count).fill(''), steps: [], attackIndex: 0, done: 0, secondsInAttack: 0, kept: [] };
  }
  const keep = o.keepExamples ?? 0;
  const size = ds.shape[0] * ds.shape[1] * ds.shape[2];
  const save = (): void => {
    if (o.statePath !== undefined) writeJsonAtomic(o.statePath, state);
  };

  for (let a = state.attackIndex; a < attacks.length; a++) {
    const attack = attacks[a] as Attack;
    // Survivors at the start of this attack; those already handled in an interrupted run are skipped.
    const todo: number[] = [];
    for (let i = 0; i < ds.count; i++) if (state.robust[i] || (state.fooledBy[i] === attack.name && state.done > 0)) todo.push(i);
    let fooledHere = state.fooledBy.filter((b) => b === attack.name).length;
    const t0 = Date.now() - state.secondsInAttack * 1000;
    const ids = todo.slice(state.done).filter((i) => state.robust[i] === 1);
    const skipped = state.done;
    await attackRows(f, ds, ids, attack, {
      batchSize: bs,
      ...(o.signal !== undefined ? { signal: o.signal } : {}),
      onBatch: (b, doneHere) => {
        b.ids.forEach((id, j) => {
          if (!b.success[j]) return;
          state.robust[id] = 0;
          state.fooledBy[id] = attack.name;
          fooledHere++;
          if (state.kept.length < keep) state.kept.push({ id, data: Array.from(b.data.subarray(j * size, (j + 1) * size)) });
        });
        state.done = skipped + doneHere;
        state.secondsInAttack = (Date.now() - t0) / 1000;
        save();
        o.onProgress?.({ attack: attack.name, done: state.done, total: todo.length, robust: state.robust.reduce((p, q) => p + q, 0) });
      },
    });
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
  const adversarial = new Map(state.kept.map((k) => [k.id, Float32Array.from(k.data)] as const));
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
