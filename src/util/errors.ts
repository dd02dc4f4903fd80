/**
 * Errors the user can act on, each with the exit status the CLI gives it. The CLI prints their message
 * on one line; anything else that escapes is a bug and keeps its stack trace (exit 1). The library never
 * exits: it throws these, and only the CLI maps them to statuses.
 */

/** Every exit status alp's CLI uses (docs/exit-codes.md). */
export const EXIT = {
  ok: 0,
  /** A bug: an unexpected error, printed with its stack trace. */
  internal: 1,
  /** A bad option, a bad or missing input file, a mismatched checkpoint. */
  usage: 2,
  /** `alp audit --fail-on`: a finding at or above the chosen severity. */
  gate: 3,
  /** Training diverged (the loss became NaN or infinite). */
  diverged: 4,
  /** An output could not be written: disk full, read-only, no permission, a file where a folder is expected. */
  io: 5,
  /** An output would overwrite another model's or run's files; `--force` allows it. */
  exists: 6,
  /** A checkpoint or state file fails its checksum: it was damaged after it was written. */
  corrupt: 7,
  /** A worker thread died (killed, crashed or out of memory); what was saved before it stays valid. */
  worker: 8,
  /** Stopped by SIGINT (Ctrl-C) / SIGTERM; what was done is saved and `--resume` continues. */
  sigint: 130,
  sigterm: 143,
} as const;

export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

/**
 * A mistake in what the user gave us (a file, an option, a model), or a condition they can fix. `code`
 * is the CLI's exit status for it (2 unless a subclass says otherwise).
 */
export class UserError extends Error {
  readonly code: ExitCode;
  constructor(message: string, code: ExitCode = EXIT.usage) {
    super(message);
    this.name = 'UserError';
    this.code = code;
  }
}

/**
 * A bad value for an option of a library call. The message names options as the library does (`eps: …`,
 * `inputRange: …`); written `{name}` in the template, so the CLI can render them as its flags
 * (`--eps`, `--input-range`) with `render` — library errors never name CLI flags.
 */
export class OptionError extends UserError {
  constructor(readonly template: string, code: ExitCode = EXIT.usage) {
    super(template.replace(OPTION_REF, '$1'), code);
    this.name = 'OptionError';
  }

  /** The message with every `{option}` written as `name(option)`. */
  render(name: (option: string) => string): string {
    return this.template.replace(OPTION_REF, (_, option: string) => name(option));
  }
}

const OPTION_REF = /\{([A-Za-z]\w*)\}/g;

/** `{option}` for a template, when `option` is a plain name (anything else is written as it is). */
export function optionRef(option: string): string {
  return /^[A-Za-z]\w*$/.test(option) ? `{${option}}` : option;
}

/** The training loss became NaN or infinite; nothing after the last good checkpoint is written. */
export class DivergedError extends UserError {
  constructor(message: string) {
    super(message, EXIT.diverged);
    this.name = 'DivergedError';
  }
}

/** An output path that already holds something else; the message says how to allow it (`{force}`). */
export class OutputExistsError extends OptionError {
  constructor(message: string) {
    super(message, EXIT.exists);
    this.name = 'OutputExistsError';
  }
}

/** A file alp wrote earlier no longer matches its checksum. */
export class CorruptFileError extends OptionError {
  constructor(message: string) {
    super(message, EXIT.corrupt);
    this.name = 'CorruptFileError';
  }
}

/**
 * A worker thread of a pool (src/parallel/pool.ts) stopped before answering: killed, crashed outside a
 * task, or out of memory. Every call pending on it and every later call fails with this, never a hang.
 */
export class WorkerCrashedError extends UserError {
  readonly worker: number;
  readonly task: string | null;
  readonly exitCode: number | null;
  constructor(worker: number, task: string | null, exitCode: number | null, reason: string) {
    super(`worker ${worker} died${task !== null ? ` during '${task}'` : ''}: ${reason}${exitCode !== null ? ` (exit code ${exitCode})` : ''}`, EXIT.worker);
    this.name = 'WorkerCrashedError';
    this.worker = worker;
    this.task = task;
    this.exitCode = exitCode;
  }
}

export function isUserError(e: unknown): e is UserError {
  return e instanceof UserError;
}

const IO_REASONS: Record<string, string> = {
  ENOSPC: 'no space left on the device',
  EDQUOT: 'disk quota exceeded',
  EROFS: 'the file system is read-only',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  EISDIR: 'a folder is in the way where a file is expected',
  ENOTEMPTY: 'a folder is in the way where a file is expected',
  ENOTDIR: 'a file is in the way where a folder is expected',
  EEXIST: 'a file is in the way where a folder is expected',
  ENAMETOOLONG: 'the path is too long',
  EMFILE: 'too many open files',
  EIO: 'an I/O error from the device',
};

/**
 * A failed file-system call (ENOSPC, EROFS, EACCES, ENOTDIR, …) as one clear line naming the path and
 * the reason, or undefined when `e` is not such an error. `target` names the file being written when the
 * failing call was on a temp file. Used by atomic writes and by the CLI for whatever escaped.
 */
export function ioErrorOf(e: unknown, target?: string): UserError | undefined {
  if (e instanceof UserError) return e;
  if (!(e instanceof Error)) return undefined;
  const err = e as NodeJS.ErrnoException;
  const reason = err.code !== undefined ? IO_REASONS[err.code] : undefined;
  if (reason === undefined) return undefined;
  // The file the user asked for, not a temp file beside it (or no path at all, for a failed write()).
  const path = target ?? err.path ?? (err as { dest?: string }).dest;
  return new UserError(`${path !== undefined ? `${path}: ` : ''}${reason} (${err.code}${err.syscall !== undefined ? ` in ${err.syscall}` : ''})`, EXIT.io);
}
