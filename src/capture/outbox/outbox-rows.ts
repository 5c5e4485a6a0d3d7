import type pg from 'pg';
import type { ChangeRecord, Operation, Row, SchemaRecord, TableName } from '../../change/change.js';
import { readSchemaRecord } from '../catalog.js';

/** One outbox row as the drain reads it (hstore columns converted to JSON text). */
export interface OutboxRow {
  id: string;
  xid: string;
  table_schema: string;
  table_name: string;
  op: string;
  new_row: string | null;
  old_row: string | null;
  changed_at: string;
  position: string | null;
}

/**
 * The columns a drain selects, hstore rows as JSON objects of text values.
 *
 * @example
 * ```ts
 * await client.query(`SELECT ${outboxColumns('crypto_replicator')} FROM crypto_replicator.outbox`);
 * ```
 */
export function outboxColumns(hstoreSchema: string): string {
  const toJson = `"${hstoreSchema.replaceAll('"', '""')}".hstore_to_json`;
  return `id::text, xid::text, table_schema, table_name, op::text,
  ${toJson}(new_row)::text AS new_row, ${toJson}(old_row)::text AS old_row,
  to_char(changed_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS changed_at,
  position::text`;
}

/**
 * The schema the hstore extension lives in (install puts it in ours when it was missing).
 *
 * @example
 * ```ts
 * const schema = await hstoreSchema(client); // 'crypto_replicator'
 * ```
 */
export async function hstoreSchema(client: pg.Client): Promise<string | undefined> {
  const { rows } = await client.query<{ schema: string }>(
    `SELECT n.nspname AS schema FROM pg_extension e
       JOIN pg_namespace n ON n.oid = e.extnamespace WHERE e.extname = 'hstore'`,
  );
  return rows[0]?.schema;
}

const OPERATIONS: Record<string, Operation> = {
  I: 'INSERT',
  U: 'UPDATE',
  D: 'DELETE',
  T: 'TRUNCATE',
};

/**
 * Keeps the shape of each table seen in the outbox and turns outbox rows into change records,
 * inserting a fresh schema record whenever a row's column set differs from the known one.
 *
 * @example
 * ```ts
 * const shapes = new ShapeTracker(client);
 * const records = await shapes.toRecords(rows);
 * ```
 */
export class ShapeTracker {
  private readonly schemas = new Map<string, SchemaRecord>();

  constructor(private readonly client: () => Promise<pg.Client>) {}

  /** Remember a schema record already emitted (at start). */
  remember(record: SchemaRecord): void {
    this.schemas.set(JSON.stringify(record.table), record);
  }

  async toRecords(rows: OutboxRow[]): Promise<Array<ChangeRecord | SchemaRecord>> {
    const out: Array<ChangeRecord | SchemaRecord> = [];
    for (const row of rows) {
      const table: TableName = { schema: row.table_schema, name: row.table_name };
      const op = OPERATIONS[row.op];
      if (op === undefined) throw new Error(`read outbox row ${row.id}: unknown operation`);
      const newRow = row.new_row === null ? undefined : (JSON.parse(row.new_row) as Row);
      const oldRow = row.old_row === null ? undefined : (JSON.parse(row.old_row) as Row);

      // A column set unlike the known one means the table changed: re-read the catalog.
      const schema = await this.schemaFor(table, newRow ?? oldRow, out);
      const record: ChangeRecord = { kind: 'change', table, op };
      if (op === 'TRUNCATE') record.tables = [table];
      if (newRow !== undefined) record.new = newRow;
      if (oldRow !== undefined) record.old = identify(oldRow, schema.primaryKey);
      out.push(record);
    }
    return out;
  }

  /**
   * The known schema of a table; when `row`'s column set differs (or the table is new), the
   * catalog is read again and the fresh record is appended to `out`.
   */
  async schemaFor(
    table: TableName,
    row: Row | undefined,
    out: Array<ChangeRecord | SchemaRecord>,
  ): Promise<SchemaRecord> {
    const key = JSON.stringify(table);
    const known = this.schemas.get(key);
    if (known !== undefined && (row === undefined || sameColumns(known, row))) return known;
    const fresh = await readSchemaRecord(await this.client(), table);
    this.schemas.set(key, fresh);
    out.push(fresh);
    return fresh;
  }
}

function sameColumns(schema: SchemaRecord, row: Row): boolean {
  const names = Object.keys(row);
  return names.length === schema.columns.length && schema.columns.every((c) => c.name in row);
}

/** The old row reduced to its primary key, or whole when the table has none. */
function identify(old: Row, primaryKey: string[]): Row {
  if (primaryKey.length === 0 || primaryKey.some((name) => !(name in old))) return old;
  const key: Row = {};
  for (const name of primaryKey) key[name] = old[name] ?? null;
  return key;
}
