import type pg from 'pg';
import type { TableName } from '../change/change.js';
import { qualifiedName } from '../change/change.js';

/** A table of the target database as the catalog describes it. */
export interface TargetTable {
  table: TableName;
  /** Columns in attribute order with their `format_type()` type. */
  columns: Array<{ name: string; type: string }>;
  /** Primary key column names in key order; empty when the table has none. */
  primaryKey: string[];
}

const COLUMNS_SQL = `
  SELECT a.attname AS name, format_type(a.atttypid, a.atttypmod) AS type
    FROM pg_attribute a
   WHERE a.attrelid = $1::regclass AND a.attnum > 0 AND NOT a.attisdropped
     AND a.attgenerated = ''
   ORDER BY a.attnum`;

const PRIMARY_KEY_SQL = `
  SELECT a.attname AS name
    FROM pg_index i
    CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord)
    JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
   WHERE i.indrelid = $1::regclass AND i.indisprimary
   ORDER BY k.ord`;

/**
 * Read a table's columns and primary key from the target catalog, or `undefined` when the
 * table does not exist. Generated columns are left out: they cannot be written.
 *
 * @example
 * ```ts
 * const info = await describeTable(client, { schema: 'public', name: 'orders' });
 * info?.primaryKey; // => ['id']
 * ```
 */
export async function describeTable(
  client: pg.ClientBase,
  table: TableName,
): Promise<TargetTable | undefined> {
  // to_regclass answers NULL instead of failing for a missing table.
  const name = qualifiedName(table);
  const found = await client.query<{ oid: string | null }>(
    'SELECT to_regclass($1)::oid::text AS oid',
    [name],
  );
  if (found.rows[0]?.oid === null || found.rows[0]?.oid === undefined) return undefined;

  // Columns and key come from the catalog, so casts match the target's real types.
  const columns = await client.query<{ name: string; type: string }>(COLUMNS_SQL, [name]);
  const key = await client.query<{ name: string }>(PRIMARY_KEY_SQL, [name]);
  return {
    table,
    columns: columns.rows,
    primaryKey: key.rows.map((row) => row.name),
  };
}

/**
 * True when the table holds at least one row.
 *
 * @example
 * ```ts
 * if (await tableHasRows(client, table)) throw new UsageError('target not empty');
 * ```
 */
export async function tableHasRows(client: pg.ClientBase, table: TableName): Promise<boolean> {
  const result = await client.query(`SELECT 1 FROM ${qualifiedName(table)} LIMIT 1`);
  return result.rowCount !== null && result.rowCount > 0;
}

/**
 * The user tables of a database (ordinary and partitioned), leaving out the system schemas
 * and crypto-replicator's own bookkeeping schemas.
 *
 * @example
 * ```ts
 * await listUserTables(client); // => [{ schema: 'public', name: 'orders' }]
 * ```
 */
export async function listUserTables(client: pg.ClientBase): Promise<TableName[]> {
  const result = await client.query<{ schema: string; name: string }>(`
    SELECT n.nspname AS schema, c.relname AS name
      FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition
       AND n.nspname NOT IN ('pg_catalog', 'information_schema')
       AND n.nspname NOT LIKE 'pg\\_%'
       AND n.nspname NOT LIKE 'crypto\\_replicator%'
     ORDER BY n.nspname, c.relname`);
  return result.rows;
}
