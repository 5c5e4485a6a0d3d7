/** First and largest wait between reconnection attempts. */
export const RECONNECT_MIN_MS = 200;
export const RECONNECT_MAX_MS = 15_000;

/**
 * The wait before reconnection attempt `attempt` (0-based): exponential with full jitter,
 * capped, so that many replicators restarting together do not hammer the server in step.
 *
 * @example
 * ```ts
 * await sleep(reconnectDelayMs(3)); // somewhere between 0 and 1.6 s
 * ```
 */
export function reconnectDelayMs(attempt: number): number {
  const ceiling = Math.min(RECONNECT_MAX_MS, RECONNECT_MIN_MS * 2 ** Math.min(attempt, 16));
  return Math.max(50, Math.floor(Math.random() * ceiling));
}

/**
 * Wait `ms` milliseconds unless `signal` aborts first (resolves early, never rejects).
 *
 * @example
 * ```ts
 * await sleep(500, controller.signal);
 * ```
 */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) {
      resolve();
      return;
    }
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}
