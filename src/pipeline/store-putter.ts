import { type Logger, silentLogger } from '../log/logger.js';
import type { ReplicatorMetrics } from '../observability/metrics.js';
import { withRetry } from '../store/retry.js';
import type { ObjectStore } from '../store/store.js';
import type { StoreObject } from './sealed-batch.js';

/** Longest wait between two attempts to store one object, in ms. */
export const MAX_STORE_RETRY_DELAY_MS = 10_000;

/**
 * Puts objects durably, retrying transient store failures with backoff and jitter for as long
 * as it takes (the pipeline never drops a sealed batch), counting errors and retries and
 * remembering since when the store has been failing, for health checks.
 *
 * @example
 * ```ts
 * const putter = new StorePutter({ store, logger, metrics });
 * await putter.putAll([{ name, bytes }], 1);
 * ```
 */
export class StorePutter {
  readonly #store: ObjectStore;
  readonly #log: Logger;
  readonly #metrics: ReplicatorMetrics | undefined;
  readonly #abort = new AbortController();
  #failingSince: Date | undefined;
  /** Start times (ms) of store requests in flight, by a number of their own. */
  readonly #inFlight = new Map<number, number>();
  #nextRequest = 0;

  constructor(options: { store: ObjectStore; logger?: Logger; metrics?: ReplicatorMetrics }) {
    this.#store = options.store;
    this.#log = options.logger ?? silentLogger;
    this.#metrics = options.metrics;
  }

  /** Since when every attempt has failed; undefined while the store works. */
  get failingSince(): Date | undefined {
    return this.#failingSince;
  }

  /**
   * When the oldest store request still in flight started; undefined while none is. A slow or
   * hung store shows here while `failingSince` stays undefined (nothing has failed yet).
   */
  get oldestPutStartedAt(): Date | undefined {
    // A Map iterates in insertion order: the first entry is the request started first.
    const oldest: number | undefined = this.#inFlight.values().next().value;
    return oldest === undefined ? undefined : new Date(oldest);
  }

  /** End all retries now; pending puts reject with `reason`. */
  abort(reason: Error): void {
    this.#abort.abort(reason);
  }

  /** Store every object, at most `concurrency` at a time; resolves when all are durable. */
  async putAll(objects: readonly { name: string; bytes: Uint8Array }[], concurrency: number) {
    let next = 0;
    const worker = async () => {
      while (next < objects.length) {
        const object = objects[next++]!;
        await this.put(object);
      }
    };
    const workers = Array.from({ length: Math.min(concurrency, objects.length) }, worker);
    await Promise.all(workers);
  }

  /** Store one object, retrying transient failures until it is durable or aborted. */
  async put(object: StoreObject): Promise<void> {
    await withRetry(
      async (attempt) => {
        if (attempt > 1) this.#metrics?.storeRetries.inc();
        const request = this.#nextRequest++;
        this.#inFlight.set(request, Date.now());
        try {
          await this.#store.put(object.name, object.bytes);
        } catch (error) {
          this.#onFailure(object.name, attempt, error);
          throw error;
        } finally {
          this.#inFlight.delete(request);
        }
        if (this.#failingSince !== undefined) {
          this.#log.info({ store: this.#store.url }, 'store reachable again');
          this.#failingSince = undefined;
        }
      },
      {
        attempts: Number.POSITIVE_INFINITY,
        maxDelayMs: MAX_STORE_RETRY_DELAY_MS,
        signal: this.#abort.signal,
        logger: this.#log,
        what: `put ${object.name}`,
      },
    );
  }

  #onFailure(name: string, attempt: number, error: unknown): void {
    this.#metrics?.storeErrors.inc();
    this.#failingSince ??= new Date();

    // Warn on the first failure and then every tenth, so a long outage does not flood the log.
    if (attempt === 1 || attempt % 10 === 0) {
      this.#log.warn(
        { object: name, attempt, store: this.#store.url, error: (error as Error).message },
        'store failed, retrying',
      );
    }
  }
}
