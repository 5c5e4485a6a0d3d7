import type pg from 'pg';
import { type ChangeRecord, qualifiedName, type Row, type TableName } from '../change/change.js';

/** Rows fetched per round trip, and so the most rows one snapshot chunk holds. */
export const SNAPSHOT_CHUNK_ROWS = 2_000;

/**
 * Read every row of `tables` through a server-side cursor, `chunkRows` at a time, so memory
 * stays bounded whatever the table size. The caller owns the transaction on `client` (and so
 * which snapshot is read); values are the text output of each column, so the client must be a
 * text client (see connectText).
 *
 * @example
 * ```ts
 * await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ');
 * for await (const chunk of readSnapshot(client, tables)) await emit(chunk);
 * await client.query('COMMIT');
 * ```
 */
export async function* readSnapshot(
  client: pg.Client,
  tables: TableName[],
  chunkRows = SNAPSHOT_CHUNK_ROWS,
): AsyncGenerator<ChangeRecord[]> {
  for (const table of tables) {
    // One cursor per table, closed before the next one opens.
    await client.query(
      `DECLARE crypto_replicator_snapshot NO SCROLL CURSOR FOR SELECT * FROM ${qualifiedName(table)}`,
    );
    for (;;) {
      const result = await client.query<Row>(
        `FETCH ${Number(chunkRows)} FROM crypto_replicator_snapshot`,
      );
      if (result.rows.length === 0) break;
      yield result.rows.map(
        (row): ChangeRecord => ({ kind: 'change', table, op: 'INSERT', new: row, snapshot: true }),
      );
      if (result.rows.length < chunkRows) break;
    }
    await client.query('CLOSE crypto_replicator_snapshot');
  }
}
