/** The backends --backend accepts: without tfjs, so options can be checked before it loads. */
export type BackendChoice = 'auto' | 'tensorflow' | 'wasm' | 'cpu';
export const BACKEND_CHOICES: readonly BackendChoice[] = ['auto', 'tensorflow', 'wasm', 'cpu'];
