import { ReplicatorError } from '../errors.js';

/** True when the user asked for stack traces (`--debug`, or the seed's `DEBUG=true`). */
export function debugEnabled(): boolean {
  return process.argv.includes('--debug') || /^(1|true|yes)$/i.test(process.env.DEBUG ?? '');
}

/**
 * Print an error the way every command does: one line `error: …`, an optional `hint: …` line,
 * the cause chain as `cause: …` lines, and the stack only with `--debug`. Returns the exit code.
 */
export function reportError(
  error: unknown,
  stderr: NodeJS.WritableStream = process.stderr,
): number {
  const debug = debugEnabled();

  if (error instanceof ReplicatorError) {
    stderr.write(`error: ${error.message}\n`);
    let cause = error.cause;
    while (cause instanceof Error) {
      stderr.write(`  cause: ${cause.message}\n`);
      cause = cause.cause;
    }
    if (error.hint !== undefined) stderr.write(`hint: ${error.hint}\n`);
    if (debug && error.stack !== undefined) stderr.write(`${error.stack}\n`);
    return error.exitCode;
  }

  // Anything else is a bug or an unexpected environment failure, not a user mistake.
  const message = error instanceof Error ? error.message : String(error);
  stderr.write(`error: unexpected failure: ${message}\n`);
  if (debug && error instanceof Error && error.stack !== undefined) {
    stderr.write(`${error.stack}\n`);
  } else {
    stderr.write('hint: rerun with --debug for details, and report it if it persists\n');
  }
  return 1;
}

/**
 * Wrap a command handler so that errors become a one-line message and a non-zero exit code
 * instead of a stack trace.
 *
 * @example
 * ```ts
 * new Command('keygen').action(action(async (options) => generate(options)));
 * ```
 */
export function action<A extends unknown[]>(
  handler: (...args: A) => Promise<void> | void,
): (...args: A) => Promise<void> {
  return async (...args: A) => {
    try {
      await handler(...args);
    } catch (error) {
      process.exitCode = reportError(error);
    }
  };
}
