import type pg from 'pg';
import type { Row } from '../change/change.js';
import { columnArrays, deleteStatement, insertStatement, upsertStatement } from './batch-sql.js';
import type { TargetTable } from './target-catalog.js';

/** Rows per batch statement; bounds memory and statement size. */
export const MAX_BATCH_ROWS = 5_000;
/** Approximate text bytes per batch statement. */
export const MAX_BATCH_BYTES = 8 * 1024 * 1024;
/** Smallest run of inserts streamed with COPY (a CopyLane) rather than INSERT … SELECT unnest. */
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
 * if (addRow(batch, row, true)) await queueBatch(client, batch);
 * ```
 */
export function addRow(batch: Batch, row: Row, insert: boolean): boolean {
  // NOTE: rows are not deduplicated by key here (that cost a JSON key per row); an upsert
  // batch keeps the last change of each key when it is sent (see latestPerKey), and a COPY of
  // inserts that repeat a key fails on the key and falls back to that upsert (CopyLane).
  batch.rows.push(row);
  batch.insertsOnly &&= insert;
  const columns = batch.columns;
  for (let i = 0; i < columns.length; i++) batch.bytes += (row[columns[i]!]?.length ?? 0) + 4;
  return batch.rows.length >= MAX_BATCH_ROWS || batch.bytes >= MAX_BATCH_BYTES;
}

/** How a batch queued with {@link queueBatch} ended. */
export type BatchOutcome = { kind: 'applied' } | { kind: 'failed'; error: unknown };

/**
 * Queue a batch's statement on the connection without waiting for it: DELETE by keys, INSERT,
 * or an upsert (runs of inserts long enough for COPY go through a {@link CopyLane} instead).
 * node-postgres sends queued statements in order as soon as the one before is done, so the
 * server goes from one batch to the next without waiting for this thread. The promise never
 * rejects: it says how the batch ended.
 *
 * @example
 * ```ts
 * const outcome = await queueBatch(client, batch);
 * ```
 */
export function queueBatch(client: pg.ClientBase, batch: Batch): Promise<BatchOutcome> {
  const rows = batch.rows;
  let statement: Promise<unknown>;
  if (rows.length === 0) statement = Promise.resolve();
  else if (batch.kind === 'delete') {
    const sql = deleteStatement(batch.table);
    statement = client.query({ ...sql, values: columnArrays(rows, batch.columns) });
  } else if (batch.kind === 'insert') {
    const sql = insertStatement(batch.table, batch.columns);
    statement = client.query({ ...sql, values: columnArrays(rows, batch.columns) });
  } else statement = upsertRows(client, batch.table, batch.columns, rows);
  return statement.then(
    (): BatchOutcome => ({ kind: 'applied' }),
    (error: unknown): BatchOutcome => ({ kind: 'failed', error }),
  );
}

/**
 * Apply rows as INSERT … ON CONFLICT DO UPDATE, keeping the last row of each key.
 *
 * @example
 * ```ts
 * await upsertRows(client, table, ['id', 'name'], rows);
 * ```
 */
export function upsertRows(
  client: pg.ClientBase,
  table: TargetTable,
  columns: string[],
  rows: Row[],
): Promise<unknown> {
  const sql = upsertStatement(table, columns);
  const latest = latestPerKey(rows, table.primaryKey);
  return client.query({ ...sql, values: columnArrays(latest, columns) });
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
