import { isRetryable } from '../errors.js';
import { type Logger, silentLogger } from '../log/logger.js';

/** First backoff ceiling, doubled after each failed attempt. */
export const DEFAULT_BASE_DELAY_MS = 200;
/** Largest backoff ceiling: retries never wait longer than this between attempts. */
export const DEFAULT_MAX_DELAY_MS = 30_000;

export interface RetryOptions {
  /** Total attempts including the first; `Infinity` retries until success or abort. Default 5. */
  attempts?: number;
  /** Ceiling of the first wait in ms; doubles per attempt up to `maxDelayMs`. */
  baseDelayMs?: number;
  maxDelayMs?: number;
  /** Stops waiting and rejects with the signal's reason when aborted. */
  signal?: AbortSignal;
  logger?: Logger;
  /** What is being retried, for the debug log line, e.g. `put segment 42`. */
  what?: string;
  /** Random source in [0, 1), for tests of the delay law. */
  random?: () => number;
}

/**
 * Run `fn` and retry it while it throws a transient store failure
 * ({@link StoreUnavailableError}), waiting with exponential backoff and full jitter: before retry
 * n the wait is a uniform random time in [0, min(maxDelayMs, baseDelayMs · 2^(n-1))). Any other
 * error is thrown at once. When attempts run out, the last error is thrown.
 *
 * @example
 * ```ts
 * const result = await withRetry(() => store.put(name, bytes), {
 *   attempts: Infinity,
 *   signal: controller.signal,
 *   logger,
 *   what: `put ${name}`,
 * });
 * ```
 */
export async function withRetry<T>(
  fn: (attempt: number) => Promise<T>,
  options: RetryOptions = {},
): Promise<T> {
  const attempts = options.attempts ?? 5;
  const baseDelayMs = options.baseDelayMs ?? DEFAULT_BASE_DELAY_MS;
  const maxDelayMs = options.maxDelayMs ?? DEFAULT_MAX_DELAY_MS;
  const random = options.random ?? Math.random;
  const log = options.logger ?? silentLogger;
  if (!(attempts >= 1)) throw new RangeError(`withRetry: attempts must be >= 1, got ${attempts}`);

  for (let attempt = 1; ; attempt += 1) {
    options.signal?.throwIfAborted();
    try {
      return await fn(attempt);
    } catch (error) {
      // Only transient store failures are retried; everything else is the caller's to handle.
      if (!isRetryable(error) || attempt >= attempts) throw error;

      // Full jitter: spreads retries of many clients across the whole window.
      const ceiling = Math.min(maxDelayMs, baseDelayMs * 2 ** Math.min(attempt - 1, 30));
      const delayMs = Math.floor(random() * ceiling);
      log.debug(
        { what: options.what, attempt, delayMs, error: (error as Error).message },
        'store operation failed, retrying',
      );
      await sleep(delayMs, options.signal);
    }
  }
}

/** Wait `ms`, or reject with the signal's reason as soon as it is aborted. */
function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
