import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs, get, type CommandSpec } from '../cli/args.js';
import { AUDIT_SPEC } from '../cli/specs/audit.js';
import { EVAL_SPEC } from '../cli/specs/eval.js';
import { COMPARE_SPEC } from '../cli/specs/compare.js';
import { ATTACK_SPEC } from '../cli/specs/attack.js';
import { DETECT_EVAL_SPEC } from '../cli/specs/detect.js';
import { MERGE_SPEC } from '../cli/specs/merge.js';
import { parseShard } from '../artifacts/shard.js';

const manifest = readFileSync(new URL('../../deploy/k8s/alp-indexed-job.yaml', import.meta.url), 'utf8');

/** The shell script (a `- |` block under `args:`) of the container named `name`. */
function scriptOf(name: string): string {
  const at = manifest.indexOf(`- name: ${name}\n`);
  assert.ok(at >= 0, `no container ${name} in the manifest`);
  const m = /args:\n(\s+)- \|\n((?:\1 {2}.*\n)+)/.exec(manifest.slice(at));
  assert.ok(m !== null, `no args script under ${name}`);
  return (m[2] as string).split('\n').map((l) => l.slice((m[1] as string).length + 2)).join('\n');
}

/** The value of an env variable in the document that holds `name`'s container. */
function envOf(name: string, variable: string): string {
  const doc = manifest.split(/^---$/m).find((d) => d.includes(`- name: ${name}\n`)) as string;
  const v = new RegExp(`- name: ${variable}\\n\\s+value: "([^"]*)"`).exec(doc)?.[1];
  assert.ok(v !== undefined, `no ${variable} for ${name}`);
  return v;
}

/** What the script runs: /bin/sh with a `node` on PATH that prints its arguments, one per line. */
function run(script: string, env: Record<string, string>, bin: string): string[] {
  const out = execFileSync('/bin/sh', ['-c', script], { env: { PATH: `${bin}:/usr/bin:/bin`, ...env }, encoding: 'utf8' });
  return out.split('\n').filter((l) => l !== '');
}

const JOBS: Array<{ job: string; spec: CommandSpec; words: number; file: boolean }> = [
  { job: 'audit --model /models/alp --n 1000 --budget standard --seed 0 --workers 1', spec: AUDIT_SPEC, words: 1, file: false },
  { job: 'eval --model /models/alp --n 1000 --workers 1', spec: EVAL_SPEC, words: 1, file: true },
  { job: 'detect eval --model std=/models/standard,alp=/models/alp --n 1000 --workers 1', spec: DETECT_EVAL_SPEC, words: 2, file: true },
  { job: 'compare --methods standard,alp,trades --budget-minutes 30 --audit quick', spec: COMPARE_SPEC, words: 1, file: false },
  { job: 'attack --model /models/alp --n 256 --attack pgd-ce --workers 1', spec: ATTACK_SPEC, words: 1, file: false },
];

test('the Kubernetes manifest: one Indexed Job for any alp job, each pod a valid `--shard K/N` command line, and its merge', () => {
  // YAML structure a parser would reject: tabs, or a document without apiVersion and kind.
  assert.ok(!manifest.includes('\t'), 'tabs in YAML');
  const docs = manifest.split(/^---$/m);
  assert.equal(docs.length, 2);
  for (const d of docs) assert.match(d, /^apiVersion: batch\/v1\nkind: Job$/m);
  assert.match(docs[0] as string, /^ {2}completionMode: Indexed$/m);
  const completions = Number(/^ {2}completions: (\d+)$/m.exec(docs[0] as string)?.[1]);
  assert.equal(Number(envOf('shard', 'SHARDS')), completions, 'SHARDS must equal completions');
  assert.equal(envOf('shard', 'ALP_JOB'), envOf('merge', 'ALP_JOB'), 'the merge step names the same job');
  assert.equal(envOf('shard', 'RUN'), envOf('merge', 'RUN'));
  // Every job the manifest's comment lists runs through the same two scripts.
  for (const { job } of JOBS) assert.ok(manifest.includes(`#   ${job}`), `the manifest's comment lists ${job}`);

  const bin = mkdtempSync(join(tmpdir(), 'alp-deploy-'));
  try {
    writeFileSync(join(bin, 'node'), '#!/bin/sh\nprintf \'%s\\n\' "$@"\n');
    chmodSync(join(bin, 'node'), 0o755);
    const shard = scriptOf('shard'), merge = scriptOf('merge');
    for (const { job, spec, words, file } of [{ job: envOf('shard', 'ALP_JOB'), spec: AUDIT_SPEC, words: 1, file: false }, ...JOBS]) {
      for (let index = 0; index < completions; index++) {
        const argv = run(shard, { JOB_COMPLETION_INDEX: String(index), SHARDS: String(completions), RUN: 'r', ALP_JOB: job }, bin);
        assert.deepEqual(argv.slice(0, 1 + words), ['dist/cli/main.js', ...job.split(' ').slice(0, words)]);
        const p = parseArgs(argv.slice(1 + words), spec);
        spec.check?.(p);
        assert.deepEqual(parseShard(get.str(p, 'shard') as string), { index: index + 1, count: completions }, job);
        assert.equal(get.str(p, 'out'), `/results/r/shard-${index + 1}${file ? '/result.json' : ''}`, job);
      }
      const argv = run(merge, { RUN: 'r', ALP_JOB: job }, bin);
      assert.deepEqual(argv.slice(0, 2), ['dist/cli/main.js', 'merge']);
      const p = parseArgs(argv.slice(2), MERGE_SPEC);
      MERGE_SPEC.check?.(p);
      assert.deepEqual(p._, ['/results/r/shard-*']);
      assert.equal(get.str(p, 'out'), `/results/r/merged${file ? '/result.json' : ''}`, job);
    }
  } finally {
    rmSync(bin, { recursive: true, force: true });
  }
});
