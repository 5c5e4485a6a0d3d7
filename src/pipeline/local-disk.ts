import { ReplicatorError, StoreUnavailableError } from '../errors.js';
import { type Logger, silentLogger } from '../log/logger.js';
import { withRetry } from '../store/retry.js';

/** Errors of a local write that a freed or repaired disk cures: worth waiting out. */
const LOCAL_DISK_CODES = new Set(['ENOSPC', 'EDQUOT', 'EIO', 'EROFS']);
/** Longest wait between two attempts of a local write, in ms. */
const MAX_LOCAL_RETRY_DELAY_MS = 5_000;

/**
 * True when `error` is a local write failure of the disk itself (full, over quota, I/O error,
 * read-only), not of the program.
 *
 * @example
 * ```ts
 * if (isLocalDiskError(error)) console.log('disk trouble');
 * ```
 */
export function isLocalDiskError(error: unknown): error is NodeJS.ErrnoException {
  return LOCAL_DISK_CODES.has((error as NodeJS.ErrnoException | undefined)?.code ?? '');
}

/**
 * The one-line, classified error for a local write that failed for good, naming the file.
 *
 * @example
 * ```ts
 * throw localDiskError('state/state.json', error);
 * ```
 */
export function localDiskError(file: string, error: NodeJS.ErrnoException): ReplicatorError {
  const what =
    error.code === 'ENOSPC' || error.code === 'EDQUOT' ? 'local disk full' : 'local disk failing';
  return new ReplicatorError(`write ${file}: ${what} (${error.code})`, {
    code: 'E_LOCAL_DISK',
    exitCode: 5,
    cause: error,
    hint: 'free space on (or repair) the disk holding that file, then start again: nothing stored or acknowledged is lost',
  });
}

export interface LocalWriteOptions {
  signal?: AbortSignal;
  logger?: Logger;
  /** Told of each failed attempt (with its reason) and of the success after failures. */
  onAttempt?: (problem: string | undefined) => void;
}

/**
 * Run a local write (state file, journal) and wait out a full or failing disk with backoff, as
 * a store outage is waited out: nothing is lost, health is told `local disk full: FILE`.
 *
 * @example
 * ```ts
 * await retryLocalWrite('state/state.json', () => writeState(dir, state), { signal, logger });
 * ```
 */
export async function retryLocalWrite<T>(
  file: string,
  fn: () => Promise<T>,
  options: LocalWriteOptions = {},
): Promise<T> {
  const log = options.logger ?? silentLogger;
  let failed = false;
  const result = await withRetry(
    async (attempt) => {
      try {
        return await fn();
      } catch (error) {
        if (!isLocalDiskError(error)) throw error;
        // Retried like a store outage; the classified error is what a stop reports.
        const classified = localDiskError(file, error);
        const problem = classified.message.replace(/^write (.*): (local disk \w+).*$/, '$2: $1');
        failed = true;
        options.onAttempt?.(problem);
        if (attempt === 1 || attempt % 10 === 0) {
          log.warn({ file, attempt, code: error.code }, `${problem}, retrying`);
        }
        throw new StoreUnavailableError(classified.message, { cause: classified });
      }
    },
    {
      attempts: Number.POSITIVE_INFINITY,
      maxDelayMs: MAX_LOCAL_RETRY_DELAY_MS,
      signal: options.signal,
      logger: log,
      what: `write ${file}`,
    },
  );
  if (failed) {
    log.info({ file }, 'local disk writable again');
    options.onAttempt?.(undefined);
  }
  return result;
}
