/**
 * CIFAR-10 in its binary distribution (cifar-10-binary.tar.gz, extracted): each record is one label
 * byte then 3072 pixel bytes, the 32×32 red plane, then green, then blue, each row-major. Never
 * downloaded: the user points --data-dir at the extracted files.
 */
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { UserError } from '../util/errors.js';
import { UNIT_OF_BYTE, type Dataset } from './dataset.js';
import { readMaybeGzip } from './idx.js';
import { checkDir, checkSplit, findFile, type Split } from './locate.js';

export const CIFAR10_CLASSES = ['airplane', 'automobile', 'bird', 'cat', 'deer', 'dog', 'frog', 'horse', 'ship', 'truck'];

const SIDE = 32;
const PLANE = SIDE * SIDE;
const PIXELS = 3 * PLANE;
export const CIFAR10_RECORD_SIZE = 1 + PIXELS;

const HINT =
  'Download cifar-10-binary.tar.gz from https://www.cs.toronto.edu/~kriz/cifar.html yourself, extract it, ' +
  'and pass --data-dir with the folder holding data_batch_1.bin … data_batch_5.bin and test_batch.bin.';

/** One batch file, channel planes converted to HWC and scaled to [0,1]. */
export function readCifar10Batch(path: string): Dataset {
  const buf = readMaybeGzip(path);
  if (buf.length === 0 || buf.length % CIFAR10_RECORD_SIZE !== 0) {
    throw new UserError(
      `${path}: file size: expected a non-zero multiple of the CIFAR-10 record size ${CIFAR10_RECORD_SIZE} (1 label + 3072 pixel bytes), found ${buf.length} bytes`,
    );
  }
  const n = buf.length / CIFAR10_RECORD_SIZE;
  const images = new Float32Array(n * PIXELS);
  const labels = new Int32Array(n);
  const u = UNIT_OF_BYTE;
  for (let r = 0; r < n; r++) {
    const rec = r * CIFAR10_RECORD_SIZE;
    const y = buf[rec] as number;
    if (y >= CIFAR10_CLASSES.length) {
      throw new UserError(`${path}: record ${r}: label: expected a class in [0, 9], found ${y}`);
    }
    labels[r] = y;
    const src = rec + 1;
    const dst = r * PIXELS;
    for (let p = 0; p < PLANE; p++) {
      const o = dst + 3 * p;
      images[o] = u[buf[src + p] as number] as number;
      images[o + 1] = u[buf[src + PLANE + p] as number] as number;
      images[o + 2] = u[buf[src + 2 * PLANE + p] as number] as number;
    }
  }
  return { name: 'cifar10', images, labels, count: n, shape: [SIDE, SIDE, 3], numClasses: 10, classNames: [...CIFAR10_CLASSES] };
}

export interface Cifar10Options {
  /** Required: the extracted folder (or its parent holding cifar-10-batches-bin/). */
  dataDir?: string;
}

function concat(parts: Dataset[]): Dataset {
  const count = parts.reduce((a, p) => a + p.count, 0);
  const images = new Float32Array(count * PIXELS);
  const labels = new Int32Array(count);
  let at = 0;
  for (const p of parts) {
    images.set(p.images, at * PIXELS);
    labels.set(p.labels, at);
    at += p.count;
  }
  return { name: 'cifar10', images, labels, count, shape: [SIDE, SIDE, 3], numClasses: 10, classNames: [...CIFAR10_CLASSES] };
}

export function loadCifar10(split: Split, opts: Cifar10Options = {}): Dataset {
  checkSplit('cifar10', split);
  if (opts.dataDir === undefined) {
    throw new UserError(`cifar10: no data folder given; CIFAR-10 is never downloaded. ${HINT}`);
  }
  let dir = opts.dataDir;
  checkDir('cifar10', dir, HINT);
  const nested = join(dir, 'cifar-10-batches-bin');
  if (!existsSync(join(dir, 'test_batch.bin')) && existsSync(nested) && statSync(nested).isDirectory()) dir = nested;
  const names = split === 'train' ? [1, 2, 3, 4, 5].map((i) => `data_batch_${i}.bin`) : ['test_batch.bin'];
  const parts = names.map((n) => readCifar10Batch(findFile('cifar10', dir, `${split} batch`, [n, `${n}.gz`], HINT)));
  return parts.length === 1 ? (parts[0] as Dataset) : concat(parts);
}
