/**
 * Module resolution hooks (node:module register) under which importing any `@tensorflow/*` package
 * fails with an error naming it: a process that answers without loading tfjs is unaffected. Loaded
 * with `node --import ./dist/testing/no-tfjs-register.js`. Not part of the public API.
 */
type Next = (specifier: string, context: unknown) => Promise<{ url: string }>;

export async function resolve(specifier: string, context: unknown, next: Next): Promise<{ url: string; shortCircuit?: boolean }> {
  if (specifier.startsWith('@tensorflow/')) throw new Error(`no-tfjs hook: ${specifier} was imported`);
  return next(specifier, context);
}
