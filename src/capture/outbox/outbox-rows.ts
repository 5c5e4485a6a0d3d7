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
 * The columns a drain selects, hstore rows as JSON objects of text values. `rows` names the
 * expressions that hold one change's new and old row (the outbox's single-row columns unless
 * a query expands chunk rows, see outboxChangesSql).
 *
 * @example
 * ```ts
 * await client.query(`SELECT ${outboxColumns('crypto_replicator')} FROM crypto_replicator.outbox`);
 * ```
 */
export function outboxColumns(
  hstoreSchema: string,
  rows = { table: '', op: 'op::text', new: 'new_row', old: 'old_row' },
): string {
  const toJson = `"${hstoreSchema.replaceAll('"', '""')}".hstore_to_json`;
  const t = rows.table;
  return `${t}id::text AS id, ${t}xid::text AS xid, ${t}table_schema, ${t}table_name,
  ${rows.op} AS op,
  ${toJson}(${rows.new})::text AS new_row, ${toJson}(${rows.old})::text AS old_row,
  to_char(${t}changed_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS changed_at,
  ${t}position::text AS position`;
}

/**
 * The number of changes an outbox row carries: a chunk row's array length, else one.
 *
 * @example
 * ```ts
 * await client.query(`SELECT sum(${OUTBOX_CHANGES}) FROM crypto_replicator.outbox`);
 * ```
 */
export const OUTBOX_CHANGES = 'coalesce(cardinality(new_rows), cardinality(old_rows), 1)';

/**
 * A query of stamped changes after `afterPosition`, one result row per change, in stream order:
 * chunk rows are expanded in array order, single-row entries (from the row triggers, notify
 * mode's large rows, or an outbox written by an earlier version) pass through as they are.
 *
 * @example
 * ```ts
 * await client.query(`DECLARE c CURSOR FOR ${outboxChangesSql('crypto_replicator', 's', 0n)}`);
 * ```
 */
export function outboxChangesSql(
  hstoreSchema: string,
  schema: string,
  afterPosition: bigint,
): string {
  return `SELECT ${expandedColumns(hstoreSchema)} FROM ${schema}.outbox o
  ${EXPAND_CHUNKS}
  WHERE o.position > ${afterPosition} ORDER BY o.position, o.id, c.n`;
}

/**
 * Delete every entry of the outbox and return its changes, one result row per change, in id
 * order: chunk rows expanded in array order, single-row entries as they are. For notify mode's
 * drain, which takes the whole outbox at once (an outbox left by outbox mode holds chunk rows).
 *
 * @example
 * ```ts
 * const { rows } = await client.query(takeOutboxChangesSql('crypto_replicator', 'crypto_replicator'));
 * ```
 */
export function takeOutboxChangesSql(hstoreSchema: string, schema: string): string {
  return `WITH o AS (DELETE FROM ${schema}.outbox RETURNING *)
  SELECT ${expandedColumns(hstoreSchema)} FROM o ${EXPAND_CHUNKS}
  ORDER BY o.id, c.n`;
}

// NOTE: unnest of two arrays pads the shorter one with NULLs, so a chunk row yields one change
// per array element and a single-row entry (arrays NULL) exactly one.
const EXPAND_CHUNKS = `CROSS JOIN LATERAL unnest(coalesce(o.new_rows, ARRAY[o.new_row]),
                            coalesce(o.old_rows, ARRAY[o.old_row]))
       WITH ORDINALITY AS c(new_one, old_one, n)`;

/** The columns of one change of an outbox entry `o` expanded by {@link EXPAND_CHUNKS}. */
function expandedColumns(hstoreSchema: string): string {
  // A chunk row's op letter is lower case ('i', 'd'), so that a drainer unaware of chunks
  // refuses it (unknown operation) instead of emitting a change without its row.
  return outboxColumns(hstoreSchema, {
    table: 'o.',
    op: 'upper(o.op::text)',
    new: 'c.new_one',
    old: 'c.old_one',
  });
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
