/**
 * Small run folders for the report's tests: what `alp train`, `alp eval`, `alp audit` and `alp demo`
 * write, with made-up numbers. Not part of the public API.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Dataset } from '../data/dataset.js';
import type { CleanLoader } from './examples.js';

export const TRAIN_CONFIG = {
  method: 'alp', arch: 'fast-cnn', dataset: 'mnist', epochs: 3, batchSize: 64, trainSize: 0, valSize: 500,
  optimizer: 'adam', lr: 0.001, momentum: 0.9, schedule: 'cosine', lrDecayAt: [0.5, 0.75], norm: 'linf', eps: 0.3,
  attackSteps: 10, attackStepSize: 0.075, epsRampEpochs: 0.5, lambda: 0.5, beta: 6, seed: 1, evalEvery: 400, evalAttackSteps: 10,
};

const VERSIONS = { alp: '0.1.0', node: 'v20.0.0', tfjs: '4.22.0', backend: 'wasm' };

function json(path: string, v: unknown): void {
  writeFileSync(path, JSON.stringify(v, null, 2));
}

export function modelJson(config: Record<string, unknown> | null): Record<string, unknown> {
  return {
    format: 'layers-model', generatedBy: 'test', convertedBy: null,
    modelTopology: { class_name: 'Sequential', config: { name: 'm', layers: [{ class_name: 'Conv2D', config: {} }, { class_name: 'Flatten', config: {} }, { class_name: 'Dense', config: {} }] } },
    weightsManifest: [{ paths: ['weights.bin'], weights: [{ name: 'c/kernel', shape: [3, 3, 1, 8], dtype: 'float32' }, { name: 'c/bias', shape: [8], dtype: 'float32' }, { name: 'd/kernel', shape: [5408, 10], dtype: 'float32' }, { name: 'd/bias', shape: [10], dtype: 'float32' }] }],
    ...(config !== null ? { userDefinedMetadata: { alp: { config, method: config['method'] } } } : {}),
  };
}

export function trainJson(config: Record<string, unknown>, scale = 1): Record<string, unknown> {
  return {
    config, fineTunedFrom: null, data: { dataset: 'mnist', trainExamples: 59500, valExamples: 500 }, steps: 2790,
    epochs: [0, 1, 2].map((e) => ({ epoch: e, loss: scale * (1.6 - 0.4 * e), parts: { ce: scale * (1.3 - 0.35 * e), pairing: 0.3 - 0.05 * e }, seconds: 100 + e })),
    evals: [400, 800, 930, 1400, 1860, 2790].map((step, i) => ({ step, epoch: step / 930, cleanAcc: 0.9 + 0.015 * i, robustAcc: 0.2 + 0.1 * i, examples: 500 })),
    trainSeconds: 312.5, versions: VERSIONS, argv: ['--method', config['method'], '--preset', 'quick', '--out', 'runs/x'],
  };
}

export function evalJson(clean: number, robust: number[], sweep: boolean): Record<string, unknown> {
  const names = ['fgsm', 'pgd-ce', 'pgd-cw'];
  return {
    model: 'runs/x', dataset: 'mnist', threat: { norm: 'linf', eps: 0.3 },
    result: {
      examples: 200, cleanAccuracy: clean,
      attacks: robust.map((r, i) => ({
        name: i === 0 ? 'fgsm-linf-ce' : `pgd-linf-${names[i]!.slice(4)}-40x5`,
        config: i === 0 ? { attack: 'fgsm', norm: 'linf', eps: 0.3, loss: 'ce' } : { attack: 'pgd', norm: 'linf', eps: 0.3, steps: 40, stepSize: 0.01875, randomStart: true, restarts: 5, loss: names[i]!.slice(4), seed: 1000 * i },
        robustAccuracy: r, successRate: 1 - r / clean, maxPerturbation: 0.3, seconds: 3 + i,
      })),
      worstCaseAccuracy: Math.max(0, Math.min(...robust) - 0.01),
    },
    epsSweep: sweep ? [0, 0.1, 0.2, 0.3, 0.4].map((eps) => ({ eps, robustAccuracy: Math.max(0, clean - eps * 2.2) })) : null,
    seconds: 42, versions: VERSIONS,
  };
}

/** A synthetic "MNIST" test split: each image a bright square whose size depends on the label. */
export function syntheticTest(count = 20, h = 28, w = 28, c = 1): Dataset {
  const images = new Float32Array(count * h * w * c);
  const labels = new Int32Array(count);
  for (let i = 0; i < count; i++) {
    labels[i] = i % 10;
    const r = 3 + (i % 10);
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        const on = Math.abs(y - h / 2) < r && Math.abs(x - w / 2) < r ? 0.9 : 0.05;
        for (let k = 0; k < c; k++) images[((i * h + y) * w + x) * c + k] = on;
      }
    }
  }
  return { name: 'mnist', images, labels, count, shape: [h, w, c], numClasses: 10 };
}

export function syntheticLoader(ds: Dataset = syntheticTest()): CleanLoader {
  return async (name) => (name === ds.name ? { ds } : { error: `no ${name} here` });
}

/** audit.json + examples.f32 for the test indices `ids` of `ds`, perturbed by ±eps in a checkerboard. */
export function writeAudit(folder: string, ds: Dataset, ids: number[], eps = 0.3, extra: Record<string, unknown> = {}): void {
  const [h, w, c] = ds.shape;
  const size = h * w * c;
  const adv = new Float32Array(ids.length * size);
  ids.forEach((id, j) => {
    for (let p = 0; p < size; p++) {
      const v = (ds.images[id * size + p] as number) + (((p + j) % 2 === 0 ? 1 : -1) * eps);
      adv[j * size + p] = Math.min(1, Math.max(0, v));
    }
  });
  writeFileSync(join(folder, 'examples.f32'), new Uint8Array(adv.buffer));
  json(join(folder, 'audit.json'), {
    model: folder, dataset: ds.name, threat: { norm: 'linf', eps }, version: 'quick', examples: 100, cleanAccuracy: 0.97,
    cascade: [
      { attack: 'fgsm-linf-ce', config: { attack: 'fgsm' }, robustAccuracyAfter: 0.71, fooledHere: 26, seconds: 0.4 },
      { attack: 'pgd-linf-ce-20x1', config: { attack: 'pgd' }, robustAccuracyAfter: 0.55, fooledHere: 16, seconds: 3.1 },
      { attack: 'pgd-linf-cw-20x1', config: { attack: 'pgd' }, robustAccuracyAfter: 0.53, fooledHere: 2, seconds: 3.3 },
      { attack: 'square-linf-300', config: { attack: 'square' }, robustAccuracyAfter: 0.5, fooledHere: 3, seconds: 9.9 },
    ],
    worstCaseAccuracy: 0.5,
    epsSweep: [0, 0.15, 0.3, 0.45, 0.6, 0.9].map((e) => ({ eps: e, robustAccuracy: Math.max(0, 0.97 - 1.6 * e) })),
    findings: [
      { id: 'logits', title: 'Outputs are logits, not probabilities', status: 'pass', detail: 'Logit spread is normal.', evidence: { maxAbsLogit: 12.5, lastActivation: 'linear' } },
      { id: 'eps-growth', title: 'Accuracy falls to zero as ε grows', status: 'warn', detail: 'At ε=0.9 accuracy is still 3%.', evidence: { eps: [0, 0.15, 0.3], acc: [0.97, 0.73, 0.49] } },
      { id: 'black-vs-white', title: 'Gradient-free attacks add little', status: 'fail', detail: 'Square attack fooled 3 examples PGD could not.', evidence: { extraFooled: 3, fraction: 0.03, attacks: { white: 'pgd', black: 'square' } } },
    ],
    examplesFile: {
      file: 'examples.f32', shape: [ids.length, h, w, c], clean: ids, labels: ids.map((i) => ds.labels[i]),
      cleanPred: ids.map((i) => ds.labels[i]), advPred: ids.map((i) => ((ds.labels[i] as number) + 3) % 10),
      attack: ids.map((_, j) => (j % 2 === 0 ? 'pgd-linf-ce-20x1' : 'square-linf-300')),
    },
    seconds: 64.2, seed: 0, versions: VERSIONS,
    ...extra,
  });
}

/** model.json, train.json, eval.json (with a sweep) and audit.json + examples.f32. */
export function fullRun(folder: string, ds: Dataset = syntheticTest()): string {
  mkdirSync(folder, { recursive: true });
  json(join(folder, 'model.json'), modelJson(TRAIN_CONFIG));
  json(join(folder, 'train.json'), trainJson(TRAIN_CONFIG));
  json(join(folder, 'eval.json'), evalJson(0.985, [0.91, 0.88, 0.89], true));
  writeAudit(folder, ds, [0, 3, 5, 7, 11, 13]);
  return folder;
}

/** A standard-training baseline: model.json, train.json, eval.json. */
export function standardRun(folder: string): string {
  mkdirSync(folder, { recursive: true });
  const config = { ...TRAIN_CONFIG, method: 'standard', epochs: 1 };
  json(join(folder, 'model.json'), modelJson(config));
  json(join(folder, 'train.json'), { ...trainJson(config, 0.4), epochs: [{ epoch: 0, loss: 0.21, parts: { ce: 0.21 }, seconds: 30 }], evals: [{ step: 930, epoch: 1, cleanAcc: 0.985, robustAcc: 0, examples: 500 }], trainSeconds: 31 });
  json(join(folder, 'eval.json'), evalJson(0.991, [0.02, 0, 0], true));
  return folder;
}

/** Only train.json. */
export function trainOnlyRun(folder: string): string {
  mkdirSync(folder, { recursive: true });
  json(join(folder, 'train.json'), { ...trainJson({ ...TRAIN_CONFIG, method: 'trades' }, 1.15), evals: [400, 930, 1860, 2790].map((step, i) => ({ step, epoch: step / 930, cleanAcc: +(0.85 + 0.03 * i).toFixed(3), robustAcc: +(0.3 + 0.12 * i).toFixed(3), examples: 500 })) });
  return folder;
}

/** A demo folder: report.json listing standard/ and alp/, each with model.json, train.json and a demo eval.json. */
export function demoFolder(folder: string): string {
  mkdirSync(folder, { recursive: true });
  const models = ['standard', 'alp'].map((name, i) => {
    const sub = join(folder, name);
    mkdirSync(sub, { recursive: true });
    const config = { ...TRAIN_CONFIG, method: name };
    const ev = evalJson(0.99 - 0.01 * i, i === 0 ? [0.05, 0, 0] : [0.9, 0.86, 0.87], false);
    json(join(sub, 'model.json'), modelJson(config));
    json(join(sub, 'train.json'), trainJson(config));
    json(join(sub, 'eval.json'), { dataset: 'mnist', threat: ev['threat'], result: ev['result'] });
    return { name, folder: `runs/demo/${name}`, config, trainSeconds: 100 + 200 * i, evalSeconds: 20, validation: null, eval: ev['result'] };
  });
  json(join(folder, 'report.json'), {
    command: 'alp demo', seed: 1, dataset: 'mnist', testExamples: 200, threat: { norm: 'linf', eps: 0.3 },
    suite: [{ attack: 'fgsm' }], models, totalSeconds: 400, versions: VERSIONS,
  });
  return folder;
}
