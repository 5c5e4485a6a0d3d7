import { describe, expect, it } from 'vitest';
import { StoreConflictError, StoreUnavailableError } from '../../src/errors.js';
import { withRetry } from '../../src/store/retry.js';

// These tests drive withRetry with functions that fail on purpose: a store outage on demand is
// the fault being modelled, and the real-server recovery is covered by the vault restart test.
describe('withRetry', () => {
  it('retries a transient store failure until it succeeds', async () => {
    let calls = 0;
    const result = await withRetry(
      async () => {
        calls += 1;
        if (calls < 3) throw new StoreUnavailableError('put x: connection refused');
        return 'ok';
      },
      { baseDelayMs: 1 },
    );
    expect(result).toBe('ok');
    expect(calls).toBe(3);
  });

  it('does not retry a conflict', async () => {
    let calls = 0;
    const failing = withRetry(async () => {
      calls += 1;
      throw new StoreConflictError('put x: different bytes');
    });
    await expect(failing).rejects.toBeInstanceOf(StoreConflictError);
    expect(calls).toBe(1);
  });

  it('throws the last transient failure when attempts run out', async () => {
    let calls = 0;
    const failing = withRetry(
      async () => {
        calls += 1;
        throw new StoreUnavailableError(`attempt ${calls}`);
      },
      { attempts: 4, baseDelayMs: 1 },
    );
    await expect(failing).rejects.toThrow('attempt 4');
    expect(calls).toBe(4);
  });

  it('waits a full-jitter delay below the doubled ceiling', async () => {
    const delays: number[] = [];
    const logger = {
      debug: (fields: { delayMs: number }) => delays.push(fields.delayMs),
    } as unknown as import('pino').Logger;
    await withRetry(
      async (attempt) => {
        if (attempt < 5) throw new StoreUnavailableError('down');
      },
      { baseDelayMs: 4, maxDelayMs: 20, random: () => 0.999, logger },
    );
    expect(delays).toEqual([3, 7, 15, 19]);
  });

  it('stops waiting when aborted and rejects with the abort reason', async () => {
    const controller = new AbortController();
    let calls = 0;
    const pending = withRetry(
      async () => {
        calls += 1;
        if (calls === 1) setImmediate(() => controller.abort(new Error('shutting down')));
        throw new StoreUnavailableError('down');
      },
      { attempts: Number.POSITIVE_INFINITY, baseDelayMs: 60_000, signal: controller.signal },
    );
    await expect(pending).rejects.toThrow('shutting down');
    expect(calls).toBe(1);
  });
});
