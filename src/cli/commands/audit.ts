import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { Transfer } from '../../attack/transfer.js';
import { audit, AUDIT_VERSIONS, type AuditVersion } from '../../eval/audit.js';
import { auditArtifact, EXAMPLES_FILE, writeAuditArtifact } from '../../artifacts/audit.js';
import { modelFingerprint, weightsHash } from '../../model/fingerprint.js';
import { logitsOf } from '../../model/classifier.js';
import { modelJsonPath } from '../../model/io.js';
import { helpText, parseArgs, get, type CommandSpec } from '../args.js';
import { COMMON_OPTIONS, DATA_OPTIONS, MODEL_INPUT_OPTIONS, checkModelFitsData, emit, openModel, openModelJob, pct, table, versions } from '../common.js';
import { EXIT } from '../../util/errors.js';
import { Progress, say } from '../progress.js';
import { AUDIT_WORD_OPTIONS, auditWordOptions, wordAuditText } from '../word-swaps.js';
import { wordStatePath } from '../../eval/word-audit.js';

export const AUDIT_SPEC: CommandSpec = {
  name: 'audit',
  summary: 'strong attack cascade + gradient-masking diagnostics, resumable',
  usage: 'alp audit --model PATH [--budget quick|standard|thorough] [--eps E] [--surrogate PATH]',
  options: [
    { name: 'model', type: 'string', metavar: 'PATH', help: 'model folder or model.json (outputs logits)' },
    ...DATA_OPTIONS,
    ...MODEL_INPUT_OPTIONS,
    { name: 'n', type: 'int', default: 1000, help: 'audit the first N test examples' },
    { name: 'norm', type: 'string', choices: ['linf', 'l2'], default: 'linf', help: 'threat model norm' },
    { name: 'eps', type: 'number', default: 0.3, help: 'perturbation radius' },
    { name: 'fail-on', type: 'string', choices: ['never', 'warn', 'fail'], default: 'never', help: 'exit 3 when a finding is at least this severe (for CI gates)' },
    { name: 'budget', type: 'string', choices: AUDIT_VERSIONS, default: 'standard', deprecatedAlias: 'version', help: 'attack budget preset' },
    { name: 'surrogate', type: 'string', metavar: 'PATH', help: 'an independently trained model for a transfer attack' },
    { name: 'batch-size', type: 'int', default: 250, help: 'examples attacked at once' },
    { name: 'seed', type: 'int', default: 0, help: 'seed for every random choice' },
    { name: 'out', type: 'string', metavar: 'DIR', help: 'where audit.json and examples.f32 go (default: the model folder)' },
    { name: 'fresh', type: 'boolean', help: 'ignore an interrupted audit and start over' },
    ...AUDIT_WORD_OPTIONS,
    ...COMMON_OPTIONS,
  ],
  examples: [
    'alp audit --model runs/demo/alp --budget quick',
    'alp audit --model runs/demo/alp --budget quick --fail-on fail   # exit 3 if a finding fails (CI)',
    'alp audit --model runs/demo/alp --budget thorough --surrogate runs/demo/standard',
    'alp report runs/demo/alp   # then look at the findings in the page',
    'alp audit --model runs/spam-std --norm l2 --eps 0.5 --budget quick --n 200 --swaps 1,2,5   # text: also real word swaps',
  ],
};

export async function auditCommand(argv: string[]): Promise<number> {
  const p = parseArgs(argv, AUDIT_SPEC);
  if (get.bool(p, 'help')) {
    process.stdout.write(helpText(AUDIT_SPEC) + '\n');
    return 0;
  }
  const job = await openModelJob(p, 'audit');
  const { modelPath, quiet, backend, ds, model, threat, warnings } = job;
  const words = auditWordOptions(p, job);
  const version = get.str(p, 'budget') as AuditVersion;
  const seed = get.num(p, 'seed') as number;
  const out = get.str(p, 'out') ?? join(modelJsonPath(modelPath), '..');
  const statePath = join(out, 'audit.state.json');
  if (get.bool(p, 'fresh')) for (const f of [statePath, wordStatePath(statePath)]) rmSync(f, { force: true });
  else if (existsSync(statePath)) say(quiet, `found an interrupted audit in ${statePath}`);
  const surrogatePath = get.str(p, 'surrogate');
  const extra = [];
  let surrogateFingerprint: string | null = null;
  if (surrogatePath !== undefined) {
    // The surrogate is adapted by shape only: --input-range describes the audited model.
    const s = checkModelFitsData(await openModel(surrogatePath, quiet), ds, surrogatePath, undefined, quiet);
    surrogateFingerprint = modelFingerprint(s);
    extra.push(new Transfer({ threat, surrogate: logitsOf(s), seed: seed + 99, surrogateName: surrogatePath }));
  }
  say(quiet, `alp audit (${version}): ${modelPath} on ${ds.count} ${ds.name} test examples, ${threat.norm} ε=${threat.eps}, backend ${backend}`);
  let bar: Progress | undefined;
  let current = '';
  const r = audit(model, ds, {
    threat, version, seed, extraAttacks: extra, statePath, batchSize: get.num(p, 'batch-size') as number,
    keyExtras: { surrogate: surrogateFingerprint, versions: versions(backend) },
    ...(words !== null ? { words } : {}),
    onWordProgress: (e) => {
      const key = `${e.attack} k=${e.k}`;
      if (key !== current) {
        bar?.done();
        bar = new Progress(key.padEnd(22), e.total, { quiet });
        current = key;
      }
      bar?.update(e.done);
    },
    onPhase: (m) => {
      bar?.done();
      bar = undefined;
      current = '';
      say(quiet, m);
    },
    onProgress: (e) => {
      if (e.attack !== current) {
        bar?.done();
        bar = new Progress(e.attack.padEnd(22), e.total, { quiet });
        current = e.attack;
      }
      bar?.update(e.done, `robust ${e.robust}/${ds.count}`);
    },
  });
  bar?.done();
  const written = auditArtifact(r, ds, logitsOf(model), { model: modelPath, weightsHash: weightsHash(modelJsonPath(modelPath)), seed, versions: versions(backend), warnings });
  const report = written.artifact;
  writeAuditArtifact(join(out, 'audit.json'), join(out, EXAMPLES_FILE), written);
  for (const f of [statePath, wordStatePath(statePath)]) rmSync(f, { force: true });
  const rows = [['after attack', 'robust acc', 'newly fooled', 'seconds'], ['(clean)', pct(r.cleanAccuracy), '', '']];
  for (const s of r.cascade) rows.push([s.attack, pct(s.robustAccuracyAfter), String(s.fooledHere), s.seconds.toFixed(1)]);
  const mark = { pass: 'PASS', warn: 'WARN', fail: 'FAIL' } as const;
  const text = `${table(rows)}\n\nworst case: ${pct(r.worstCaseAccuracy)}\n\n` + (r.wordSwaps !== undefined ? `${wordAuditText(r.wordSwaps)}\n\n` : '') +
    r.findings.map((f) => `[${mark[f.status]}] ${f.title}\n       ${f.detail}`).join('\n') + `\n\nwritten ${join(out, 'audit.json')}`;
  emit(p, report, text);
  // The gate: results are written either way; the status tells a CI job whether to stop.
  const failOn = get.str(p, 'fail-on');
  const severity = { pass: 0, warn: 1, fail: 2 } as const;
  const worst = Math.max(0, ...r.findings.map((f) => severity[f.status]));
  if (failOn !== 'never' && worst >= (failOn === 'warn' ? 1 : 2)) {
    const hits = r.findings.filter((f) => severity[f.status] >= (failOn === 'warn' ? 1 : 2));
    process.stderr.write(`alp audit: ${hits.length} finding(s) at or above --fail-on ${failOn}: ${hits.map((f) => `${f.status.toUpperCase()} ${f.id}`).join(', ')}\n`);
    return EXIT.gate;
  }
  return 0;
}
