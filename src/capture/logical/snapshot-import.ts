import type { ChangeRecord, SchemaRecord, TableName, Transaction } from '../../change/change.js';
import { DatabaseError } from '../../errors.js';
import type { Logger } from '../../log/logger.js';
import { readSnapshot } from '../snapshot-reader.js';
import { connectText } from '../text-client.js';

/** How the snapshot's transactions are numbered, and whether it first empties the tables. */
export interface SnapshotNumbering {
  /** Its transactions take positions base+1, base+2, … */
  base: bigint;
  /** A snapshot taken again first empties the tables a cut-short one may have filled. */
  truncate: boolean;
  /** The slot's consistent point: every snapshot position stays below it. */
  consistentPoint: bigint;
}

/** What the snapshot reader needs from the capture source. */
export interface SnapshotSink {
  push(transaction: Transaction): Promise<void>;
  /** Schema records still to go out, put in front of the next transaction. */
  takeSchemas(): SchemaRecord[];
  /** The last snapshot position handed over (the slot must not move until it is stored). */
  emitted(position: bigint): void;
  aborted(): boolean;
  logger: Logger;
}

/**
 * Import an exported snapshot on a connection of its own now (the exporting connection closes
 * next), and return the function that reads it later into `sink`, in bounded chunks.
 *
 * @example
 * ```ts
 * const read = await importSnapshot(url, created.snapshotName, tables, numbering, sink);
 * await read();
 * ```
 */
export async function importSnapshot(
  databaseUrl: string,
  snapshotName: string,
  tables: TableName[],
  numbering: SnapshotNumbering,
  sink: SnapshotSink,
): Promise<() => Promise<void>> {
  const reader = await connectText(databaseUrl, 'crypto-replicator snapshot');
  reader.on('error', () => {});
  await reader.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
  await reader.query(`SET TRANSACTION SNAPSHOT '${snapshotName.replaceAll("'", "''")}'`);
  return async () => {
    // Snapshot transactions take positions base+1, base+2, … (decimal): all below the slot's
    // consistent point, so they order before every streamed commit.
    let next = numbering.base;
    const push = (records: Array<ChangeRecord | SchemaRecord>) => {
      next++;
      if (next >= numbering.consistentPoint) {
        throw new DatabaseError('read initial snapshot: more chunks than positions below the slot');
      }
      sink.emitted(next);
      return sink.push({
        xid: 'snapshot',
        commitTime: new Date().toISOString(),
        position: next.toString(),
        records: [...sink.takeSchemas(), ...records],
      });
    };
    let rows = 0;
    try {
      if (numbering.truncate && tables.length > 0) {
        await push([{ kind: 'change', table: tables[0]!, op: 'TRUNCATE', tables }]);
      }
      for await (const records of readSnapshot(reader, tables)) {
        if (sink.aborted()) return;
        rows += records.length;
        await push(records);
      }
      sink.logger.info(
        { rows, transactions: Number(next - numbering.base) },
        'initial snapshot read',
      );
    } finally {
      await reader.end().catch(() => {});
    }
  };
}
