/**
 * Equal budgets for a fair comparison of training methods. A method's pace (CPU seconds per step, which
 * the load of other processes hardly changes, unlike wall time) is measured on a few probe steps; the budget becomes a fixed number of steps, so that each method's
 * learning-rate schedule and ε ramp run to their end inside the budget and the run stays deterministic and
 * exactly resumable (stopping on a clock would make the weights depend on the machine's load).
 */
import { cpus, loadavg } from 'node:os';
import type { Dataset } from '../data/dataset.js';
import { buildArch } from '../model/architectures.js';
import type { TrainConfig } from '../train/config.js';
import { trainModel } from '../train/trainer.js';
import { UserError } from '../util/errors.js';

export interface Pace {
  /**
   * CPU seconds (user + system, this process) per step. On a shared machine the wall time of a step swings
   * with the other processes' load (4-15x within a minute was seen), while its CPU time hardly moves; a
   * single-threaded process on an idle core spends one CPU second per wall second, so a budget of N
   * minutes is N minutes of one idle core whatever the load while it runs.
   */
  secondsPerStep: number;
  /** Wall-clock seconds per step during the same probe (load dependent; for the record). */
  wallSecondsPerStep?: number;
  /** Steps timed (after the warm-up steps, which compile kernels and are not counted). */
  stepsTimed: number;
  /** When it was measured, and the machine's load then (1, 5, 15-minute load averages, as `uptime` prints them). */
  measuredAt?: string;
  loadAverage?: number[];
  cpu?: string;
  /** Seconds per step of each measurement round, when several were averaged (compare.ts). */
  rounds?: number[];
}

/** CPU seconds (user + system) this process has used. */
export function cpuSeconds(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
}

/**
 * Times `probeSteps` training steps of config `c` on a throwaway copy of the architecture; the first
 * `warmup` steps are excluded.
 */
export async function measurePace(c: TrainConfig, train: Dataset, val: Dataset | null, probeSteps = 8, warmup = 2): Promise<Pace> {
  if (!Number.isInteger(probeSteps) || probeSteps <= warmup) throw new UserError(`probe steps: expected an integer > ${warmup}, got ${probeSteps}`);
  const model = buildArch(c.arch, { inputShape: train.shape, numClasses: train.numClasses, seed: c.seed, ...(c.activation !== undefined ? { activation: c.activation } : {}), ...(train.vocabulary !== undefined ? { vocabularySize: train.vocabulary.length } : {}) });
  let tStart = 0;
  let tEnd = 0;
  let cStart = 0;
  let cEnd = 0;
  try {
    // No validation passes during the probe: they are part of the budget but not of a step's cost.
    await trainModel(model, train, val, { ...c, evalEvery: 0 }, {
      stopAfterSteps: probeSteps,
      onProgress: (p) => {
        if (p.step === warmup) {
          tStart = performance.now();
          cStart = cpuSeconds();
        }
        if (p.step === probeSteps) {
          tEnd = performance.now();
          cEnd = cpuSeconds();
        }
      },
    });
  } finally {
    model.dispose();
  }
  const stepsTimed = probeSteps - warmup;
  return {
    secondsPerStep: (cEnd - cStart) / stepsTimed, wallSecondsPerStep: (tEnd - tStart) / 1000 / stepsTimed, stepsTimed,
    measuredAt: new Date().toISOString(), loadAverage: loadavg().map((l) => Math.round(l * 100) / 100), cpu: cpus()[0]?.model ?? 'unknown',
  };
}

/**
 * The config that trains for `steps` steps: whole epochs over the full pool when they fit, otherwise the
 * epochs rounded up over an equal share of the pool (the first examples), so the count of steps is met
 * to within one batch per epoch and every epoch-based schedule (ε ramp, validation) stays meaningful.
 */
export function configForSteps(c: TrainConfig, poolSize: number, steps: number): TrainConfig {
  if (!Number.isInteger(steps) || steps < 1) throw new UserError(`budget: expected at least one training step, got ${steps}`);
  const pool = c.trainSize > 0 ? Math.min(c.trainSize, poolSize) : poolSize;
  // The trainer drops the last partial batch of an epoch, so an epoch is floor(pool / batch) steps.
  const perEpoch = Math.floor(pool / c.batchSize);
  if (perEpoch < 1) throw new UserError(`budget: batch size ${c.batchSize} is larger than the ${pool} training examples`);
  const epochs = Math.max(1, Math.ceil(steps / perEpoch));
  const stepsEach = Math.ceil(steps / epochs);
  return { ...c, epochs, trainSize: stepsEach * c.batchSize };
}

/** Steps that fit `budgetSeconds` at `pace`, at least one. */
export function stepsForBudget(pace: Pace, budgetSeconds: number): number {
  if (!(budgetSeconds > 0)) throw new UserError(`budget: expected seconds > 0, got ${budgetSeconds}`);
  return Math.max(1, Math.floor(budgetSeconds / pace.secondsPerStep));
}
