/**
 * Progress on stderr: a redrawn bar with ETA and running figures on a terminal, a plain line every
 * few seconds otherwise (CI logs), nothing with --quiet.
 */
export interface ProgressOptions {
  quiet?: boolean;
  stream?: NodeJS.WriteStream;
  /** Seconds between lines when not a TTY. */
  every?: number;
}

function fmtTime(s: number): string {
  if (!Number.isFinite(s) || s < 0) return '--:--';
  const m = Math.floor(s / 60);
  const sec = Math.floor(s % 60);
  return m >= 60 ? `${Math.floor(m / 60)}h${String(m % 60).padStart(2, '0')}m` : `${m}:${String(sec).padStart(2, '0')}`;
}

export class Progress {
  private readonly start = Date.now();
  private lastLine = 0;
  private readonly stream: NodeJS.WriteStream;
  private readonly tty: boolean;
  private drawn = false;
  /** Work already done when we started (a resumed run), so the ETA reflects this run's pace. */
  private base: number | undefined;

  constructor(private readonly label: string, private readonly total: number, private readonly o: ProgressOptions = {}) {
    this.stream = o.stream ?? process.stderr;
    this.tty = this.stream.isTTY === true;
  }

  update(done: number, figures: string = ''): void {
    if (this.o.quiet === true) return;
    const now = Date.now();
    const elapsed = (now - this.start) / 1000;
    // What was done before the first update (a resumed run, or the step that just finished while the
    // bar was created) is not this run's pace: no ETA until a step has been timed.
    this.base ??= done;
    const frac = this.total > 0 ? Math.min(done / this.total, 1) : 0;
    const doneHere = done - this.base;
    const eta = doneHere > 0 ? (elapsed * (this.total - done)) / doneHere : NaN;
    if (this.tty) {
      if (now - this.lastLine < 100 && done < this.total) return;
      const width = 24;
      const filled = Math.round(frac * width);
      const bar = '█'.repeat(filled) + '░'.repeat(width - filled);
      const line = `${this.label} ${bar} ${(frac * 100).toFixed(0).padStart(3)}% ${done}/${this.total} ${fmtTime(elapsed)}<${fmtTime(eta)} ${figures}`;
      const cols = this.stream.columns ?? 120;
      this.stream.write(`\r${line.slice(0, cols - 1).padEnd(Math.min(cols - 1, line.length))}\x1b[K`);
      this.drawn = true;
    } else if (now - this.lastLine >= (this.o.every ?? 10) * 1000 || done >= this.total) {
      this.stream.write(`${this.label} ${done}/${this.total} (${(frac * 100).toFixed(0)}%) elapsed ${fmtTime(elapsed)} eta ${fmtTime(eta)} ${figures}\n`);
    } else return;
    this.lastLine = now;
  }

  done(message?: string): void {
    if (this.o.quiet === true) return;
    if (this.tty && this.drawn) this.stream.write('\n');
    if (message !== undefined) this.stream.write(`${message}\n`);
  }
}

/** A plain message on stderr unless quiet. */
export function say(quiet: boolean | undefined, msg: string): void {
  if (quiet !== true) process.stderr.write(msg + '\n');
}
