/**
 * A detector is applied only to the kind of model it was calibrated for (issue 24, class 3): one
 * calibrated on a text model's embeddings, or on inputs of another size, is refused on an image
 * model with one line naming both; a detector of the same kind (or an older file) is accepted.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadMnist, subset } from '../data/index.js';
import { loadModel } from '../model/io.js';
import { savedMnistMlp } from '../testing/setup.js';
import { UserError } from '../util/errors.js';
import { MaxSoftmaxDetector } from './baselines.js';
import { calibrateDetector } from './calibrate.js';
import { checkDetectorFits, loadDetector, loadGuard, saveDetector } from './detector-files.js';

const tmp = mkdtempSync(join(tmpdir(), 'alp-detfit-'));
process.on('exit', () => rmSync(tmp, { recursive: true, force: true }));

test('a detector calibrated for a text model or other inputs is refused on an image model, naming both', async () => {
  const dir = await savedMnistMlp(join(tmp, 'img'));
  const model = await loadModel(dir);
  const r = calibrateDetector(new MaxSoftmaxDetector(), model, subset(loadMnist('test'), 0, 60), { fpr: 0.1 });
  const file = (name: string, data: Record<string, unknown> | undefined): string => saveDetector(join(tmp, name), r, { modelPath: dir, ...(data !== undefined ? { data } : {}) });
  const refused = (re: RegExp) => (e: unknown): boolean => e instanceof UserError && e.code === 2 && re.test(e.message);

  const text = file('text.json', { dataset: 'spam-assassin', modality: 'text', modelPath: 'runs/spam-std' });
  assert.throws(() => checkDetectorFits(loadDetector(text, dir), model, dir),
    refused(/text\.json: calibrated on a text model \(runs\/spam-std\), but .*img is an image or audio model; calibrate one for it: alp detect calibrate --model .*img$/));
  await assert.rejects(loadGuard(dir, text), refused(/calibrated on a text model/));
  // Older files without `modality` are recognised by their dataset.
  assert.throws(() => checkDetectorFits(loadDetector(file('old-text.json', { dataset: 'spam-assassin' }), dir), model, dir), refused(/calibrated on a text model, but/));
  const audio = file('audio.json', { modality: 'image/audio', inputShape: [1, 8000, 1], modelPath: 'runs/audio-std' });
  assert.throws(() => checkDetectorFits(loadDetector(audio, dir), model, dir), refused(/audio\.json: calibrated on inputs of 8000 values \(runs\/audio-std\), but .*img takes 784/));
  // The detector of this kind of model, and one from before these fields, are used.
  checkDetectorFits(loadDetector(file('same.json', { modality: 'image/audio', inputShape: [28, 28, 1] }), dir), model, dir);
  checkDetectorFits(loadDetector(file('plain.json', undefined), dir), model, dir);
});
