import type pg from 'pg';
import type { TableName, Transaction } from '../../change/change.js';
import { CAPTURE_SCHEMA } from '../install-sql.js';
import { readSnapshot } from '../snapshot-reader.js';

const S = CAPTURE_SCHEMA;

export interface OutboxSnapshotOptions {
  client: pg.Client;
  tables: TableName[];
  emit: (tx: Transaction) => Promise<void>;
  aborted: () => boolean;
}

/**
 * Read the tables in one REPEATABLE READ transaction and emit them as snapshot chunks with
 * drain positions. Outbox rows visible to that same snapshot are already reflected in it, so
 * they are deleted in the same transaction (which commits after the last chunk is emitted);
 * a crash before the snapshot is acknowledged leaves no "done" mark, and the next start takes
 * a new snapshot. Returns the last chunk's position, or undefined when there were no rows.
 *
 * @example
 * ```ts
 * const last = await snapshotOutbox({ client, tables, emit, aborted: () => false });
 * ```
 */
export async function snapshotOutbox(options: OutboxSnapshotOptions): Promise<bigint | undefined> {
  const { client } = options;
  let last: bigint | undefined;
  await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ');
  try {
    await client.query(`DELETE FROM ${S}.outbox`);
    for await (const records of readSnapshot(client, options.tables)) {
      if (options.aborted()) break;
      const next = await client.query<{ p: string }>(
        `SELECT nextval('${S}.drain_position')::text AS p`,
      );
      last = BigInt(next.rows[0]!.p);
      await options.emit({
        xid: 'snapshot',
        commitTime: new Date().toISOString(),
        position: String(last),
        records,
      });
    }
    if (options.aborted()) {
      await client.query('ROLLBACK');
      return undefined;
    }
    await client.query('COMMIT');
    return last;
  } catch (error) {
    await client.query('ROLLBACK').catch(() => {});
    throw error;
  }
}
