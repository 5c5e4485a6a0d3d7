import { setImmediate } from 'node:timers/promises';
import type pg from 'pg';
import type { Transaction } from '../change/change.js';
import { redactUrl } from '../log/logger.js';
import { ChangeApplier, type TableCounts } from './change-applier.js';
import { connect } from './compare-databases.js';
import { describeError } from './database-error.js';
import {
  ensureProgressTable,
  type RestoreProgress,
  readProgress,
  writeProgress,
} from './restore-progress.js';
import type { RestoreTarget } from './restore-target.js';

/**
 * Records applied between two turns of the event loop (about half a millisecond of decoding).
 * NOTE: joining a batch or a COPY is synchronous, so without these turns the connection would
 * not advance (answers unread, the next queued statement or COPY data unsent) until this thread
 * waits: the server and this thread would take turns instead of working at the same time.
 * 100 cost about 0.1 s more CPU per million changes than 500, for no gain in throughput.
 */
const RECORDS_PER_TURN = 500;

export interface DatabaseTargetOptions {
  url: string;
  keepSchema?: boolean;
  allowNonempty?: boolean;
  tables?: Set<string>;
  warn: (message: string) => void;
}

/**
 * Applies transactions to a PostgreSQL database, grouping several segments per database
 * transaction and committing the restore progress in the same transaction.
 *
 * @example
 * ```ts
 * const target = await DatabaseTarget.open({ url, warn: console.warn });
 * const resume = await target.begin(streamId);
 * ```
 */
export class DatabaseTarget implements RestoreTarget {
  readonly description: string;
  readonly client: pg.Client;
  private readonly applier: ChangeApplier;
  private open = false;
  private progressTableReady = false;
  private committed = new Map<string, TableCounts>();
  private sinceTurn = 0;

  private constructor(client: pg.Client, options: DatabaseTargetOptions) {
    this.client = client;
    this.description = redactUrl(options.url);
    this.applier = new ChangeApplier({
      client,
      keepSchema: options.keepSchema,
      allowNonempty: options.allowNonempty,
      tables: options.tables,
      warn: options.warn,
    });
  }

  /** Connect to the target database. */
  static async open(options: DatabaseTargetOptions): Promise<DatabaseTarget> {
    const client = await connect(options.url, 'target');
    // NOTE: commits of the groups do not wait for the disk; the progress row commits with the
    // changes, so a crash loses only whole groups, which the next run applies again. The final
    // commit is synchronous.
    await client.query('SET synchronous_commit = off');
    return new DatabaseTarget(client, options);
  }

  async begin(streamId: string): Promise<RestoreProgress | undefined> {
    return this.run('read restore progress', async () => {
      const progress = await readProgress(this.client, streamId);
      // Our own earlier run filled these tables: resuming is not merging into foreign data.
      if (progress !== undefined) this.applier.allowNonempty = true;
      return progress;
    });
  }

  async markTransaction(): Promise<void> {
    await this.run('mark transaction start', async () => {
      await this.ensureOpen();
      await this.applier.flush();
      await this.client.query('SAVEPOINT cr_transaction');
    });
  }

  async abandonTransaction(): Promise<void> {
    await this.run('undo incomplete transaction', async () => {
      await this.applier.settle();
      this.applier.forgetTables();
      await this.client.query('ROLLBACK TO SAVEPOINT cr_transaction');
    });
  }

  async apply(_stream: { streamId: string; sequence: number }, tx: Transaction): Promise<void> {
    if (!this.open) await this.ensureOpen();
    for (const record of tx.records) {
      const pending = this.applier.apply(record);
      if (pending !== undefined) await pending;
    }

    // Let the batch in flight advance while the next one is built.
    this.sinceTurn += tx.records.length;
    if (this.sinceTurn >= RECORDS_PER_TURN) {
      this.sinceTurn = 0;
      await setImmediate();
    }
  }

  async commit(progress: RestoreProgress, options: { final?: boolean } = {}): Promise<void> {
    await this.run('commit restored changes', async () => {
      await this.ensureOpen();
      await this.applier.flush();
      // Created in the first restore transaction, so a refused restore leaves nothing behind.
      if (!this.progressTableReady) await ensureProgressTable(this.client);
      await writeProgress(this.client, progress);
      if (options.final) await this.client.query('SET LOCAL synchronous_commit = on');
      await this.client.query('COMMIT');
      this.open = false;
      this.progressTableReady = true;
      this.committed = cloneCounts(this.applier.counts);
    });
  }

  async rollback(): Promise<void> {
    await this.applier.settle();
    this.applier.forgetTables();
    this.applier.resetCounts(cloneCounts(this.committed));
    if (!this.open) return;
    this.open = false;
    await this.client.query('ROLLBACK').catch(() => {});
  }

  counts(): Map<string, TableCounts> {
    return this.committed;
  }

  async close(): Promise<void> {
    if (this.open) await this.rollback();
    await this.client.end().catch(() => {});
  }

  private async ensureOpen(): Promise<void> {
    if (this.open) return;
    await this.client.query('BEGIN');
    this.open = true;
  }

  private async run<T>(doing: string, work: () => Promise<T>): Promise<T> {
    try {
      return await work();
    } catch (error) {
      throw describeError(doing, error);
    }
  }
}

function cloneCounts(counts: Map<string, TableCounts>): Map<string, TableCounts> {
  return new Map([...counts].map(([table, entry]) => [table, { ...entry }]));
}
