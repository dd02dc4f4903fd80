export { crossEntropy, crossEntropyPerExample } from './cross-entropy.js';
export { logitPairing, cleanLogitPairing } from './logit-pairing.js';
export { logitSqueezing } from './logit-squeezing.js';
export { tradesKl, klPerExample } from './trades.js';
