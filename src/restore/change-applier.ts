import type pg from 'pg';
import type { ChangeRecord, Row, SchemaRecord, TableName } from '../change/change.js';
import { qualifiedName } from '../change/change.js';
import { IntegrityError, UsageError } from '../errors.js';

export { COPY_MIN_ROWS, MAX_BATCH_BYTES, MAX_BATCH_ROWS } from './change-batch.js';

import { ApplyQueue } from './apply-queue.js';
import { matchedRowStatement } from './batch-sql.js';
import { addRow, type Batch, COPY_MIN_ROWS } from './change-batch.js';
import type { CopyLane } from './copy-lane.js';
import { addMissingColumns, createTable } from './create-schema.js';
import { describeError } from './database-error.js';
import { describeTable, type TargetTable, tableHasRows } from './target-catalog.js';

/** What was applied to one table. */
export interface TableCounts {
  inserted: number;
  updated: number;
  deleted: number;
  truncated: number;
  snapshotRows: number;
}

export interface ChangeApplierOptions {
  client: pg.ClientBase;
  /** Use tables as they exist; never create or alter them. */
  keepSchema?: boolean;
  /** Accept tables that already hold rows (also set when resuming our own progress). */
  allowNonempty?: boolean;
  /** Only these tables (qualified names as `qualifiedName` prints them); all when undefined. */
  tables?: Set<string>;
  /** Receives each warning once (no row data). */
  warn: (message: string) => void;
}

/**
 * Applies schema and change records to a target database inside the caller's transaction,
 * batching consecutive changes of one table into one statement (COPY for inserts).
 * Upserts on the primary key make every change idempotent. Call {@link flush} before commit.
 *
 * @example
 * ```ts
 * const applier = new ChangeApplier({ client, warn: console.warn });
 * await client.query('BEGIN');
 * for (const record of tx.records) await applier.apply(record);
 * await applier.flush();
 * await client.query('COMMIT');
 * ```
 */
export class ChangeApplier {
  counts = new Map<string, TableCounts>();
  /** Accept tables that already hold rows (set when resuming our own progress). */
  allowNonempty: boolean;
  private readonly options: ChangeApplierOptions;
  private readonly known = new Map<string, TargetTable>();
  private readonly warned = new Set<string>();
  /** The batch being built; never there while a COPY is streamed ({@link ApplyQueue.lane}). */
  private batch: Batch | undefined;
  private readonly queue: ApplyQueue;

  constructor(options: ChangeApplierOptions) {
    this.options = options;
    this.allowNonempty = options.allowNonempty ?? false;
    this.queue = new ApplyQueue(options.client);
  }

  /** Replace the counts (after a rollback, with those of the last commit). */
  resetCounts(counts: Map<string, TableCounts>): void {
    this.counts = counts;
  }

  /**
   * Apply one record of a transaction. Returns undefined when the record only joined the
   * current batch (the common case, kept free of promises), else a promise to await.
   */
  apply(record: ChangeRecord | SchemaRecord): Promise<void> | undefined {
    if (record.kind === 'change') {
      const lane = this.queue.lane;
      const fast = lane !== undefined ? this.joinLane(lane, record) : this.joinCurrentBatch(record);
      if (fast !== false) return fast;
    }
    return this.applySlowly(record);
  }

  /** The hottest path: an insert that continues the COPY being streamed. */
  private joinLane(lane: CopyLane, change: ChangeRecord): Promise<void> | undefined | false {
    const row = change.new;
    if (change.op !== 'INSERT' || row === undefined || change.old !== undefined) return false;
    const table = lane.table.table;
    if (table.name !== change.table.name || table.schema !== change.table.schema) return false;
    const columns = lane.columns;
    for (let i = 0; i < columns.length; i++) if (row[columns[i]!] === undefined) return false;
    if (countColumns(row) !== columns.length) return false;

    const counts = this.tally(lane.name);
    if (change.snapshot) counts.snapshotRows++;
    else counts.inserted++;
    const waiting = lane.add(row);
    if (!lane.full()) return waiting;
    const end = () => this.queue.endLane();
    return waiting === undefined ? end() : waiting.then(end);
  }

  /**
   * The hot path: an insert, update or delete of a keyed table that fits the batch being
   * built. Returns false when the general path must handle it.
   */
  private joinCurrentBatch(change: ChangeRecord): Promise<void> | undefined | false {
    const batch = this.batch;
    if (batch === undefined || change.op === 'TRUNCATE') return false;
    const table = batch.table;
    if (table.table.name !== change.table.name || table.table.schema !== change.table.schema) {
      return false;
    }
    const key = table.primaryKey;
    let row: Row | undefined;
    if (change.op === 'DELETE') {
      if (batch.kind !== 'delete' || change.old === undefined) return false;
      const old = change.old;
      row = {};
      for (const column of key) {
        if (old[column] === undefined) return false;
        row[column] = old[column];
      }
    } else {
      row = change.new;
      if (batch.kind !== 'upsert' || row === undefined || change.old !== undefined) return false;
      let present = 0;
      for (const column of batch.columns) if (row[column] !== undefined) present++;
      if (present !== batch.columns.length || countColumns(row) !== present) return false;
    }

    // It fits: count it and add it.
    const counts = this.tally(batch.name);
    if (change.op === 'DELETE') counts.deleted++;
    else if (change.op === 'UPDATE') counts.updated++;
    else if (change.snapshot) counts.snapshotRows++;
    else counts.inserted++;
    return this.added(batch, addRow(batch, row, change.op === 'INSERT'));
  }

  /**
   * After a row joined the batch: send it when full, or stream it with COPY once it is a run
   * of inserts long enough; undefined (no promise) when it simply grows.
   */
  private added(batch: Batch, full: boolean): Promise<void> | undefined {
    if (full) {
      this.batch = undefined;
      return this.queue.send(batch);
    }
    if (batch.rows.length === COPY_MIN_ROWS && laneable(batch)) {
      this.batch = undefined;
      return this.queue.startLane(batch);
    }
    return undefined;
  }

  private async applySlowly(record: ChangeRecord | SchemaRecord): Promise<void> {
    if (!this.selected(record.table)) return;
    await this.queue.endLane();
    if (record.kind === 'schema') {
      await this.flush();
      await this.applySchema(record);
      return;
    }
    await this.applyChange(record);
  }

  /** Send the pending batch and wait until every batch sent has been applied. */
  async flush(): Promise<void> {
    const batch = this.batch;
    this.batch = undefined;
    if (batch !== undefined) await this.queue.send(batch);
    await this.queue.flush();
  }

  /** Drop the pending batch and the open COPY, and wait, ignoring their outcome, for the rest. */
  async settle(): Promise<void> {
    this.batch = undefined;
    await this.queue.settle();
  }

  /** Forget cached table shapes (after a rollback that may have undone a CREATE). */
  forgetTables(): void {
    this.known.clear();
    this.batch = undefined;
    this.queue.reset();
  }

  private selected(table: TableName): boolean {
    return this.options.tables === undefined || this.options.tables.has(qualifiedName(table));
  }

  private warnOnce(key: string, message: string): void {
    if (this.warned.has(key)) return;
    this.warned.add(key);
    this.options.warn(message);
  }

  private tally(table: TableName | string): TableCounts {
    const key = typeof table === 'string' ? table : qualifiedName(table);
    let counts = this.counts.get(key);
    if (counts === undefined) {
      counts = { inserted: 0, updated: 0, deleted: 0, truncated: 0, snapshotRows: 0 };
      this.counts.set(key, counts);
    }
    return counts;
  }

  private async applySchema(record: SchemaRecord): Promise<void> {
    const name = qualifiedName(record.table);
    const existing = await this.lookup(record.table, { checkEmpty: true });
    const { client } = this.options;

    // A table that is not there yet is created from the record, unless told to keep a schema.
    if (existing === undefined) {
      if (this.options.keepSchema) {
        throw new UsageError(`restore table ${name}: it does not exist in the target`, {
          hint: 'create it first, or run without --keep-schema to create it from the stream',
        });
      }
      await createTable(client, record);
    } else if (!this.options.keepSchema) {
      // A newer shape of a known table: add what is new, keep what the record dropped.
      const columns = existing.columns.map((column) => column.name);
      const { notInRecord } = await addMissingColumns(client, record, columns);
      if (notInRecord.length > 0) {
        this.warnOnce(
          `dropped:${name}:${notInRecord.join(',')}`,
          `table ${name}: the stream no longer lists column(s) ${notInRecord.join(', ')}; kept`,
        );
      }
    }
    this.known.delete(name);
    const table = await this.lookup(record.table, { checkEmpty: false });
    if (table !== undefined && table.primaryKey.length === 0) this.warnNoKey(table);
  }

  private warnNoKey(table: TargetTable): void {
    const name = qualifiedName(table.table);
    this.warnOnce(
      `nokey:${name}`,
      `table ${name} has no primary key: inserts are applied as they come, updates and deletes match one row by its full old value, and a change applied twice is not detected`,
    );
  }

  /** The table's shape from the catalog (cached), checking once that it started empty. */
  private async lookup(
    table: TableName,
    options: { checkEmpty: boolean },
  ): Promise<TargetTable | undefined> {
    const name = qualifiedName(table);
    const cached = this.known.get(name);
    if (cached !== undefined) return cached;
    await this.flush();
    const described = await describeTable(this.options.client, table);
    if (described === undefined) return undefined;
    if (options.checkEmpty && !this.allowNonempty && !this.warned.has(`checked:${name}`)) {
      this.warned.add(`checked:${name}`);
      if (await tableHasRows(this.options.client, table)) {
        throw new UsageError(`restore into table ${name}: the target table already holds rows`, {
          hint: 'restore into an empty database, or pass --allow-nonempty to merge into it',
        });
      }
    }
    this.warned.add(`checked:${name}`);
    this.known.set(name, described);
    return described;
  }

  private async requireTable(table: TableName): Promise<TargetTable> {
    const found = await this.lookup(table, { checkEmpty: true });
    if (found !== undefined) return found;
    throw new IntegrityError(
      `apply change to table ${qualifiedName(table)}: no schema record for it in the stream and no such table in the target`,
      { hint: 'create the table in the target and rerun with --keep-schema' },
    );
  }

  private async applyChange(change: ChangeRecord): Promise<void> {
    const table = await this.requireTable(change.table);
    const counts = this.tally(change.table);

    // TRUNCATE ends the batch and empties every selected table it names.
    if (change.op === 'TRUNCATE') {
      await this.flush();
      const targets: string[] = [];
      for (const each of change.tables ?? [change.table]) {
        if (!this.selected(each)) continue;
        await this.requireTable(each);
        targets.push(qualifiedName(each));
        this.tally(each).truncated++;
      }
      if (targets.length > 0) await this.options.client.query(`TRUNCATE ${targets.join(', ')}`);
      return;
    }

    if (change.op === 'INSERT') {
      if (change.snapshot) counts.snapshotRows++;
      else counts.inserted++;
    } else if (change.op === 'UPDATE') counts.updated++;
    else counts.deleted++;

    if (table.primaryKey.length === 0) {
      await this.applyWithoutKey(table, change);
      return;
    }
    await this.applyWithKey(table, change);
  }

  private async applyWithKey(table: TargetTable, change: ChangeRecord): Promise<void> {
    const key = table.primaryKey;
    const name = qualifiedName(table.table);
    if (change.op === 'DELETE') {
      const old = change.old ?? {};
      if (key.some((column) => old[column] === undefined)) {
        throw new IntegrityError(`apply delete to table ${name}: the change lacks its key`);
      }
      const row = Object.fromEntries(key.map((column) => [column, old[column] ?? null]));
      await this.addToBatch(table, 'delete', key, row, false);
      return;
    }

    const row = change.new ?? {};
    if (key.some((column) => row[column] === undefined)) {
      throw new IntegrityError(
        `apply ${change.op.toLowerCase()} to table ${name}: the row lacks its key`,
      );
    }

    // An update that moves the key first removes the row under its old key.
    if (change.op === 'UPDATE' && change.old !== undefined) {
      const old = change.old;
      const moved = key.some((column) => old[column] !== undefined && old[column] !== row[column]);
      if (moved) {
        const oldKey = Object.fromEntries(key.map((column) => [column, old[column] ?? null]));
        await this.addToBatch(table, 'delete', key, oldKey, false);
      }
    }

    const columns = this.columnsOf(table, row);
    const insert = change.op === 'INSERT';
    await this.addToBatch(table, 'upsert', columns, row, insert);
  }

  private async applyWithoutKey(table: TargetTable, change: ChangeRecord): Promise<void> {
    this.warnNoKey(table);
    const name = qualifiedName(table.table);
    if (change.op === 'INSERT') {
      const row = change.new ?? {};
      await this.addToBatch(table, 'insert', this.columnsOf(table, row), row, true);
      return;
    }

    // Updates and deletes match one row by the old values the change carries.
    await this.flush();
    const old = change.old;
    if (old === undefined || Object.keys(old).length === 0) {
      this.warnOnce(
        `noold:${name}`,
        `table ${name}: ${change.op.toLowerCase()} without the old row skipped (no primary key to match)`,
      );
      return;
    }
    const oldColumns = this.columnsOf(table, old);
    const newRow = change.new ?? {};
    const newColumns = change.op === 'UPDATE' ? this.columnsOf(table, newRow) : [];
    const sql = matchedRowStatement(
      table,
      change.op as 'UPDATE' | 'DELETE',
      oldColumns,
      newColumns,
    );
    const values = [
      ...oldColumns.map((column) => old[column] ?? null),
      ...newColumns.map((column) => newRow[column] ?? null),
    ];
    try {
      const result = await this.options.client.query({ ...sql, values });
      if (result.rowCount === 0) {
        this.warnOnce(
          `nomatch:${name}`,
          `table ${name}: an ${change.op.toLowerCase()} matched no row (no primary key); skipped`,
        );
      }
    } catch (error) {
      throw describeError(`apply ${change.op.toLowerCase()} to table ${name}`, error);
    }
  }

  /** The row's columns in table order, warning about columns the target lacks. */
  private columnsOf(table: TargetTable, row: Row): string[] {
    const present = table.columns.map((c) => c.name).filter((c) => row[c] !== undefined);
    if (present.length < Object.keys(row).length) {
      const known = new Set(present);
      const missing = Object.keys(row).filter((column) => !known.has(column));
      const name = qualifiedName(table.table);
      this.warnOnce(
        `missing:${name}:${missing.join(',')}`,
        `table ${name}: the target lacks column(s) ${missing.join(', ')}; their values are not restored`,
      );
    }
    return present;
  }

  private async addToBatch(
    table: TargetTable,
    kind: Batch['kind'],
    columns: string[],
    row: Row,
    insert: boolean,
  ): Promise<void> {
    // A batch holds one table, one kind and one column list; anything else starts a new one.
    const current = this.batch;
    const same =
      current !== undefined &&
      current.table === table &&
      current.kind === kind &&
      current.columns.length === columns.length &&
      current.columns.every((column, i) => column === columns[i]);
    if (!same && current !== undefined) {
      this.batch = undefined;
      await this.queue.send(current);
    }

    let batch = this.batch;
    if (batch === undefined) {
      batch = {
        table,
        name: qualifiedName(table.table),
        kind,
        columns,
        rows: [],
        insertsOnly: true,
        bytes: 0,
      };
      this.batch = batch;
    }

    await this.added(batch, addRow(batch, row, insert));
  }
}

/** A batch of inserts only, with columns: the start of a run worth streaming with COPY. */
function laneable(batch: Batch): boolean {
  return batch.kind !== 'delete' && batch.insertsOnly && batch.columns.length > 0;
}

/** The number of columns a row has, without an array of its keys (this runs for every row). */
function countColumns(row: Row): number {
  let count = 0;
  for (const _column in row) count++;
  return count;
}
