import { PLAYGROUND_SPEC } from '../specs/playground.js';
import { parseDataSource } from '../../data/source.js';
import { exportPlayground, servePlayground } from '../../playground/serve.js';
import { buildSite, findModels } from '../../playground/site.js';
import { parseCommand, get, type Parsed } from '../args.js';
import { emit, loaderOptionsOf, loadSourceFor, trainedSource } from '../common.js';
import { zooRoot } from '../../model/zoo-paths.js';

export { PLAYGROUND_SPEC };

/** `alp playground ARGS` (cli/main.ts parses them itself before loading this module, then calls runPlaygroundCommand). */
export async function playgroundCommand(argv: string[]): Promise<void> {
  const p = parseCommand(argv, PLAYGROUND_SPEC);
  if (p !== undefined) await runPlaygroundCommand(p);
}

/** `alp playground` on arguments parsed and checked against PLAYGROUND_SPEC. */
export async function runPlaygroundCommand(p: Parsed): Promise<void> {
  // No run given: the packaged models (zoo/), so the page works on a fresh clone without training; `zoo` names them too.
  const onZoo = p._[0] === undefined || p._[0] === 'zoo';
  const runDir = onZoo ? zooRoot() : (p._[0] as string);
  const port = get.num(p, 'port') as number;
  // The zoo holds models of several datasets: its page shows those of one (--data, MNIST by default).
  const given = get.str(p, 'data') ?? (onZoo ? 'mnist' : undefined);
  const dataDir = get.str(p, 'data-dir');
  const title = get.str(p, 'title');
  const outputNode = get.str(p, 'output-node');
  // A user's data (given, or recorded in a model's train.json) is read here; built-in names as before.
  const recorded = given === undefined ? findModels(runDir).map((m) => trainedSource(m.dir)).find((r) => r !== undefined) : undefined;
  const source = given !== undefined ? parseDataSource(given, loaderOptionsOf(p)) : recorded?.source;
  const data = source?.kind === 'path' ? (await loadSourceFor(p, { source, ...(recorded !== undefined ? { recorded } : {}) }, 'test')).ds : undefined;
  const dataset = source?.kind === 'builtin' ? source.name : undefined;
  const site = buildSite(runDir, {
    ...(outputNode !== undefined ? { outputNode } : {}),
    samples: get.num(p, 'samples') as number,
    ...(dataset !== undefined ? { dataset } : {}),
    ...(data !== undefined ? { data } : {}),
    ...(dataDir !== undefined ? { dataDir } : {}),
    ...(title !== undefined ? { title } : {}),
    ...(onZoo ? { onlyDataset: true } : {}),
  });
  const quiet = get.bool(p, 'quiet') && !get.bool(p, 'json');
  const out = get.str(p, 'export');
  if (out !== undefined) {
    const r = exportPlayground(site, out);
    if (!quiet) emit(p, { export: out, ...r, models: site.manifest.models.map((m) => m.name) }, `written ${out.endsWith('/') ? out : `${out}/`} (${r.files} files, ${(r.bytes / 1048576).toFixed(1)} MiB): serve it with any static file server, e.g. python3 -m http.server -d ${out}`);
    return;
  }
  const server = await servePlayground(site, port);
  if (!quiet) emit(p, { url: server.url, models: site.manifest.models.map((m) => m.name) }, `alp playground: ${site.manifest.models.map((m) => m.name).join(', ')} on ${site.manifest.dataset}\nopen ${server.url}   (Ctrl-C to stop)`);
  await new Promise<void>((resolve) => {
    const stop = (): void => {
      void server.close().then(resolve);
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
}
