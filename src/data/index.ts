/** The data layer: IDX files, datasets, batching, and the MNIST / Fashion-MNIST / CIFAR-10 loaders. */
export { readIdx, writeIdx, parseIdx, encodeIdx, isGzip, type IdxArray, type IdxDtype, type IdxData } from './idx.js';
export {
  fromIdx,
  subset,
  take,
  imageSize,
  Batcher,
  toTensors,
  type Dataset,
  type FromIdxOptions,
  type Batch,
  type BatcherOptions,
  type TensorPair,
} from './dataset.js';
export { SPLITS, type Split } from './locate.js';
export { loadMnist, defaultMnistDir, type MnistOptions } from './mnist.js';
export { loadFashionMnist, FASHION_MNIST_DIR, FASHION_MNIST_CLASSES, type FashionMnistOptions } from './fashion-mnist.js';
export { readCifar10Batch, loadCifar10, CIFAR10_CLASSES, CIFAR10_RECORD_SIZE, type Cifar10Options } from './cifar10.js';
export { parseWav, encodeWav, type Wave } from './wav.js';
export { resample, trimSilence, centreIn, peakNormalise, waveToUnit, unitToWave, linfEpsToDb } from './audio.js';
export {
  loadSpokenDigits,
  synthesiseSpokenDigits,
  digitRecipes,
  defaultAudioCacheDir,
  SPOKEN_DIGITS_CLASSES,
  SPOKEN_DIGITS_RATE,
  SPOKEN_DIGITS_LENGTH,
  SPOKEN_DIGITS_PEAK,
  type SpokenDigitsOptions,
  type DigitRecipe,
} from './spoken-digits.js';
export { tokenize, buildVocabulary, vocabularyOf, encodeTokens, decodeIds, PAD, UNK, PAD_ID, UNK_ID, type Vocabulary } from './text.js';
export { loadSpamAssassin, readSpamCorpus, messageText, isTestMessage, SPAM_CLASSES, SPAM_SEQUENCE_LENGTH, SPAM_VOCABULARY_SIZE, type SpamMessage, type SpamOptions } from './spam-assassin.js';
export { loadDataset, DATASET_NAMES, type DatasetName, type LoadOptions } from './registry.js';
export { parseDataSource, isDataPath, checkLoaderOptions, sourceLabel, sourceOfRecord, DATA_FORMATS, DEFAULT_TEST_FRACTION, DEFAULT_MAX_PIXELS, type DataSource, type DataFormat, type DataKind, type LoaderOptions, type SourceRecord } from './source.js';
export { loadSource, checkAgainstRecord, dataKindOf, type LoadedSource, type SourceLoadOptions } from './resolve.js';
export { scanClassFolders, interleave, stratifiedSplit, type FolderSplits, type LabelledFile } from './class-folders.js';
