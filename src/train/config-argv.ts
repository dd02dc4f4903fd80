/**
 * The `alp train` options that give a config: what a run trained by the library (a comparison's
 * methods) records as its command line in train.json, so its folder reads like one `alp train` made and
 * a zoo card can say how to retrain it. Only the fields that differ from what the preset gives are
 * written. cli/config-argv.test.ts parses the result back through `alp train`'s spec.
 */
import { augmentText, type Augment } from '../data/augment.js';
import { resolveConfig, type ConfigOverrides, type TrainConfig } from './config.js';

/** Each config field and the `alp train` option that sets it. */
const OPTION_OF: { readonly [K in keyof Required<TrainConfig>]: string } = {
  method: 'method', arch: 'arch', activation: 'activation', dataset: 'data', epochs: 'epochs', batchSize: 'batch-size', trainSize: 'train-size',
  valSize: 'val-size', optimizer: 'optimizer', lr: 'lr', momentum: 'momentum', schedule: 'schedule', lrDecayAt: 'lr-decay-at',
  norm: 'norm', eps: 'eps', attackSteps: 'attack-steps', attackStepSize: 'attack-step-size', epsRampEpochs: 'eps-ramp-epochs',
  lambda: 'lambda', beta: 'beta', noise: 'noise', seed: 'seed', evalEvery: 'eval-every', evalAttackSteps: 'eval-attack-steps',
  textAdversary: 'text-adversary', trainSwaps: 'train-swaps', augment: 'augment', emaDecay: 'ema-decay',
  attackLoss: 'attack-loss', attackStart: 'attack-start',
};

/** Fields that change what the preset derives for others (ε scales the default step size), set first. */
const FIRST: ReadonlyArray<keyof TrainConfig> = ['method', 'dataset', 'arch', 'norm', 'eps'];

/**
 * A config value spelled as `alp train` takes it: numbers and names as they are, a list of numbers
 * comma-separated (`none` when empty: --lr-decay-at none), --augment's {crop, flip} as `crop:4,flip`
 * (`none` for neither). Null for a value no option takes. The report spells the config of a run's
 * train.json with it too (report/commands.ts), so the two command lines cannot drift apart.
 */
export function optionText(v: unknown): string | null {
  if (typeof v === 'number' && Number.isFinite(v)) return String(v);
  if (typeof v === 'string') return v;
  if (Array.isArray(v) && v.every((x) => typeof x === 'number' && Number.isFinite(x))) return v.length === 0 ? 'none' : v.join(',');
  const a = v as Partial<Augment> | null;
  if (typeof a === 'object' && a !== null && typeof a.crop === 'number' && typeof a.flip === 'boolean') {
    return augmentText(a as Augment) || 'none';
  }
  return null;
}

function optionValue(k: keyof TrainConfig, v: unknown): string {
  if (k === 'augment' && v === undefined) return 'none';
  const text = optionText(v);
  if (text === null) throw new Error(`trainArgvFor: ${k} = ${JSON.stringify(v)} has no spelling as an alp train option`);
  return text;
}

const same = (a: unknown, b: unknown): boolean => JSON.stringify(a) === JSON.stringify(b);

/**
 * `['--method', 'alp', '--preset', 'quick', '--eps', '0.1', …]`: the options after `alp train` that
 * resolve to `config` on data whose kind gives `dataDefaults` (train/data-defaults.ts).
 */
export function trainArgvFor(config: TrainConfig, preset?: string, dataDefaults: Partial<TrainConfig> = {}): string[] {
  const overrides: ConfigOverrides = {};
  const argv: string[] = ['--method', config.method, ...(preset !== undefined ? ['--preset', preset] : [])];
  const emit = (keys: ReadonlyArray<keyof TrainConfig>): void => {
    const base = resolveConfig(preset, { ...overrides, method: config.method }, dataDefaults);
    // alp train checks its options before it reads the data, so without the data kind's defaults: a norm
    // the kind gives (text: L2) is written out, or an L2 radius above 1 would be refused as L∞.
    const kindless = resolveConfig(preset, { method: config.method });
    for (const k of keys) {
      if (k === 'method' || (same(config[k], base[k]) && (k !== 'norm' || same(config[k], kindless[k])))) continue;
      (overrides as Record<string, unknown>)[k] = config[k];
      argv.push(`--${OPTION_OF[k]}`, optionValue(k, config[k]));
    }
  };
  emit(FIRST);
  emit((Object.keys(OPTION_OF) as Array<keyof TrainConfig>).filter((k) => !FIRST.includes(k)));
  return argv;
}
