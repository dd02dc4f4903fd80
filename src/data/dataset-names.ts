/** The datasets alp knows, by the names the command line uses: without tfjs, so options can be checked before it loads. */
export const DATASET_NAMES = ['mnist', 'fashion-mnist', 'cifar10', 'spoken-digits', 'spam-assassin'] as const;

export type DatasetName = (typeof DATASET_NAMES)[number];
