import { COMPARE_SPEC } from '../specs/compare.js';
import { loadDataset, DATASET_NAMES, type Dataset, type DatasetName } from '../../data/index.js';
import { parseShifts } from '../../data/shift.js';
import { compareMethods, COMPARE_FILE, type CompareResult } from '../../jobs/compare.js';
import { type AuditVersion } from '../../eval/audit.js';
import { METHODS, PRESETS, type Method, type PresetName } from '../../train/config.js';
import { parseShard } from '../../artifacts/shard.js';
import { UserError } from '../../util/errors.js';
import { writeReport } from '../../report/report.js';
import { join } from 'node:path';
import { shellQuote } from '../../report/commands.js';
import { parseCommand, get, type Parsed } from '../args.js';
import { emit, initBackend, isQuiet, loaderOptionsOf, pct, table, versions } from '../common.js';
import { Progress, say } from '../progress.js';

export { COMPARE_SPEC };

function parseMethods(text: string): Method[] {
  if (text === 'all') return [...METHODS];
  const names = text.split(',').map((s) => s.trim()).filter((s) => s !== '');
  const bad = names.filter((m) => !(METHODS as readonly string[]).includes(m));
  if (names.length === 0 || bad.length > 0) throw new UserError(`--methods: expected 'all' or names among ${METHODS.join(', ')}, got '${text}'`);
  const twice = names.filter((m, i) => names.indexOf(m) !== i);
  if (twice.length > 0) throw new UserError(`--methods: expected each method once (one folder each), got ${[...new Set(twice)].join(', ')} more than once in '${text}'`);
  return names as Method[];
}

const OOD_DEFAULT: Partial<Record<DatasetName, DatasetName>> = { mnist: 'fashion-mnist', 'fashion-mnist': 'mnist' };

/** The OOD set (first n test examples), or null with the reason said once. */
function oodSet(name: string | undefined, dataset: string, n: number, quiet: boolean): Dataset | null {
  if (name === 'none') return null;
  const pick = (name ?? OOD_DEFAULT[dataset as DatasetName]) as DatasetName | undefined;
  if (pick === undefined) return null;
  if (!(DATASET_NAMES as readonly string[]).includes(pick)) throw new UserError(`--ood: expected none or one of ${DATASET_NAMES.join(', ')}, got '${pick}'`);
  try {
    const ds = loadDataset(pick, 'test');
    return { ...ds, count: Math.min(n, ds.count) };
  } catch (e) {
    if (name !== undefined || !(e instanceof UserError)) throw e;
    say(quiet, `no out-of-distribution set: ${e.message}`);
    return null;
  }
}

function summaryTable(r: CompareResult): string {
  const worstShift = (m: CompareResult['methods'][number]): number => Math.min(...m.generalisation.shifts.map((s) => s.accuracy));
  const rows = [['method', 'steps', 'CPU s/step', 'train CPU s', 'train wall s', 'clean', `audited robust (ε=${r.threat.eps})`, 'worst shift', 'OOD confident']];
  for (const m of r.methods) {
    rows.push([
      m.method + (m.complete ? '' : ' (stopped)'), String(m.steps), m.pace.secondsPerStep.toFixed(3), m.trainCpuSeconds?.toFixed(0) ?? '-', m.trainSeconds.toFixed(0), pct(m.audit.cleanAccuracy), pct(m.audit.worstCaseAccuracy),
      m.generalisation.shifts.length > 0 ? pct(worstShift(m)) : '-', m.generalisation.ood !== null ? pct(m.generalisation.ood.confidentShare) : '-',
    ]);
  }
  const loads = r.methods.filter((m) => m.pace.loadAverage !== undefined).map((m) => `${m.method} ${m.pace.loadAverage?.join(' ')}`);
  return table(rows) + (loads.length > 0 ? `\nLoad average (1/5/15 min) when each pace was measured: ${loads.join('; ')}.` : '');
}

/** `alp compare ARGS` (cli/main.ts parses them itself before loading this module, then calls runCompareCommand). */
export async function compareCommand(argv: string[]): Promise<void> {
  const p = parseCommand(argv, COMPARE_SPEC);
  if (p !== undefined) await runCompareCommand(p, argv);
}

/** `alp compare` on arguments parsed and checked against COMPARE_SPEC. */
export async function runCompareCommand(p: Parsed, argv: string[]): Promise<void> {
  const quiet = isQuiet(p);
  const methods = parseMethods(get.str(p, 'methods') as string);
  const minutes = get.num(p, 'budget-minutes') as number;
  if (!(minutes > 0)) throw new UserError(`--budget-minutes: expected a number > 0, got ${minutes}`);
  const n = get.num(p, 'n') as number;
  if (!Number.isInteger(n) || n < 1) throw new UserError(`--n: expected an integer ≥ 1, got ${n}`);
  const shiftsText = get.str(p, 'shifts');
  const shifts = shiftsText !== undefined ? parseShifts(shiftsText) : undefined;
  const oodName = get.str(p, 'ood');
  if (oodName !== undefined && oodName !== 'none' && !(DATASET_NAMES as readonly string[]).includes(oodName)) {
    throw new UserError(`--ood: expected none or one of ${DATASET_NAMES.join(', ')}, got '${oodName}'`);
  }
  const shardText = get.str(p, 'shard');
  const shard = shardText !== undefined ? parseShard(shardText) : undefined;
  const backend = await initBackend(p);
  const out = get.str(p, 'out') as string;
  const dataDir = get.str(p, 'data-dir');
  const overrides = { dataset: get.str(p, 'data'), eps: get.num(p, 'eps'), seed: get.num(p, 'seed') };
  const dataset = overrides.dataset ?? (PRESETS[get.str(p, 'preset') as PresetName]?.config.dataset ?? 'mnist');
  const ood = oodSet(get.str(p, 'ood'), dataset, n, quiet);
  say(quiet, `alp compare: ${methods.join(', ')} on ${dataset}, ${minutes} min of training each, audit ${get.str(p, 'audit')}, backend ${backend} → ${out}`);
  let bar: Progress | undefined;
  let current = '';
  const done = (): void => {
    bar?.done();
    bar = undefined;
    current = '';
  };
  const r = await compareMethods({
    out, methods, budgetSeconds: minutes * 60, command: ['alp', 'compare', ...argv].map(shellQuote).join(' '), preset: get.str(p, 'preset') as string, overrides,
    auditVersion: get.str(p, 'audit') as AuditVersion, testExamples: n, ood, ...(shard !== undefined ? { shard } : {}), resume: get.bool(p, 'resume'), force: get.bool(p, 'force'), versions: versions(backend),
    ...(shifts !== undefined ? { shifts } : {}), ...(dataDir !== undefined ? { dataDir } : {}), loaderOptions: loaderOptionsOf(p),
    onPhase: (m, phase) => {
      done();
      say(quiet, `${m}: ${phase}`);
    },
    onTrainProgress: (m, e) => {
      bar ??= new Progress(`train ${m}`.padEnd(16), e.totalSteps, { quiet });
      bar.update(e.step, `loss ${e.loss.toFixed(3)} ${e.examplesPerSec.toFixed(0)} ex/s`);
    },
    onAuditProgress: (m, e) => {
      if (e.attack !== current) {
        bar?.done();
        bar = new Progress(`${m} ${e.attack}`.padEnd(24), e.total, { quiet });
        current = e.attack;
      }
      bar?.update(e.done, `robust ${e.robust}`);
    },
  });
  done();
  if (shard !== undefined) {
    // A shard's methods only: the page and the best method come with the merge.
    emit(p, r, `\n${summaryTable(r)}\n\nshard ${shard.index}/${shard.count} (${r.methods.map((m) => m.method).join(', ')}) written to ${out}; when every shard is done: alp merge ${out} --out ${out}`);
    return;
  }
  // Its own page in its own folder (the folder passed the output rule before training).
  const page = await writeReport([out], { out: join(out, 'report.html'), force: true, title: `alp compare: ${r.dataset}, ${minutes} min per method`, ...(dataDir !== undefined ? { dataDir } : {}) });
  const best = r.best === null ? 'No method finished.'
    : r.best.methods.length === 1 ? `Highest audited robust accuracy: ${r.best.methods[0]} (${pct(r.best.worstCaseAccuracy)}).`
      : `Highest audited robust accuracy: a tie between ${r.best.methods.join(', ')} (${pct(r.best.worstCaseAccuracy)}).`;
  emit(p, r, `\n${summaryTable(r)}\n\n${best}\nAll numbers in ${out}/${COMPARE_FILE}; page ${page.html}.`);
}
