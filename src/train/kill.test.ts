import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { useBackend } from '../testing/setup.js';
import { childConfig, childData } from '../testing/train-child-config.js';
import { buildArch } from '../model/architectures.js';
import { trainModel } from './trainer.js';

const CHILD = fileURLToPath(new URL('../testing/train-child.js', import.meta.url));

/** Runs the child until it prints "step `at`", then kill -9; resolves with the last step it printed. */
function runAndKill(dir: string, method: string, optimizer: string, resume: boolean, at: number, workers: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CHILD, dir, method, optimizer, resume ? 'resume' : 'fresh', String(workers)], { stdio: ['ignore', 'pipe', 'pipe'] });
    let last = 0, buf = '', err = '';
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.stdout.on('data', (d: Buffer) => {
      buf += d.toString();
      for (const m of buf.matchAll(/step (\d+)\n/g)) last = Number(m[1]);
      if (last >= at && child.exitCode === null) child.kill('SIGKILL');
    });
    child.on('exit', (code, signal) => {
      if (signal === 'SIGKILL') resolve(last);
      else reject(new Error(`child was not killed (exit ${code}, last step ${last}): ${err}`));
    });
  });
}

// kill -9 (no chance to save anything) at three points of one run, each time resumed from whatever
// checkpoint survived; the last resume runs here. Adam with ALP and momentum SGD with TRADES, and ALP
// on 2 worker threads (data-parallel: the whole process, workers included, dies). (The in-process
// matrix in trainer.test.ts covers every method × optimizer; this covers real crashes.)
for (const [method, optimizer, stops, workers] of [['alp', 'adam', [2, 8, 13], 1], ['trades', 'sgd', [8], 1], ['alp', 'adam', [5], 2]] as const) {
  test(`${method}/${optimizer}${workers > 1 ? `, ${workers} workers` : ''}: kill -9 at step ${stops.join(', ')}, resumed each time, ends bit-identical to an uninterrupted run`, async () => {
    await useBackend();
    const dir = mkdtempSync(join(tmpdir(), 'alp-kill-'));
    try {
      const c = childConfig(method, optimizer);
      const { train, val } = childData();
      const straight = buildArch('mlp', { inputShape: [6, 6, 1], numClasses: 4, seed: c.seed });
      await trainModel(straight, train, val, c, { workers });

      const killedAt: number[] = [];
      for (const [i, at] of stops.entries()) killedAt.push(await runAndKill(dir, method, optimizer, i > 0, at, workers));
      assert.ok(killedAt.every((s, i) => s >= (stops[i] as number) && s < 18), `killed at ${killedAt.join(', ')}`);
      const resumed = buildArch('mlp', { inputShape: [6, 6, 1], numClasses: 4, seed: 999 });
      const final = await trainModel(resumed, train, val, c, { checkpointDir: dir, resume: true, workers });
      assert.equal(final.step, 18);
      const a = straight.getWeights().map((w) => new Uint32Array((w.dataSync() as Float32Array).slice().buffer));
      const b = resumed.getWeights().map((w) => new Uint32Array((w.dataSync() as Float32Array).slice().buffer));
      for (let i = 0; i < a.length; i++) assert.deepEqual(b[i], a[i], `weight ${i} differs`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
}
