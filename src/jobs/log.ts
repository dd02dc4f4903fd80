/**
 * What a job tells its caller while it runs: lines of progress, warnings, and progress bars. The CLI
 * passes its terminal (cli/progress.ts); a library caller passes its own, or `silentLog`.
 */

/** One progress bar: `update` with the work done so far, `done` once when it is over. */
export interface JobBar {
  update(done: number, figures?: string): void;
  done(): void;
}

export interface JobLog {
  /** A line of progress (the CLI prints it on stderr unless --quiet). */
  say(line: string): void;
  /** A warning about the run (the CLI prints it even with --quiet and lists it in the JSON output). */
  warn(line: string): void;
  /** A new progress bar labelled `label` for `total` units. */
  bar(label: string, total: number): JobBar;
}

/** A log that says nothing. */
export const silentLog: JobLog = {
  say: () => undefined,
  warn: () => undefined,
  bar: () => ({ update: () => undefined, done: () => undefined }),
};

/**
 * A bar per phase: `show(key, total)` finishes the previous bar when the key changes and returns the
 * current one; `end()` finishes the last.
 */
export function phaseBars(log: JobLog): { show(key: string, total: number): JobBar; end(): void } {
  let bar: JobBar | undefined;
  let current = '';
  return {
    show(key, total) {
      if (bar === undefined || key !== current) {
        bar?.done();
        bar = log.bar(key.padEnd(22), total);
        current = key;
      }
      return bar;
    },
    end() {
      bar?.done();
      bar = undefined;
      current = '';
    },
  };
}

/** The warning for a shard left without examples, or null when it has some (or is no shard). */
export function emptyShardWarning(shard: { index: number; count: number } | undefined, range: readonly [number, number], examples: number): string | null {
  if (shard === undefined || range[1] > range[0]) return null;
  return `--shard ${shard.index}/${shard.count}: no examples (${examples} example${examples === 1 ? '' : 's'} over ${shard.count} shards leave this one empty); its file is written only for alp merge`;
}
