import type { CaptureSource, CaptureStatus } from '../capture/capture-source.js';
import { comparePositions, type Transaction } from '../change/change.js';

/**
 * A capture source that counts what passes through it: changes received, and changes whose
 * transactions the replicator has acknowledged (stored durably). The demo reads these to show
 * progress and to know when everything it wrote is in the store, whatever the capture mode.
 *
 * @example
 * ```ts
 * const source = new CountingSource(createCaptureSource(options));
 * const replicator = new Replicator({ source, store, recipients, stateDir });
 * source.storedChanges; // => changes in stored and acknowledged transactions
 * ```
 */
export class CountingSource implements CaptureSource {
  readonly #inner: CaptureSource;
  /** Positions received, with the running count of changes up to and including each one. */
  readonly #received: Array<{ position: string; changes: number }> = [];
  #receivedChanges = 0;
  #storedChanges = 0;

  constructor(inner: CaptureSource) {
    this.#inner = inner;
  }

  get mode() {
    return this.#inner.mode;
  }

  /** Row changes received from the database so far. */
  get receivedChanges(): number {
    return this.#receivedChanges;
  }

  /** Row changes in transactions the replicator stored and acknowledged. */
  get storedChanges(): number {
    return this.#storedChanges;
  }

  start(): Promise<void> {
    return this.#inner.start();
  }

  async *transactions(): AsyncIterable<Transaction> {
    for await (const transaction of this.#inner.transactions()) {
      // Count the workload's changes, not the initial snapshot (rows, and the TRUNCATE with
      // which a logical snapshot opens).
      let changes = 0;
      if (transaction.xid !== 'snapshot') {
        for (const record of transaction.records) {
          if (record.kind === 'change' && record.snapshot !== true) changes++;
        }
      }
      this.#receivedChanges += changes;
      // A transaction split over segments repeats its position: count it under the last part.
      const last = this.#received.at(-1);
      if (last !== undefined && last.position === transaction.position) {
        last.changes = this.#receivedChanges;
      } else {
        this.#received.push({ position: transaction.position, changes: this.#receivedChanges });
      }
      yield transaction;
    }
  }

  async acknowledge(position: string): Promise<void> {
    await this.#inner.acknowledge(position);
    // Everything received up to this position is stored.
    while (
      this.#received.length > 0 &&
      comparePositions(this.#received[0]!.position, position) <= 0
    ) {
      this.#storedChanges = this.#received.shift()!.changes;
    }
  }

  stop(): Promise<void> {
    return this.#inner.stop();
  }

  status(): CaptureStatus {
    return this.#inner.status();
  }
}
