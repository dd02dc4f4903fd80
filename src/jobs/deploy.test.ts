import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { parseArgs, get } from '../cli/args.js';
import { AUDIT_SPEC } from '../cli/commands/audit.js';
import { MERGE_SPEC } from '../cli/commands/merge.js';
import { parseShard } from '../artifacts/shard.js';

const manifest = readFileSync(new URL('../../deploy/k8s/alp-audit-indexed-job.yaml', import.meta.url), 'utf8');

/** The words of a folded command line, as /bin/sh would split them (double quotes only). */
function words(line: string): string[] {
  return [...line.matchAll(/"([^"]*)"|(\S+)/g)].map((m) => m[1] ?? m[2] ?? '');
}

/** The command of the container block that starts after `marker`: the `args` lines up to the next key. */
function commandAfter(marker: string): string {
  const at = manifest.indexOf(marker);
  assert.ok(at >= 0, `no ${marker} in the manifest`);
  const m = /args:\n\s+- (?:>-\n)?([\s\S]*?)\n\s+(?:[a-zA-Z]+:)/.exec(manifest.slice(at));
  assert.ok(m !== null, `no args under ${marker}`);
  return (m[1] as string).split('\n').map((l) => l.trim()).join(' ');
}

test('the Kubernetes manifest: Indexed Jobs whose commands are valid alp command lines for every index', () => {
  // YAML structure a parser would reject: tabs, or a document without apiVersion and kind.
  assert.ok(!manifest.includes('\t'), 'tabs in YAML');
  const docs = manifest.split(/^---$/m);
  assert.equal(docs.length, 2);
  for (const d of docs) assert.match(d, /^apiVersion: batch\/v1\nkind: Job$/m);
  assert.match(docs[0] as string, /^ {2}completionMode: Indexed$/m);
  const completions = Number(/^ {2}completions: (\d+)$/m.exec(docs[0] as string)?.[1]);
  const shards = Number(/name: SHARDS\n\s+value: "(\d+)"/.exec(docs[0] as string)?.[1]);
  assert.equal(shards, completions, 'SHARDS must equal completions');

  const audit = commandAfter('- name: audit');
  assert.match(audit, /JOB_COMPLETION_INDEX/);
  for (let index = 0; index < completions; index++) {
    const argv = words(audit.replaceAll('$((JOB_COMPLETION_INDEX + 1))', String(index + 1)).replaceAll('$SHARDS', String(shards)));
    assert.deepEqual(argv.slice(0, 3), ['node', 'dist/cli/main.js', 'audit']);
    const p = parseArgs(argv.slice(3), AUDIT_SPEC);
    assert.deepEqual(parseShard(get.str(p, 'shard') as string), { index: index + 1, count: completions });
    assert.equal(get.str(p, 'out'), `/results/audit/shard-${index + 1}`);
  }
  const merge = words(commandAfter('- name: merge'));
  assert.deepEqual(merge.slice(0, 3), ['node', 'dist/cli/main.js', 'merge']);
  const p = parseArgs(merge.slice(3), MERGE_SPEC);
  assert.deepEqual(p._, ['/results/audit/shard-*']);
  assert.equal(get.str(p, 'out'), '/results/audit/merged');
});
