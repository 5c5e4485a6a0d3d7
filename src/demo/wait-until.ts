import { UsageError } from '../errors.js';

/**
 * Poll `condition` every 50 ms until it returns true; throws when the deadline passes or when
 * the demo is interrupted (Ctrl-C), and passes on what `condition` throws.
 *
 * @example
 * ```ts
 * await waitUntil(() => source.storedChanges >= total, { timeoutMs: 60_000, what: 'the store' });
 * ```
 */
export async function waitUntil(
  condition: () => boolean,
  options: { timeoutMs: number; signal?: AbortSignal; what: string },
): Promise<void> {
  const deadline = Date.now() + options.timeoutMs;
  while (!condition()) {
    if (options.signal?.aborted === true) throw new UsageError('run demo: interrupted');
    if (Date.now() > deadline) {
      throw new Error(
        `run demo: timed out after ${options.timeoutMs} ms waiting for ${options.what}`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
