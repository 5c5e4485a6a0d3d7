import type pg from 'pg';
import {
  type Batch,
  type BatchOutcome,
  MAX_BATCH_ROWS,
  queueBatch,
  upsertRows,
} from './change-batch.js';
import { CopyLane } from './copy-lane.js';
import { describeError } from './database-error.js';

/**
 * Batches queued on the connection ahead of this thread: one being applied by the server and
 * the next waiting, so the server goes on while this thread decodes; memory stays bounded.
 */
const QUEUED_BATCHES = 2;

/** A batch whose statements are queued on the connection. */
interface QueuedBatch {
  batch: Batch;
  outcome: Promise<BatchOutcome>;
}

/**
 * What is on its way to the target database: batches queued on the connection (at most
 * {@link QUEUED_BATCHES}), or one COPY being streamed ({@link CopyLane}), never both. Statements
 * stay in order: batches and the COPY go through the connection's own queue, and a caller
 * sends any other statement only after {@link flush}.
 *
 * @example
 * ```ts
 * const queue = new ApplyQueue(client);
 * await queue.send(batch);
 * await queue.flush();
 * ```
 */
export class ApplyQueue {
  private readonly client: pg.ClientBase;
  private queued: QueuedBatch[] = [];
  #lane: CopyLane | undefined;

  constructor(client: pg.ClientBase) {
    this.client = client;
  }

  /** The COPY being streamed, if any: rows that continue it go straight to {@link CopyLane.add}. */
  get lane(): CopyLane | undefined {
    return this.#lane;
  }

  /** Queue a batch behind those already queued, first waiting for the oldest when full. */
  async send(batch: Batch): Promise<void> {
    await this.endLane();
    while (this.queued.length >= QUEUED_BATCHES) await this.settleOldest();
    this.queued.push({ batch, outcome: queueBatch(this.client, batch) });
  }

  /**
   * Stream a batch of inserts, and the inserts that continue it, as one COPY, after the batches
   * queued before it are applied (so that a COPY that meets an existing key only has itself to
   * undo). Under a savepoint for an upsert batch (a table with a primary key).
   */
  async startLane(batch: Batch): Promise<void> {
    await this.flush();
    const lane = CopyLane.open(this.client, batch, { savepoint: batch.kind === 'upsert' });
    this.#lane = lane;
    for (const row of batch.rows) {
      const waiting = lane.add(row);
      if (waiting !== undefined) await waiting;
    }
  }

  /**
   * End the COPY being streamed and wait for it. One that met a key already present is rolled
   * back to its savepoint and its rows applied as upserts (the last change of a key wins).
   */
  async endLane(): Promise<void> {
    const lane = this.#lane;
    if (lane === undefined) return;
    this.#lane = undefined;
    const ended = await lane.finish();
    try {
      if (ended.kind === 'failed') throw ended.error;
      if (ended.kind === 'applied') return;
      await lane.undo();
      const rows = lane.rows();
      for (let start = 0; start < rows.length; start += MAX_BATCH_ROWS) {
        const part = rows.slice(start, start + MAX_BATCH_ROWS);
        await upsertRows(this.client, lane.table, lane.columns, part);
      }
    } catch (error) {
      throw describeError(`apply changes to table ${lane.name}`, error);
    }
  }

  /** Wait until everything sent has been applied; the first failure throws. */
  async flush(): Promise<void> {
    await this.endLane();
    while (this.queued.length > 0) await this.settleOldest();
  }

  /** Abandon the open COPY and wait, ignoring their outcome, for the batches queued. */
  async settle(): Promise<void> {
    const lane = this.#lane;
    this.#lane = undefined;
    await lane?.abort();
    const queued = this.queued.splice(0);
    await Promise.all(queued.map((entry) => entry.outcome));
  }

  /** Forget what was sent (after a rollback). */
  reset(): void {
    this.#lane = undefined;
    this.queued = [];
  }

  /** Wait for the oldest queued batch; a failure waits for those behind it, then throws. */
  private async settleOldest(): Promise<void> {
    const { batch, outcome } = this.queued.shift()!;
    const ended = await outcome;
    if (ended.kind === 'applied') return;
    await this.settle();
    throw describeError(`apply changes to table ${batch.name}`, ended.error);
  }
}
