/**
 * Builds the browser bundles with esbuild (Node-side; not part of the browser graph). Runs after tsc,
 * from the compiled JavaScript in dist/:
 *   dist/browser/alp.js                 alp/browser + TF.js (cpu, webgl, wasm backends) as one ES module
 *   dist/browser/playground-worker.js   the playground's compute worker; imports ./alp.js at run time
 *   dist/browser/playground-ui.js       the playground page's script (DOM only)
 * alp's own modules must not import a Node built-in: the build fails naming the module that does.
 * Dependencies go through esbuild's browser resolution (their package.json "browser" field).
 *
 * Run as a script (`node dist/browser/build-bundle.js`) by npm's build, test and prepare.
 */
import { builtinModules } from 'node:module';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Metafile, Plugin } from 'esbuild';

const HERE = dirname(fileURLToPath(import.meta.url));
/** dist/ of this build. */
export const DIST = resolve(HERE, '..');

export const BUNDLES = {
  library: 'browser/alp.js',
  worker: 'browser/playground-worker.js',
  ui: 'browser/playground-ui.js',
} as const;

const BUILTINS = new Set(builtinModules.flatMap((m) => [m, `node:${m}`]));

export function isNodeBuiltin(spec: string): boolean {
  return BUILTINS.has(spec) || spec.startsWith('node:') || BUILTINS.has(spec.split('/')[0] as string);
}

/** Fails the build on a Node built-in imported from alp's own code (anything outside node_modules). */
function noNodeBuiltins(offences: string[]): Plugin {
  return {
    name: 'alp-no-node-builtins',
    setup(build) {
      build.onResolve({ filter: /.*/ }, (args) => {
        if (args.importer === '' || args.importer.includes(`${sep}node_modules${sep}`)) return undefined;
        if (!isNodeBuiltin(args.path)) return undefined;
        const who = relative(process.cwd(), args.importer);
        offences.push(`${who} imports '${args.path}'`);
        return { errors: [{ text: `Node built-in '${args.path}' imported by ${who}: the browser graph must stay free of Node built-ins` }] };
      });
    },
  };
}

/** Maps the worker's import of alp/browser to the prebuilt ./alp.js, loaded beside it at run time. */
const alpExternal: Plugin = {
  name: 'alp-external',
  setup(build) {
    build.onResolve({ filter: /\/browser\/index\.js$/ }, () => ({ path: './alp.js', external: true }));
  },
};

export interface BundleResult {
  /** Output file → bytes. */
  outputs: Record<string, number>;
  metafile: Metafile;
}

/** Bundles one entry for the browser; throws (naming the module) if alp's code imports a Node built-in. */
export async function bundleForBrowser(entry: string, outfile: string, o: { alpExternal?: boolean; write?: boolean } = {}): Promise<BundleResult> {
  const esbuild = await import('esbuild');
  const offences: string[] = [];
  const r = await esbuild.build({
    entryPoints: [entry],
    outfile,
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2020',
    minify: true,
    sourcemap: false,
    metafile: true,
    write: o.write ?? true,
    logLevel: 'silent',
    legalComments: 'none',
    plugins: [noNodeBuiltins(offences), ...(o.alpExternal === true ? [alpExternal] : [])],
  }).catch((e: unknown) => {
    const msgs = (e as { errors?: Array<{ text: string }> }).errors?.map((m) => m.text) ?? [(e as Error).message];
    throw new Error(`browser bundle of ${relative(process.cwd(), entry)} failed:\n  ${[...new Set([...offences.map((x) => `Node built-in: ${x}`), ...msgs])].join('\n  ')}`);
  });
  const outputs: Record<string, number> = {};
  for (const [k, v] of Object.entries(r.metafile.outputs)) outputs[k] = v.bytes;
  return { outputs, metafile: r.metafile };
}

/** Builds the three bundles into `dist` (default: this build's dist/). */
export async function buildBrowserBundles(dist = DIST): Promise<Record<string, number>> {
  const lib = await bundleForBrowser(join(dist, 'browser/index.js'), join(dist, BUNDLES.library));
  const worker = await bundleForBrowser(join(dist, 'playground/worker.js'), join(dist, BUNDLES.worker), { alpExternal: true });
  const ui = await bundleForBrowser(join(dist, 'playground/ui.js'), join(dist, BUNDLES.ui));
  return { ...lib.outputs, ...worker.outputs, ...ui.outputs };
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  buildBrowserBundles().then(
    (out) => {
      for (const [f, bytes] of Object.entries(out)) process.stdout.write(`bundle: ${f} (${(bytes / 1024).toFixed(0)} KiB)\n`);
    },
    (e: unknown) => {
      process.stderr.write(`${(e as Error).message}\n`);
      process.exitCode = 1;
    },
  );
}
