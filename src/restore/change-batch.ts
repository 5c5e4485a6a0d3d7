import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import type { Row } from '../change/change.js';
import {
  columnArrays,
  copyStatement,
  copyText,
  deleteStatement,
  insertStatement,
  upsertStatement,
} from './batch-sql.js';
import type { TargetTable } from './target-catalog.js';

/** Rows per batch statement; bounds memory and statement size. */
export const MAX_BATCH_ROWS = 5_000;
/** Approximate text bytes per batch statement. */
export const MAX_BATCH_BYTES = 8 * 1024 * 1024;
/** Smallest insert batch sent with COPY rather than INSERT … SELECT unnest. */
export const COPY_MIN_ROWS = 32;

/** Consecutive changes of one table, kind and column list, sent as one statement. */
export interface Batch {
  table: TargetTable;
  /** `qualifiedName` of the table, computed once per batch. */
  name: string;
  kind: 'upsert' | 'delete' | 'insert';
  columns: string[];
  /** In arrival order; an upsert keeps the last change of each key when it is sent. */
  rows: Row[];
  insertsOnly: boolean;
  bytes: number;
}

/**
 * Add a row to a batch; true when the batch is full and must be sent.
 *
 * @example
 * ```ts
 * if (addRow(batch, row, true)) await sendBatch(client, batch);
 * ```
 */
export function addRow(batch: Batch, row: Row, insert: boolean): boolean {
  // NOTE: rows are not deduplicated by key here (that cost a JSON key per row); an upsert
  // batch keeps the last change of each key when it is sent (see latestPerKey), and a COPY of
  // inserts that repeat a key fails on the key and falls back to that upsert.
  batch.rows.push(row);
  batch.insertsOnly &&= insert;
  const columns = batch.columns;
  for (let i = 0; i < columns.length; i++) batch.bytes += (row[columns[i]!]?.length ?? 0) + 4;
  return batch.rows.length >= MAX_BATCH_ROWS || batch.bytes >= MAX_BATCH_BYTES;
}

/**
 * Send a batch: DELETE by keys, INSERT or COPY, or an upsert; inserts of a keyed table try COPY
 * under a savepoint first.
 *
 * @example
 * ```ts
 * await sendBatch(client, batch);
 * ```
 */
export async function sendBatch(client: pg.ClientBase, batch: Batch): Promise<void> {
  const rows = batch.rows;
  if (rows.length === 0) return;

  if (batch.kind === 'delete') {
    const sql = deleteStatement(batch.table);
    await client.query({ ...sql, values: columnArrays(rows, batch.columns) });
    return;
  }

  if (batch.kind === 'insert') {
    if (rows.length >= COPY_MIN_ROWS) await copyRows(client, batch, rows);
    else {
      const sql = insertStatement(batch.table, batch.columns);
      await client.query({ ...sql, values: columnArrays(rows, batch.columns) });
    }
    return;
  }

  // Inserts go in with COPY; a key already present (a snapshot overlapping the changes,
  // a replay) rolls back to the savepoint and the batch is sent again as an upsert.
  if (batch.insertsOnly && rows.length >= COPY_MIN_ROWS) {
    await client.query('SAVEPOINT cr_copy');
    try {
      await copyRows(client, batch, rows);
      await client.query('RELEASE SAVEPOINT cr_copy');
      return;
    } catch (error) {
      if ((error as { code?: string }).code !== '23505') throw error;
      await client.query('ROLLBACK TO SAVEPOINT cr_copy');
    }
  }
  const sql = upsertStatement(batch.table, batch.columns);
  const latest = latestPerKey(rows, batch.table.primaryKey);
  await client.query({ ...sql, values: columnArrays(latest, batch.columns) });
}

/**
 * The last row of each key, in the order of those last rows: what applying the rows in turn
 * leaves, and what one INSERT … ON CONFLICT DO UPDATE accepts (it cannot touch a row twice).
 */
function latestPerKey(rows: Row[], key: string[]): Iterable<Row> {
  const latest = new Map<string, Row>();
  for (const row of rows) {
    const id = JSON.stringify(key.map((column) => row[column]));
    latest.delete(id);
    latest.set(id, row);
  }
  return latest.values();
}

async function copyRows(client: pg.ClientBase, batch: Batch, rows: Row[]): Promise<void> {
  const stream = client.query(copyFrom(copyStatement(batch.table, batch.columns)));
  await pipeline(Readable.from([copyText(rows, batch.columns)]), stream);
}
