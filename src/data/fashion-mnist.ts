/** Fashion-MNIST, by default from Debian's dataset-fashion-mnist package (gzipped IDX files). */
import { fromIdx, type Dataset } from './dataset.js';
import { checkSplit, findIdxPair, type Split } from './locate.js';

export const FASHION_MNIST_DIR = '/usr/share/datasets/fashion-mnist';

export const FASHION_MNIST_CLASSES = [
  'T-shirt/top',
  'Trouser',
  'Pullover',
  'Dress',
  'Coat',
  'Sandal',
  'Shirt',
  'Sneaker',
  'Bag',
  'Ankle boot',
];

export interface FashionMnistOptions {
  /** A folder with train-images-idx3-ubyte(.gz) etc. */
  dataDir?: string;
}

const HINT =
  'Install it with `apt-get install dataset-fashion-mnist` (files go to ' +
  `${FASHION_MNIST_DIR}) or pass --data-dir with the Fashion-MNIST IDX files.`;

export function loadFashionMnist(split: Split, opts: FashionMnistOptions = {}): Dataset {
  checkSplit('fashion-mnist', split);
  const dir = opts.dataDir ?? FASHION_MNIST_DIR;
  const f = findIdxPair('fashion-mnist', dir, split, HINT);
  return fromIdx('fashion-mnist', f.images, f.labels, { classNames: FASHION_MNIST_CLASSES });
}
