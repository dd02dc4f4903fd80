/** `alp playground`'s options: no tfjs here (see cli/options.ts), so they are checked before the command loads it. */
import { DATA_OPTION, OWN_DATA_OPTIONS } from '../options.js';
import { UserError } from '../../util/errors.js';
import { get, OUTPUT_OPTIONS, type CommandSpec } from '../args.js';

export const PLAYGROUND_SPEC: CommandSpec = {
  name: 'playground',
  summary: 'an offline page on 127.0.0.1 to attack a run\'s models live in the browser',
  usage: 'alp playground [RUN_DIR|zoo] [--port N] [--export DIR]   (no RUN_DIR: the zoo models)',
  positionals: 'RUN_DIR',
  options: [
    { name: 'port', type: 'int', default: 8080, help: 'port on 127.0.0.1 (0: any free port)' },
    { name: 'export', type: 'string', metavar: 'DIR', help: 'write the page as a static folder (deployable to any static host) instead of serving it' },
    { ...DATA_OPTION, help: "test inputs from this dataset, or the path of your own data (default: what the models' train.json / model.json records)" },
    ...OWN_DATA_OPTIONS,
    { name: 'data-dir', type: 'string', metavar: 'DIR', help: 'folder with the dataset files (default: as alp eval finds them)' },
    { name: 'samples', type: 'int', default: 100, help: 'test inputs shipped with the page (the first N of the test split)' },
    { name: 'title', type: 'string', metavar: 'TEXT', help: 'page title (default: the model names)' },
    { name: 'output-node', type: 'string', metavar: 'NAME', help: 'graph models: the node whose value is the logits (needed when a graph has several outputs)' },
    ...OUTPUT_OPTIONS,
  ],
  examples: [
    'alp playground                       # the packaged zoo models (alp zoo list)',
    'alp playground runs/demo             # the demo\'s standard and ALP models',
    'alp playground runs/my-run --port 9000',
    'alp playground runs/demo --export site/   # then: any static server over site/',
  ],
  check: (p) => {
    if (p._.length > 1) throw new UserError(`alp playground: expected at most one RUN_DIR, got ${p._.length} (${p._.join(' ')})`);
    const port = get.num(p, 'port') as number;
    if (!(port >= 0 && port <= 65535)) throw new UserError(`alp playground: --port expects 0..65535, got ${port}`);
  },
};
