import type { CaptureSource } from '../../src/capture/capture-source.js';
import type { ChangeRecord, Transaction } from '../../src/change/change.js';
import { waitFor } from '../support/wait-for.js';

/** Reads a source in the background, as the pipeline would, keeping what arrived. */
export interface Collector {
  transactions: Transaction[];
  /** Change records (not schema records) of every transaction so far, in stream order. */
  changes(): ChangeRecord[];
  /** Wait until `count` change records arrived (optionally only non-snapshot ones). */
  waitForChanges(count: number, what?: string): Promise<ChangeRecord[]>;
  /** Acknowledge everything received so far. */
  acknowledgeAll(): Promise<void>;
  /** Resolves when the source's stream ended; rejects with its error. */
  done: Promise<void>;
}

export function collect(source: CaptureSource): Collector {
  const transactions: Transaction[] = [];
  const done = (async () => {
    for await (const tx of source.transactions()) transactions.push(tx);
  })();
  done.catch(() => {});
  const changes = () =>
    transactions.flatMap((tx) => tx.records.filter((r): r is ChangeRecord => r.kind === 'change'));
  return {
    transactions,
    changes,
    done,
    async waitForChanges(count, what) {
      await waitFor(() => changes().length >= count, {
        what: what ?? `${count} changes`,
        timeoutMs: 20_000,
      });
      return changes();
    },
    async acknowledgeAll() {
      const last = transactions.at(-1);
      if (last !== undefined) await source.acknowledge(last.position);
    },
  };
}
