import type { Transaction } from '../change/change.js';

/** How many transactions, and how many records in total, a queue holds before writers wait. */
export const DEFAULT_QUEUE_TRANSACTIONS = 1_000;
export const DEFAULT_QUEUE_RECORDS = 20_000;

/**
 * A bounded hand-over between a capture source (one writer) and the pipeline (one reader).
 * `push` waits while the queue is full, which is how a source stops reading from the database
 * while the consumer is behind. `fail` ends the reader with an error; `close` ends it cleanly.
 *
 * @example
 * ```ts
 * const queue = new TransactionQueue();
 * void queue.push(tx);
 * for await (const next of queue) console.log(next.position);
 * ```
 */
export class TransactionQueue implements AsyncIterable<Transaction> {
  private readonly items: Transaction[] = [];
  private records = 0;
  private closed = false;
  private failure: unknown;
  private wakeReader: (() => void) | undefined;
  private readonly wakeWriters: Array<() => void> = [];

  constructor(
    private readonly maxTransactions = DEFAULT_QUEUE_TRANSACTIONS,
    private readonly maxRecords = DEFAULT_QUEUE_RECORDS,
  ) {}

  /** Transactions waiting for the reader. */
  get length(): number {
    return this.items.length;
  }

  /** Add a transaction; resolves once there is room (a lone oversized one always fits). */
  async push(tx: Transaction): Promise<void> {
    while (!this.closed && this.items.length > 0 && this.isFull()) {
      await new Promise<void>((resolve) => this.wakeWriters.push(resolve));
    }
    if (this.closed) return;
    this.items.push(tx);
    this.records += tx.records.length;
    this.wakeReader?.();
  }

  /** End the stream with an error the reader will throw. */
  fail(error: unknown): void {
    if (this.closed) return;
    this.failure = error;
    this.close();
  }

  /** End the stream; the reader finishes after what is already queued is discarded. */
  close(): void {
    this.closed = true;
    this.items.length = 0;
    this.records = 0;
    this.wakeReader?.();
    for (const wake of this.wakeWriters.splice(0)) wake();
  }

  async *[Symbol.asyncIterator](): AsyncIterator<Transaction> {
    for (;;) {
      const next = this.items.shift();
      if (next !== undefined) {
        this.records -= next.records.length;
        for (const wake of this.wakeWriters.splice(0)) wake();
        yield next;
        continue;
      }
      if (this.closed) {
        if (this.failure !== undefined) throw this.failure;
        return;
      }
      await new Promise<void>((resolve) => {
        this.wakeReader = resolve;
      });
      this.wakeReader = undefined;
    }
  }

  private isFull(): boolean {
    return this.items.length >= this.maxTransactions || this.records >= this.maxRecords;
  }
}
