import type { TrainConfig } from './config.js';

/** Learning rate at a global step, a pure function of the config so a resumed run matches exactly. */
export function learningRate(c: TrainConfig, step: number, totalSteps: number): number {
  const progress = totalSteps > 0 ? Math.min(step / totalSteps, 1) : 0;
  switch (c.schedule) {
    case 'constant':
      return c.lr;
    case 'step':
      return c.lr * Math.pow(0.1, c.lrDecayAt.filter((f) => progress >= f).length);
    case 'cosine':
      return 0.5 * c.lr * (1 + Math.cos(Math.PI * progress));
  }
}

/** ε used for training examples at a step: a linear ramp over `epsRampEpochs`, then constant. */
export function trainingEps(c: TrainConfig, step: number, stepsPerEpoch: number): number {
  if (c.epsRampEpochs <= 0) return c.eps;
  const ramp = c.epsRampEpochs * stepsPerEpoch;
  return c.eps * Math.min(1, (step + 1) / ramp);
}
