import type { ChangeRecord, SchemaRecord, Transaction } from '../change/change.js';
import { qualifiedName } from '../change/change.js';
import type { TableCounts } from './change-applier.js';
import type { RestoreProgress } from './restore-progress.js';

/**
 * Where restored transactions go: a database, JSON lines files, or nowhere (dry run). The
 * restore loop drives it; only the database target makes progress durable.
 */
export interface RestoreTarget {
  /** Printable description for reports (a redacted URL, a folder, `dry run`). */
  readonly description: string;
  /** Progress recorded by an earlier run for this stream, to resume from. */
  begin(streamId: string): Promise<RestoreProgress | undefined>;
  /** A transaction that continues in the next segment starts here: make it undoable. */
  markTransaction(): Promise<void>;
  /** Undo what was applied since {@link markTransaction} (its continuation is unreadable). */
  abandonTransaction(): Promise<void>;
  /** Apply the records of one transaction (or of one part of it). */
  apply(stream: { streamId: string; sequence: number }, tx: Transaction): Promise<void>;
  /** Make everything applied so far durable together with `progress`. */
  commit(progress: RestoreProgress, options?: { final?: boolean }): Promise<void>;
  /** Undo everything since the last commit (applying failed). */
  rollback(): Promise<void>;
  /** Per table counts of what was applied and committed. */
  counts(): Map<string, TableCounts>;
  close(): Promise<void>;
}

/** A fresh, zeroed count. */
export function emptyCounts(): TableCounts {
  return { inserted: 0, updated: 0, deleted: 0, truncated: 0, snapshotRows: 0 };
}

/**
 * Count one record into per-table counts (for targets that do not apply to a database).
 *
 * @example
 * ```ts
 * for (const record of tx.records) countRecord(counts, record);
 * ```
 */
export function countRecord(
  counts: Map<string, TableCounts>,
  record: ChangeRecord | SchemaRecord,
): void {
  if (record.kind !== 'change') return;
  const tables = record.op === 'TRUNCATE' ? (record.tables ?? [record.table]) : [record.table];
  for (const table of tables) {
    const key = qualifiedName(table);
    let entry = counts.get(key);
    if (entry === undefined) {
      entry = emptyCounts();
      counts.set(key, entry);
    }
    if (record.op === 'TRUNCATE') entry.truncated++;
    else if (record.op === 'INSERT' && record.snapshot) entry.snapshotRows++;
    else if (record.op === 'INSERT') entry.inserted++;
    else if (record.op === 'UPDATE') entry.updated++;
    else entry.deleted++;
  }
}

/**
 * Keep only the records of the selected tables (all when `tables` is undefined). A TRUNCATE
 * keeps only the selected tables among those it names.
 *
 * @example
 * ```ts
 * const kept = selectRecords(tx.records, new Set(['"public"."orders"']));
 * ```
 */
export function selectRecords(
  records: Array<ChangeRecord | SchemaRecord>,
  tables: Set<string> | undefined,
): Array<ChangeRecord | SchemaRecord> {
  if (tables === undefined) return records;
  const kept: Array<ChangeRecord | SchemaRecord> = [];
  for (const record of records) {
    if (record.kind === 'change' && record.op === 'TRUNCATE') {
      const named = (record.tables ?? [record.table]).filter((t) => tables.has(qualifiedName(t)));
      if (named.length > 0) kept.push({ ...record, table: named[0]!, tables: named });
    } else if (tables.has(qualifiedName(record.table))) {
      kept.push(record);
    }
  }
  return kept;
}

/**
 * Counts nothing but what would be applied: the target of `--dry-run`.
 *
 * @example
 * ```ts
 * const target = new DryRunTarget(undefined);
 * ```
 */
export class DryRunTarget implements RestoreTarget {
  readonly description = 'dry run (nothing written)';
  private readonly tally = new Map<string, TableCounts>();
  private readonly tables: Set<string> | undefined;

  constructor(tables: Set<string> | undefined) {
    this.tables = tables;
  }

  async begin(): Promise<undefined> {
    return undefined;
  }
  async markTransaction(): Promise<void> {}
  async abandonTransaction(): Promise<void> {}
  async apply(_stream: { streamId: string; sequence: number }, tx: Transaction): Promise<void> {
    for (const record of selectRecords(tx.records, this.tables)) countRecord(this.tally, record);
  }
  async commit(): Promise<void> {}
  async rollback(): Promise<void> {}
  counts(): Map<string, TableCounts> {
    return this.tally;
  }
  async close(): Promise<void> {}
}
