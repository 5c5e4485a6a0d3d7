/** Buckets idle this long are forgotten, so memory stays bounded by active clients. */
const IDLE_BUCKET_MS = 60_000;

export type RateDecision = { allowed: true } | { allowed: false; retryAfterSeconds: number };

/**
 * A token bucket per client: `ratePerSecond` requests per second on average, bursts up to
 * `burst`. A refused request learns how long to wait (for the `Retry-After` header).
 *
 * @example
 * ```ts
 * const limiter = new RateLimiter({ ratePerSecond: 50, burst: 100 });
 * const decision = limiter.take(request.ip);
 * if (!decision.allowed) reply.header('retry-after', decision.retryAfterSeconds);
 * ```
 */
export class RateLimiter {
  readonly #rate: number;
  readonly #burst: number;
  readonly #now: () => number;
  readonly #buckets = new Map<string, { tokens: number; at: number }>();
  #lastSweep = 0;

  constructor(options: { ratePerSecond: number; burst?: number; now?: () => number }) {
    if (!(options.ratePerSecond > 0)) throw new RangeError('ratePerSecond must be > 0');
    this.#rate = options.ratePerSecond;
    this.#burst = Math.max(1, options.burst ?? Math.ceil(options.ratePerSecond));
    this.#now = options.now ?? Date.now;
  }

  take(key: string): RateDecision {
    const now = this.#now();
    this.#sweep(now);

    // Refill for the time since the last request, up to the burst size.
    const bucket = this.#buckets.get(key) ?? { tokens: this.#burst, at: now };
    bucket.tokens = Math.min(this.#burst, bucket.tokens + ((now - bucket.at) / 1000) * this.#rate);
    bucket.at = now;
    this.#buckets.set(key, bucket);

    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return { allowed: true };
    }
    const retryAfterSeconds = Math.max(1, Math.ceil((1 - bucket.tokens) / this.#rate));
    return { allowed: false, retryAfterSeconds };
  }

  #sweep(now: number): void {
    if (now - this.#lastSweep < IDLE_BUCKET_MS) return;
    this.#lastSweep = now;
    for (const [key, bucket] of this.#buckets) {
      if (now - bucket.at > IDLE_BUCKET_MS) this.#buckets.delete(key);
    }
  }
}
