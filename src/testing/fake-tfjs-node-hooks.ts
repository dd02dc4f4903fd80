/**
 * Module resolution hooks (node:module register) that resolve `@tensorflow/tfjs-node` to
 * fake-tfjs-node.js: the module boundary that `--backend tensorflow` crosses, faked for tests.
 * Loaded with `node --import ./dist/testing/fake-tfjs-node-register.js`. Not part of the public API.
 */
const FAKE = new URL('./fake-tfjs-node.js', import.meta.url).href;

type Next = (specifier: string, context: unknown) => Promise<{ url: string }>;

export async function resolve(specifier: string, context: unknown, next: Next): Promise<{ url: string; shortCircuit?: boolean }> {
  if (specifier === '@tensorflow/tfjs-node') return { url: FAKE, shortCircuit: true };
  return next(specifier, context);
}
