/**
 * Ctrl-C and SIGTERM for long commands: the first signal asks the work to stop at its next safe point
 * (through an AbortSignal the loops poll) with what was done saved; a second one exits at once. Long
 * loops must yield to the event loop now and then (`yieldToEventLoop`), or no handler ever runs.
 */
import { EXIT } from './errors.js';

export interface Interrupt {
  /** Aborted by the first SIGINT/SIGTERM. */
  signal: AbortSignal;
  /** The signal received first, if any. */
  received(): NodeJS.Signals | undefined;
  /** The exit status for a run stopped by it: 130 (SIGINT) or 143 (SIGTERM); 0 when none came. */
  exitCode(): number;
  /** Removes the handlers (Node's default behaviour returns). */
  dispose(): void;
}

/**
 * Installs the handlers. `what` finishes the sentence "stopping after …", e.g. "this step; the model
 * and checkpoint are saved". The messages go to stderr even under --quiet: they explain the exit status.
 */
export function onInterrupt(command: string, what: string, write: (line: string) => void = (l) => process.stderr.write(l + '\n')): Interrupt {
  const controller = new AbortController();
  let first: NodeJS.Signals | undefined;
  const handler = (sig: NodeJS.Signals): void => {
    if (first !== undefined) {
      write(`alp ${command}: ${sig} again: aborted without saving`);
      process.exit(sig === 'SIGTERM' ? EXIT.sigterm : EXIT.sigint);
    }
    first = sig;
    write(`alp ${command}: ${sig} received: stopping after ${what} (send it again to abort without saving)`);
    // The reason travels with the signal, so whatever stops on it can say which status to exit with.
    controller.abort(sig);
  };
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
  return {
    signal: controller.signal,
    received: () => first,
    exitCode: () => (first === undefined ? 0 : first === 'SIGTERM' ? EXIT.sigterm : EXIT.sigint),
    dispose: () => {
      process.off('SIGINT', handler);
      process.off('SIGTERM', handler);
    },
  };
}

/** Lets pending I/O and signal handlers run: a loop that never yields cannot be interrupted. */
export function yieldToEventLoop(): Promise<void> {
  // setImmediate is Node's; a browser (the playground's worker) has only timers.
  return new Promise((resolve) => (typeof setImmediate === 'function' ? setImmediate(resolve) : setTimeout(resolve, 0)));
}

/**
 * Thrown by a library loop that stopped because its AbortSignal fired (after saving what it keeps). It
 * is not a failure: the CLI exits 130 (SIGINT) or 143 (SIGTERM) without another message, the handler
 * having said what happens.
 */
export class InterruptedError extends Error {
  readonly code: typeof EXIT.sigint | typeof EXIT.sigterm;
  constructor(reason: unknown) {
    super(`interrupted (${String(reason ?? 'aborted')})`);
    this.name = 'InterruptedError';
    this.code = reason === 'SIGTERM' ? EXIT.sigterm : EXIT.sigint;
  }
}

/**
 * A safe point of a long loop: lets a pending signal handler run, then throws InterruptedError when
 * `signal` has been aborted. Without a signal it only yields.
 */
export async function checkpointInterrupt(signal: AbortSignal | undefined): Promise<void> {
  await yieldToEventLoop();
  if (signal?.aborted === true) throw new InterruptedError(signal.reason);
}
