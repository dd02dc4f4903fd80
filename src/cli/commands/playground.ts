import { DATASET_NAMES, type DatasetName } from '../../data/registry.js';
import { exportPlayground, servePlayground } from '../../playground/serve.js';
import { buildSite } from '../../playground/site.js';
import { UserError } from '../../util/errors.js';
import { OUTPUT_OPTIONS, parseCommand, get, type CommandSpec } from '../args.js';
import { emit } from '../common.js';

export const PLAYGROUND_SPEC: CommandSpec = {
  name: 'playground',
  summary: 'an offline page on 127.0.0.1 to attack a run\'s models live in the browser',
  usage: 'alp playground [RUN_DIR] [--port N] [--export DIR]',
  positionals: 'RUN_DIR',
  options: [
    { name: 'port', type: 'int', default: 8080, help: 'port on 127.0.0.1 (0: any free port)' },
    { name: 'export', type: 'string', metavar: 'DIR', help: 'write the page as a static folder (deployable to any static host) instead of serving it' },
    { name: 'data', type: 'string', choices: DATASET_NAMES, help: "test inputs from this dataset (default: the one the models' model.json records)" },
    { name: 'data-dir', type: 'string', metavar: 'DIR', help: 'folder with the dataset files (default: as alp eval finds them)' },
    { name: 'samples', type: 'int', default: 100, help: 'test inputs shipped with the page (the first N of the test split)' },
    { name: 'title', type: 'string', metavar: 'TEXT', help: 'page title (default: the model names)' },
    ...OUTPUT_OPTIONS,
  ],
  examples: [
    'alp playground                       # runs/demo: the demo\'s standard and ALP models',
    'alp playground runs/my-run --port 9000',
    'alp playground runs/demo --export site/   # then: any static server over site/',
  ],
};

export async function playgroundCommand(argv: string[]): Promise<void> {
  const p = parseCommand(argv, PLAYGROUND_SPEC);
  if (p === undefined) return;
  if (p._.length > 1) throw new UserError(`alp playground: expected at most one RUN_DIR, got ${p._.length} (${p._.join(' ')})`);
  const runDir = p._[0] ?? 'runs/demo';
  const port = get.num(p, 'port') as number;
  if (!(port >= 0 && port <= 65535)) throw new UserError(`alp playground: --port expects 0..65535, got ${port}`);
  const dataset = get.str(p, 'data') as DatasetName | undefined;
  const dataDir = get.str(p, 'data-dir');
  const title = get.str(p, 'title');
  const site = buildSite(runDir, {
    samples: get.num(p, 'samples') as number,
    ...(dataset !== undefined ? { dataset } : {}),
    ...(dataDir !== undefined ? { dataDir } : {}),
    ...(title !== undefined ? { title } : {}),
  });
  const quiet = get.bool(p, 'quiet') && !get.bool(p, 'json');
  const out = get.str(p, 'export');
  if (out !== undefined) {
    const r = exportPlayground(site, out);
    if (!quiet) emit(p, { export: out, ...r, models: site.manifest.models.map((m) => m.name) }, `written ${out}/ (${r.files} files, ${(r.bytes / 1048576).toFixed(1)} MiB): serve it with any static file server, e.g. python3 -m http.server -d ${out}`);
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
