/**
 * A training run in a child process, for tests that kill it (kill -9) at chosen steps. Usage:
 *   node train-child.js DIR METHOD OPTIMIZER resume|fresh [WORKERS]
 * Trains the toy problem with a checkpoint after every step and prints "step N" after each; every
 * step is slowed by 25 ms so the parent's kill lands mid-run. Not part of the public API.
 */
import { buildArch } from '../model/architectures.js';
import { trainModel } from '../train/trainer.js';
import { childConfig, childData } from './train-child-config.js';
import { useBackend } from './setup.js';

const [dir, method, optimizer, mode, workers] = process.argv.slice(2) as [string, string, string, string, string | undefined];
await useBackend();
const c = childConfig(method, optimizer);
const { train, val } = childData();
const model = buildArch('mlp', { inputShape: [6, 6, 1], numClasses: 4, seed: mode === 'resume' ? 999 : c.seed });
const pause = new Int32Array(new SharedArrayBuffer(4));
await trainModel(model, train, val, c, {
  checkpointDir: dir,
  resume: mode === 'resume',
  checkpointEvery: 1,
  workers: Number(workers ?? 1),
  onProgress: (p) => {
    process.stdout.write(`step ${p.step}\n`);
    Atomics.wait(pause, 0, 0, 25);
  },
});
process.stdout.write('done\n');
