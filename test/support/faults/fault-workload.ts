import pg from 'pg';
import type { Random } from './seed.js';

/** The tables the fault workload writes; `row_id` is the checker's id of an inserted row. */
export const FAULT_DDL = `
  CREATE TABLE public.fault_events (seq bigserial PRIMARY KEY, row_id bigint NOT NULL,
    writer int NOT NULL, payload text NOT NULL, at timestamptz NOT NULL DEFAULT now());
  CREATE TABLE public.fault_counters (writer int PRIMARY KEY, total bigint NOT NULL,
    touched int NOT NULL);
  INSERT INTO public.fault_counters SELECT w, 0, 0 FROM generate_series(0, 15) w;
`;

/** How a transaction of the workload ended, as far as the client can know. */
export type Outcome = 'committed' | 'failed' | 'unknown';

/** A transaction of the workload: the row ids it inserted (a range) and how it ended. */
export interface TransactionRecord {
  firstRowId: number;
  lastRowId: number;
  outcome: Outcome;
}

/** Everything the workload wrote, for the checker. */
export interface History {
  transactions: TransactionRecord[];
}

export interface WorkloadOptions {
  /** The source database, reached directly (not through a fault proxy). */
  databaseUrl: string;
  random: Random;
  /** Concurrent writers (default 3). */
  writers?: number;
  /** Rows per transaction, at most (default 5). */
  maxRows?: number;
  /** One transaction in this many is rolled back on purpose (default 10). */
  rollbackEvery?: number;
  /** One row in this many carries a payload over 8000 bytes (default 40; 0: never). */
  largeRowEvery?: number;
  /**
   * Transactions per second, all writers together, at most (default 300; 0: as fast as the
   * database allows). A bounded rate keeps a scenario's size the same on a fast idle machine
   * and a loaded one: unbounded writers outrun the replicator, and catching up never ends.
   */
  ratePerSecond?: number;
}

/**
 * A sustained workload of small transactions from concurrent writers: each inserts a few rows
 * with fresh ids into `fault_events` and updates its writer's counter; some are rolled back on
 * purpose, some carry rows too large for NOTIFY. Every outcome is recorded: committed, failed
 * (an error before COMMIT, or a rollback), or unknown (the connection was lost during COMMIT).
 * Writers reconnect after a lost connection, so the workload survives a database crash.
 *
 * @example
 * ```ts
 * const workload = new FaultWorkload({ databaseUrl, random });
 * workload.start();
 * // ... inject faults ...
 * const history = await workload.stop();
 * ```
 */
export class FaultWorkload {
  readonly #options: Required<WorkloadOptions>;
  readonly #history: History = { transactions: [] };
  #nextRowId = 1;
  #running = false;
  #writers: Promise<void>[] = [];

  constructor(options: WorkloadOptions) {
    this.#options = {
      writers: 3,
      maxRows: 5,
      rollbackEvery: 10,
      largeRowEvery: 40,
      ratePerSecond: 300,
      ...options,
    };
  }

  /** Transactions recorded so far, by outcome. */
  counts(): Record<Outcome, number> {
    const counts: Record<Outcome, number> = { committed: 0, failed: 0, unknown: 0 };
    for (const tx of this.#history.transactions) counts[tx.outcome] += 1;
    return counts;
  }

  /** Start the writers; they run until {@link stop}. */
  start(): void {
    this.#running = true;
    for (let writer = 0; writer < this.#options.writers; writer++) {
      this.#writers.push(this.#writerLoop(writer));
    }
  }

  /** Stop the writers after their current transaction and return the history. */
  async stop(): Promise<History> {
    this.#running = false;
    await Promise.all(this.#writers);
    this.#writers = [];
    return this.#history;
  }

  /** Wait until at least `count` more transactions have committed. */
  async waitForCommits(count: number, timeoutMs = 60_000): Promise<void> {
    const target = this.counts().committed + count;
    const deadline = Date.now() + timeoutMs;
    while (this.counts().committed < target) {
      if (Date.now() > deadline) {
        throw new Error(`timed out waiting for ${count} commits of the workload`);
      }
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  /**
   * Insert `rows` rows in one transaction with a single statement (a backlog builder).
   * Recorded like any other transaction.
   */
  async bulkInsert(rows: number, payloadBytes = 100): Promise<void> {
    const first = this.#nextRowId;
    this.#nextRowId += rows;
    const client = new pg.Client({ connectionString: this.#options.databaseUrl });
    await client.connect();
    try {
      await client.query(
        `INSERT INTO fault_events (row_id, writer, payload)
           SELECT g, 99, repeat('b', $3) FROM generate_series($1::bigint, $2::bigint) g`,
        [first, first + rows - 1, payloadBytes],
      );
      this.#history.transactions.push({
        firstRowId: first,
        lastRowId: first + rows - 1,
        outcome: 'committed',
      });
    } finally {
      await client.end();
    }
  }

  async #writerLoop(writer: number): Promise<void> {
    let client: pg.Client | undefined;
    const { ratePerSecond, writers } = this.#options;
    // Pacing, not synchronisation: each writer starts a transaction at most every `interval` ms.
    const interval = ratePerSecond > 0 ? (1000 * writers) / ratePerSecond : 0;
    let due = performance.now();
    while (this.#running) {
      if (interval > 0) {
        const wait = due - performance.now();
        if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
        due = Math.max(due + interval, performance.now() - interval);
      }
      // (Re)connect; while the database is down, wait a little and try again.
      if (client === undefined) {
        client = await this.#connect();
        if (client === undefined) {
          await new Promise((resolve) => setTimeout(resolve, 100));
          continue;
        }
      }
      const ok = await this.#oneTransaction(client, writer);
      if (!ok) {
        client.end().catch(() => {});
        client = undefined;
      }
    }
    await client?.end().catch(() => {});
  }

  async #connect(): Promise<pg.Client | undefined> {
    const client = new pg.Client({ connectionString: this.#options.databaseUrl });
    client.on('error', () => {});
    try {
      await client.connect();
      return client;
    } catch {
      await client.end().catch(() => {});
      return undefined;
    }
  }

  /** One transaction; returns false when the connection must be replaced. */
  async #oneTransaction(client: pg.Client, writer: number): Promise<boolean> {
    const { random, maxRows, rollbackEvery, largeRowEvery } = this.#options;
    const rows = random.int(1, maxRows);
    const first = this.#nextRowId;
    this.#nextRowId += rows;
    const record: TransactionRecord = {
      firstRowId: first,
      lastRowId: first + rows - 1,
      outcome: 'failed',
    };
    this.#history.transactions.push(record);

    // Everything before COMMIT: an error here means the transaction did not commit.
    try {
      await client.query('BEGIN');
      const values: string[] = [];
      const params: unknown[] = [];
      for (let i = 0; i < rows; i++) {
        const large = largeRowEvery > 0 && random.int(1, largeRowEvery) === 1;
        params.push(first + i, large ? 'L'.repeat(9000) : `w${writer} r${first + i} ✓`);
        values.push(`($${params.length - 1}, ${writer}, $${params.length})`);
      }
      await client.query(
        `INSERT INTO fault_events (row_id, writer, payload) VALUES ${values.join(', ')}`,
        params,
      );
      await client.query(
        'UPDATE fault_counters SET total = total + $1, touched = touched + 1 WHERE writer = $2',
        [rows, writer],
      );
      if (rollbackEvery > 0 && random.int(1, rollbackEvery) === 1) {
        await client.query('ROLLBACK');
        return true;
      }
    } catch {
      return false;
    }

    // COMMIT: a server's answer decides; a lost connection leaves the outcome unknown.
    try {
      await client.query('COMMIT');
      record.outcome = 'committed';
      return true;
    } catch (error) {
      const sqlState = (error as { code?: unknown }).code;
      record.outcome =
        typeof sqlState === 'string' &&
        /^[0-9A-Z]{5}$/.test(sqlState) &&
        !sqlState.startsWith('57') &&
        !sqlState.startsWith('08')
          ? 'failed'
          : 'unknown';
      return false;
    }
  }
}
