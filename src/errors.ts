/**
 * The few error classes a caller branches on. Each carries a stable `code` (listed in
 * docs/ERRORS.md) and an optional `hint` telling the user what to do next.
 *
 * Messages follow "verb object: cause", lowercase, no trailing period, and never contain key
 * material, tokens, passwords or row data.
 *
 * @example
 * ```ts
 * throw new UsageError('invalid --flush-interval "5x": expected milliseconds', {
 *   hint: 'pass a whole number such as --flush-interval 250',
 * });
 * ```
 */
export class ReplicatorError extends Error {
  /** Stable machine-readable code, e.g. `E_USAGE`. */
  readonly code: string;
  /** One line saying what to do next, printed after the message by the CLI. */
  readonly hint: string | undefined;
  /** Process exit code the CLI uses when this error ends a command. */
  readonly exitCode: number;

  constructor(
    message: string,
    options: { code: string; exitCode: number; hint?: string; cause?: unknown },
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = options.code;
    this.hint = options.hint;
    this.exitCode = options.exitCode;
  }
}

interface ErrorOptions {
  hint?: string;
  cause?: unknown;
}

/** Bad input from the user (flags, files, configuration): do not retry. Exit code 2. */
export class UsageError extends ReplicatorError {
  constructor(message: string, options: ErrorOptions = {}) {
    super(message, { code: 'E_USAGE', exitCode: 2, ...options });
  }
}

/**
 * A key, passphrase or signature did not authenticate the data: wrong key, corrupted or
 * tampered with. Stop and alert. Exit code 3.
 */
export class AuthenticationError extends ReplicatorError {
  constructor(message: string, options: ErrorOptions = {}) {
    super(message, { code: 'E_AUTH', exitCode: 3, ...options });
  }
}

/** The stored data breaks a format or stream rule (gap, fork, bad header). Exit code 4. */
export class IntegrityError extends ReplicatorError {
  constructor(message: string, options: ErrorOptions = {}) {
    super(message, { code: 'E_INTEGRITY', exitCode: 4, ...options });
  }
}

/** A store could not be reached or answered with a transient failure: retry with backoff. */
export class StoreUnavailableError extends ReplicatorError {
  constructor(message: string, options: ErrorOptions = {}) {
    super(message, { code: 'E_STORE_UNAVAILABLE', exitCode: 5, ...options });
  }
}

/** An object already exists in the store with different bytes. Never retried. */
export class StoreConflictError extends ReplicatorError {
  constructor(message: string, options: ErrorOptions = {}) {
    super(message, { code: 'E_STORE_CONFLICT', exitCode: 4, ...options });
  }
}

/** A database could not be reached or refused the work. Exit code 6. */
export class DatabaseError extends ReplicatorError {
  constructor(message: string, options: ErrorOptions = {}) {
    super(message, { code: 'E_DATABASE', exitCode: 6, ...options });
  }
}

/** True when `error` is a transient store failure worth retrying. */
export function isRetryable(error: unknown): boolean {
  return error instanceof StoreUnavailableError;
}
