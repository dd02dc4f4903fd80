/**
 * A mistake in what the user gave us (a file, an option, a model): the CLI prints its message on one
 * line and exits with status 2. Anything else that escapes is a bug and keeps its stack trace.
 */
export class UserError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UserError';
  }
}

export function isUserError(e: unknown): e is UserError {
  return e instanceof UserError;
}
