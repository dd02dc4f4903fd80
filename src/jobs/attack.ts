/**
 * The attack job (`alp attack`): one attack on the first n test examples, or on one shard of them (a
 * contiguous slice; `alp merge` joins the shards), in this thread or in worker replicas. Random starts
 * are seeded per example index, so a slice gets the rows the whole run gets. It guards the output
 * before the work, writes the files (jobs/attack-files.ts) with the version header, and returns
 * attack.json's content. The word attack on a text model runs whole (no shard).
 */
import * as tf from '@tensorflow/tfjs';
import { join } from 'node:path';
import { gatherRows, runAttack } from '../attack/runner.js';
import type { Attack } from '../attack/attack.js';
import { markSwaps, runWordAttack, type WordAttack } from '../attack/text/index.js';
import type { WordSwapInputs } from './eval.js';
import { textReadings } from '../artifacts/attack.js';
import { ATTACK_SCHEMA, attackIdentity, guardResultFile } from '../artifacts/outputs.js';
import { runHash, shardRange, shardRecord, type ShardSpec } from '../artifacts/shard.js';
import { subset, type Dataset } from '../data/dataset.js';
import type { DataRecord } from '../data/digest.js';
import { decodeIds } from '../data/text.js';
import { buildSuite, type SuiteSpec } from '../eval/suite.js';
import { logitsOf, type LogitsFn } from '../model/classifier.js';
import { modelFingerprint } from '../model/fingerprint.js';
import { nearestTokens, type EmbeddingSplit } from '../model/text.js';
import { writeFileAtomic, writeJsonAtomic } from '../util/atomic.js';
import { OptionError, UserError } from '../util/errors.js';
import { writeImageAttack, writeTextAttack, type AttackHead } from './attack-files.js';
import { attackParallel } from './evaluate-parallel.js';
import { emptyShardWarning, type JobLog } from './log.js';

/** What every attack job is given: the model's weights and examples, the output folder, the header. */
interface AttackJobBase {
  modelPath: string;
  weightsHash: string | null;
  ds: Dataset;
  data: DataRecord;
  /** Attack towards this class (absent: any misclassification). */
  target?: number;
  /** The output folder. */
  out: string;
  force?: boolean;
  versions: Record<string, string>;
  warnings: string[];
  backend: string;
}

/** A gradient (or score-based) attack, one attack of the suite. */
export interface AttackJobSpec extends AttackJobBase {
  model: tf.LayersModel;
  /** The suite with the one attack to run. */
  suite: SuiteSpec;
  /** Text models: `ds` holds the embedded texts and `model` the head; the token ids and split behind them. */
  text?: { ids: Dataset; split: EmbeddingSplit };
  /** Rows attacked at once; a shard is cut at whole groups of it (a row's floats may depend on its batch). */
  batchSize: number;
  shard?: ShardSpec;
  workers: number;
}

/** Guards `out` against another run's attack.json; returns the head of this run's. */
function guard(s: AttackJobBase, attack: unknown, shard: ShardSpec | undefined): AttackHead {
  const head: AttackHead = { schema: ATTACK_SCHEMA, weightsHash: s.weightsHash, model: s.modelPath, dataset: s.ds.name, data: s.data, attack, targeted: s.target ?? null };
  const want = { ...head, ...(shard !== undefined ? { shard } : {}) };
  guardResultFile(join(s.out, 'attack.json'), 'attack', attackIdentity(JSON.parse(JSON.stringify(want)) as Record<string, unknown>), { force: s.force === true });
  return head;
}

/** attack.json's shard record: the slice, and the hash of everything the whole run's rows depend on. */
function shardTail(s: AttackJobSpec, shard: ShardSpec, attack: unknown): Record<string, unknown> {
  const run = runHash({ command: 'attack', model: modelFingerprint(s.model), dataset: s.ds.name, data: s.data.digest, examples: s.ds.count, shape: s.ds.shape, suite: s.suite, attack, target: s.target ?? null, batchSize: s.batchSize });
  return { shard: shardRecord(shard, s.ds.count, run, s.data, s.batchSize) };
}

export async function runAttackJob(s: AttackJobSpec, log: JobLog): Promise<{ report: Record<string, unknown>; files: string[]; attack: string; fooled: number; examples: number }> {
  const { ds, model, shard } = s;
  const [attack] = buildSuite(s.suite);
  if (attack === undefined) throw new Error('no attack built');
  if (!Number.isInteger(s.batchSize) || s.batchSize < 1) throw new OptionError(`{batchSize}: expected an integer ≥ 1, got ${s.batchSize}`);
  const head = guard(s, attack.describe(), shard);
  log.say(`alp attack: ${attack.name} on ${ds.count} ${ds.name} test examples, backend ${s.backend} → ${s.out}`);
  const range = shard !== undefined ? shardRange(ds.count, shard, s.batchSize) : [0, ds.count] as [number, number];
  const empty = emptyShardWarning(shard, range, ds.count);
  if (empty !== null) log.warn(empty);
  if (shard !== undefined && empty === null) log.say(`shard ${shard.index}/${shard.count}: examples ${range[0]}–${range[1] - 1} of ${ds.count}`);
  const n = range[1] - range[0];
  const [h, w, c] = ds.shape;
  const f = logitsOf(model);
  const r = s.workers > 1 && n > 0
    ? await (async () => {
      // Slices of the examples on workers with replicas of the model; seeds are per example.
      const p = await attackParallel(model, ds, s.suite, range, { workers: s.workers, batchSize: s.batchSize, ...(s.target !== undefined ? { target: s.target } : {}) });
      const x = gatherRows(ds, Array.from({ length: n }, (_, i) => range[0] + i)).x;
      const cleanPred = tf.tidy(() => f(x).argMax(-1).dataSync() as Int32Array);
      x.dispose();
      return { adversarial: p.data, success: p.success, pred: p.pred, cleanPred };
    })()
    : attackInBatches(s, attack, f, range);
  const advData = r.adversarial;
  const clean = Float32Array.from(gatherRowsData(ds, range));
  const nearest = s.text !== undefined ? tf.tidy(() => nearestTokens(tf.tensor3d(advData, [n, h, w]), (s.text as { split: EmbeddingSplit }).split.table())) : null;
  const cleanPred = r.cleanPred;
  const labels = ds.labels.subarray(range[0], range[1]);
  const tail = { versions: s.versions, warnings: s.warnings, ...(shard !== undefined ? shardTail(s, shard, attack.describe()) : {}) };
  const fooled = r.success.reduce((a, b) => a + b, 0);
  if (s.text !== undefined && nearest !== null) {
    // Text: what each adversarial embedding sequence says in words (nearest vocabulary entries).
    const texts = textReadings(subset(s.text.ids, range[0], n), nearest, { count: n, tokens: h, labels, cleanPred, advPred: r.pred, success: r.success })
      .map((t) => ({ ...t, index: t.index + range[0] }));
    return { ...writeTextAttack(s.out, head, advData, [h, w], texts, tail), attack: attack.name, fooled, examples: n };
  }
  const rows = { first: range[0], shape: [h, w, c] as const, clean, adversarial: advData, labels, cleanPred, advPred: r.pred, success: r.success };
  return { ...writeImageAttack(s.out, head, rows, ds.sampleRate, tail), attack: attack.name, fooled, examples: n };
}

/** The clean rows [start, end) of `ds`, flat. */
function gatherRowsData(ds: Dataset, range: readonly [number, number]): Float32Array {
  const n = range[1] - range[0];
  if (n === 0) return new Float32Array(0);
  const { x, y } = gatherRows(ds, Array.from({ length: n }, (_, i) => range[0] + i));
  const data = x.dataSync() as Float32Array;
  tf.dispose([x, y]);
  return data;
}

/**
 * The attack on rows [start, end) in this thread, `batchSize` rows at a time from `start` (a multiple
 * of it for a shard), each row seeded by its index in the dataset: the whole run's batches and a
 * shard's are the same rows, so their results are the same floats.
 */
function attackInBatches(s: AttackJobSpec, attack: Attack, f: LogitsFn, range: readonly [number, number]): { adversarial: Float32Array; success: Uint8Array; pred: Int32Array; cleanPred: Int32Array } {
  const n = range[1] - range[0];
  const row = s.ds.shape[0] * s.ds.shape[1] * s.ds.shape[2];
  const out = { adversarial: new Float32Array(n * row), success: new Uint8Array(n), pred: new Int32Array(n), cleanPred: new Int32Array(n) };
  for (let a = range[0]; a < range[1]; a += s.batchSize) {
    const b = Math.min(a + s.batchSize, range[1]);
    const ids = Array.from({ length: b - a }, (_, i) => a + i);
    const { x, y } = gatherRows(s.ds, ids);
    const targets = s.target !== undefined ? tf.fill([ids.length], s.target, 'int32') as tf.Tensor1D : undefined;
    try {
      const r = runAttack(attack, f, x, y, { ids, ...(targets !== undefined ? { targets } : {}) });
      const at = a - range[0];
      out.adversarial.set(r.adversarial.dataSync() as Float32Array, at * row);
      r.adversarial.dispose();
      out.success.set(r.success, at);
      out.pred.set(r.pred, at);
      out.cleanPred.set(tf.tidy(() => f(x).argMax(-1).dataSync() as Int32Array), at);
    } finally {
      tf.dispose([x, y, ...(targets !== undefined ? [targets] : [])]);
    }
  }
  return out;
}

/** A word attack: real word swaps on a text model's token ids, verified on the new messages. */
export interface WordAttackJobSpec extends AttackJobBase, WordSwapInputs {
  attack: WordAttack;
  /** At most this many words swapped per message. */
  swaps: number;
}

export interface WordText {
  index: number; label: number; cleanPrediction: number; adversarialPrediction: number; success: boolean;
  clean: string; adversarial: string; marked: string; swaps: Array<{ position: number; from: string; to: string }>;
}

export async function runWordAttackJob(s: WordAttackJobSpec, log: JobLog): Promise<{ report: Record<string, unknown> & { texts: WordText[] }; fooled: number; examples: number }> {
  const { attack, swaps: k } = s;
  if (!Number.isInteger(k) || k < 1) throw new UserError(`--swaps: expected an integer ≥ 1, found ${k}`);
  const described = { name: attack.name, swaps: k, fraction: s.fraction ?? null, candidates: s.candidates.kind };
  const head = guard(s, described, undefined);
  const n = s.labels.length, L = s.model.length;
  log.say(`alp attack: ${attack.name} (≤ ${k} word swaps${s.fraction !== undefined ? `, ≤ ${s.fraction} of the words` : ''}, ${s.candidates.kind} candidates) on ${n} ${s.ds.name} test messages → ${s.out}`);
  const targets = s.target !== undefined ? new Int32Array(n).fill(s.target) : undefined;
  const r = await runWordAttack(attack, s.model, s.ids, s.labels, {
    budget: { k, ...(s.fraction !== undefined ? { fraction: s.fraction } : {}) }, candidates: s.candidates, ...(targets !== undefined ? { targets } : {}),
  });
  const texts: WordText[] = Array.from({ length: n }, (_, i) => {
    const orig = s.ids.subarray(i * L, (i + 1) * L), adv = r.adversarial.subarray(i * L, (i + 1) * L);
    const marked = markSwaps(orig, adv, s.vocab);
    return {
      index: i, label: s.labels[i] as number, cleanPrediction: r.cleanPred[i] as number, adversarialPrediction: r.pred[i] as number,
      success: r.success[i] === 1, clean: decodeIds(orig, s.vocab), adversarial: decodeIds(adv, s.vocab), marked: marked.text, swaps: marked.swaps,
    };
  });
  const fooled = r.success.reduce((a, b) => a + b, 0);
  const report = { ...head, successRate: n === 0 ? 0 : fooled / n, queries: r.queries, texts, versions: s.versions, warnings: s.warnings };
  writeJsonAtomic(join(s.out, 'attack.json'), report);
  // One message per line: label, predictions, and the text with [original→replacement] marks.
  writeFileAtomic(join(s.out, 'adversarial.txt'), texts.map((t) => `${t.success ? 'FOOLED' : 'held'}\tlabel ${t.label}\t${t.cleanPrediction}→${t.adversarialPrediction}\t${t.marked}`).join('\n') + '\n');
  return { report, fooled, examples: n };
}
