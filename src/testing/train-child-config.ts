/** The configuration and data of train-child.ts, shared with the test that checks it. */
import type { Dataset } from '../data/dataset.js';
import { resolveConfig, type Method, type OptimizerName, type TrainConfig } from '../train/config.js';
import { toyDataset } from './setup.js';

export function childConfig(method: string, optimizer: string): TrainConfig {
  return resolveConfig(undefined, {
    method: method as Method, optimizer: optimizer as OptimizerName, arch: 'mlp', epochs: 3, batchSize: 16, eps: 0.2,
    attackSteps: 3, attackStepSize: 0.1, lr: 0.01, schedule: 'cosine', epsRampEpochs: 1, evalEvery: 0, evalAttackSteps: 3, seed: 7,
  });
}

export function childData(): { train: Dataset; val: Dataset } {
  return { train: toyDataset(96, 5), val: toyDataset(32, 6) };
}
