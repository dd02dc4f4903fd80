/** `alp report`'s options: no tfjs here (see cli/options.ts), so they are checked before the command loads it. */
import { UserError } from '../../util/errors.js';
import { get, OUTPUT_OPTIONS, type CommandSpec } from '../args.js';
import { outAndForce } from '../options.js';

export const REPORT_SPEC: CommandSpec = {
  name: 'report',
  summary: 'a self-contained HTML page comparing runs: charts, examples, findings, how to reproduce',
  usage: 'alp report RUN... [--out FILE]',
  positionals: 'RUN folders',
  options: [
    ...outAndForce({ metavar: 'FILE', help: 'the HTML page to write (default: report.html in the RUN folder, or in the folder several RUNs share); its data goes beside it as <name>.data.json' }, 'a page at --out that shows other runs, or a file that is no alp report'),
    { name: 'title', type: 'string', metavar: 'TEXT', help: 'page title (default: the run names)' },
    { name: 'examples', type: 'int', default: 12, help: 'adversarial examples shown per model (from audit.json)' },
    { name: 'data-dir', type: 'string', metavar: 'DIR', help: 'folder with the dataset files, for the clean images (default: as alp eval finds them)' },
    ...OUTPUT_OPTIONS,
  ],
  examples: [
    'alp report runs/demo',
    'alp report runs/standard runs/alp runs/trades --out compare.html',
    'alp report runs/demo/alp --title "ALP, quick preset" --examples 24',
  ],
  check: (p) => {
    if (p._.length === 0) throw new UserError("alp report: name at least one RUN folder (see 'alp report --help')");
    const examples = get.num(p, 'examples') as number;
    if (!Number.isInteger(examples) || examples < 0) throw new UserError(`alp report: --examples expects an integer ≥ 0, got ${examples}`);
  },
};
