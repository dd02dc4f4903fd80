import { test } from 'node:test';
import assert from 'node:assert/strict';
import { get, parseCommand, type Parsed } from './args.js';
import { TRAIN_SPEC } from './specs/train.js';
import { configOverrides } from './commands/train.js';
import { loaderOptionsOf } from './common.js';
import { trainArgvFor } from '../train/config-argv.js';
import { PRESET_NAMES, resolveConfig, type TrainConfig } from '../train/config.js';
import { dataDefaults } from '../train/data-defaults.js';
import { loaderArgv, type LoaderOptions } from '../data/source.js';

/** What `alp train ARGV` resolves to, as runTrainCommand does it (kind defaults given, since no data is read here). */
function trainConfigOf(argv: string[], kind: Partial<TrainConfig>): TrainConfig {
  const p = parseCommand(argv, TRAIN_SPEC) as Parsed;
  resolveConfig(get.str(p, 'preset'), configOverrides(p)); // alp train's check before the data is read
  return resolveConfig(get.str(p, 'preset'), configOverrides(p), kind);
}

test('trainArgvFor: `alp train` parses the options back to the same config, for every preset, method and data kind', () => {
  const kinds = [dataDefaults('image', [28, 28, 1]).fields, dataDefaults('image', [32, 32, 3]).fields, dataDefaults('text', [128, 1, 1]).fields, dataDefaults('audio', [8000, 1, 1]).fields];
  const variants: Array<Partial<TrainConfig>> = [
    {},
    // The preset's own values, chosen over what the data kind would give (RGB: 8/255; text: text-cnn).
    { eps: 0.3, arch: 'fast-cnn', attackStepSize: 0.075 },
    { eps: 0.1, epochs: 13, trainSize: 57280, evalEvery: 0 },
    { eps: 0.35, attackStepSize: 0.0875, lambda: 0.3, emaDecay: 0.999, lrDecayAt: [0.4, 0.9], schedule: 'step', attackLoss: 'cw', activation: 'swish' },
    { schedule: 'step', lrDecayAt: [] },
    { method: 'trades', beta: 3, seed: 7, batchSize: 32, valSize: 0, augment: { crop: 4, flip: true } },
    { method: 'pgd-at', norm: 'l2', eps: 1.5, optimizer: 'sgd', momentum: 0.8, lr: 0.05, arch: 'madry-cnn' },
    { method: 'pgd-at', norm: 'linf', eps: 0.3, attackStart: 'vertex', emaDecay: 0.999 },
    { method: 'alp', textAdversary: 'swap', trainSwaps: 3, noise: 0.1, evalAttackSteps: 20, epsRampEpochs: 2.5 },
  ];
  let checked = 0;
  for (const preset of [undefined, ...PRESET_NAMES]) {
    for (const kind of kinds) {
      for (const v of variants) {
        const config = resolveConfig(preset, { method: 'alp', ...v }, kind);
        const argv = trainArgvFor(config, preset, kind);
        assert.deepEqual(trainConfigOf(argv, kind), config, `preset ${preset}, ${JSON.stringify(v)}: alp train ${argv.join(' ')}`);
        checked++;
      }
    }
  }
  assert.equal(checked, 6 * 4 * 9);
  // Only what differs from the preset is written: the Fashion-MNIST comparison's ALP run.
  const fashion = resolveConfig('quick', { method: 'alp', dataset: 'fashion-mnist', eps: 0.1, evalEvery: 0, epochs: 13, trainSize: 57280 });
  assert.deepEqual(trainArgvFor(fashion, 'quick'), ['--method', 'alp', '--preset', 'quick', '--data', 'fashion-mnist', '--eps', '0.1', '--epochs', '13', '--train-size', '57280', '--eval-every', '0']);
});

test('loaderArgv: the data-reading options parse back to the same loader options', () => {
  const cases: LoaderOptions[] = [{}, { imageSize: [32, 48], channels: 3, testFraction: 0.25 }, { textColumn: 'body', labelColumn: '2' }, { audioLength: 8000, channels: 1 }];
  for (const o of cases) assert.deepEqual(loaderOptionsOf(parseCommand(['--method', 'alp', ...loaderArgv(o)], TRAIN_SPEC) as Parsed), o);
});
