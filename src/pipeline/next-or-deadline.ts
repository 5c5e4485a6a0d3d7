import type { Transaction } from '../change/change.js';

/** What ended the wait: a transaction (or the end of the stream), the deadline, or a stop. */
export type NextOutcome =
  | { kind: 'tx'; result: IteratorResult<Transaction> }
  | { kind: 'flush' }
  | { kind: 'stop' };

/**
 * Wait for the next transaction, the flush deadline (ms since epoch, none when no batch is
 * open), or the stop signal, whichever comes first. The pending `next` promise is left running
 * when the deadline wins, so the caller passes it again and no transaction is pulled twice.
 *
 * @example
 * ```ts
 * const outcome = await nextOrDeadline(next, batch.openedAt + 250, stop.signal);
 * if (outcome.kind === 'flush') await seal(batcher.take());
 * ```
 */
export function nextOrDeadline(
  next: Promise<IteratorResult<Transaction>>,
  deadline: number | undefined,
  signal: AbortSignal,
): Promise<NextOutcome> {
  const waits: Array<Promise<NextOutcome>> = [next.then((result) => ({ kind: 'tx', result }))];

  // The flush deadline, when a batch is open.
  let timer: NodeJS.Timeout | undefined;
  if (deadline !== undefined) {
    const delay = Math.max(0, deadline - Date.now());
    waits.push(
      new Promise((resolve) => {
        timer = setTimeout(() => resolve({ kind: 'flush' }), delay);
      }),
    );
  }

  // A stop request, also one made before this call.
  let onStop: (() => void) | undefined;
  waits.push(
    new Promise((resolve) => {
      onStop = () => resolve({ kind: 'stop' });
      if (signal.aborted) onStop();
      else signal.addEventListener('abort', onStop, { once: true });
    }),
  );

  return Promise.race(waits).finally(() => {
    clearTimeout(timer);
    if (onStop !== undefined) signal.removeEventListener('abort', onStop);
  });
}
