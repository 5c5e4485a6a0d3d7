import type pg from 'pg';
import {
  type ColumnSchema,
  qualifiedName,
  type SchemaRecord,
  type TableName,
  type TypeSchema,
} from '../change/change.js';
import { UsageError } from '../errors.js';

/** Schemas that never hold application tables (ours included). */
const SYSTEM_SCHEMAS = ['pg_catalog', 'information_schema', 'crypto_replicator'];

/**
 * Every ordinary or partitioned table outside the system schemas (and ours), sorted.
 *
 * @example
 * ```ts
 * const tables = await listAllTables(client); // [{ schema: 'public', name: 'orders' }, …]
 * ```
 */
export async function listAllTables(client: pg.Client): Promise<TableName[]> {
  const { rows } = await client.query<{ schema: string; name: string }>(
    `SELECT n.nspname AS schema, c.relname AS name
       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition
        AND n.nspname <> ALL($1) AND n.nspname NOT LIKE 'pg\\_%'
      ORDER BY 1, 2`,
    [SYSTEM_SCHEMAS],
  );
  return rows.map((row) => ({ schema: row.schema, name: row.name }));
}

/**
 * Tables that carry a trigger of the given name (capture installs one per table), sorted.
 *
 * @example
 * ```ts
 * await tablesWithTrigger(client, ROW_TRIGGER); // => [{ schema: 'public', name: 'orders' }]
 * ```
 */
export async function tablesWithTrigger(client: pg.Client, trigger: string): Promise<TableName[]> {
  const { rows } = await client.query<{ schema: string; name: string }>(
    `SELECT DISTINCT n.nspname AS schema, c.relname AS name
       FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
       JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE t.tgname = $1 ORDER BY 1, 2`,
    [trigger],
  );
  return rows.map((row) => ({ schema: row.schema, name: row.name }));
}

/**
 * Check that each named table exists; throws UsageError naming the first one missing.
 *
 * @example
 * ```ts
 * await requireTables(client, [parseTableName('orders')]);
 * ```
 */
export async function requireTables(client: pg.Client, tables: TableName[]): Promise<void> {
  for (const table of tables) {
    const { rows } = await client.query<{ oid: string | null }>(
      'SELECT to_regclass($1)::oid AS oid',
      [qualifiedName(table)],
    );
    if (rows[0]?.oid == null) {
      throw new UsageError(`find table ${qualifiedName(table)}: no such table`, {
        hint: 'check --tables (schema.table; double-quote names with capitals, dots or spaces)',
      });
    }
  }
}

interface ColumnRow {
  name: string;
  type: string;
  not_null: string | boolean;
  type_oid: string;
}

/**
 * Read a table's shape from the catalog: columns with `format_type()` types, nullability,
 * primary key, and the user-defined types (enum, domain, composite) its columns use, in the
 * order restore must create them.
 *
 * @example
 * ```ts
 * const schema = await readSchemaRecord(client, { schema: 'public', name: 'orders' });
 * schema.primaryKey; // => ['id']
 * ```
 */
export async function readSchemaRecord(client: pg.Client, table: TableName): Promise<SchemaRecord> {
  // Columns in attribute order, dropped ones left out.
  const columns = await client.query<ColumnRow>(
    `SELECT a.attname AS name, format_type(a.atttypid, a.atttypmod) AS type,
            a.attnotnull AS not_null, a.atttypid AS type_oid
       FROM pg_attribute a
      WHERE a.attrelid = $1::regclass AND a.attnum > 0 AND NOT a.attisdropped
      ORDER BY a.attnum`,
    [qualifiedName(table)],
  );

  // Primary key columns in key order.
  const key = await client.query<{ name: string }>(
    `SELECT a.attname AS name
       FROM pg_index i
       CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord)
       JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
      WHERE i.indrelid = $1::regclass AND i.indisprimary
      ORDER BY k.ord`,
    [qualifiedName(table)],
  );

  // User-defined types, dependencies first.
  const types: TypeSchema[] = [];
  const seen = new Set<string>();
  for (const column of columns.rows) await collectType(client, column.type_oid, types, seen);

  const record: SchemaRecord = {
    kind: 'schema',
    table,
    columns: columns.rows.map(
      (row): ColumnSchema => ({
        name: row.name,
        type: row.type,
        notNull: row.not_null === true || row.not_null === 't',
      }),
    ),
    primaryKey: key.rows.map((row) => row.name),
  };
  if (types.length > 0) record.types = types;
  return record;
}

interface TypeRow {
  schema: string;
  name: string;
  typtype: string;
  typelem: string;
  typbasetype: string;
  typrelid: string;
  base: string | null;
  not_null: string;
}

/** Depth-first: a type's own dependencies are pushed before the type itself. */
async function collectType(
  client: pg.Client,
  oid: string,
  out: TypeSchema[],
  seen: Set<string>,
): Promise<void> {
  if (seen.has(oid)) return;
  seen.add(oid);
  const { rows } = await client.query<TypeRow>(
    `SELECT n.nspname AS schema, t.typname AS name, t.typtype, t.typelem, t.typbasetype,
            t.typrelid, CASE WHEN t.typtype = 'd'
              THEN format_type(t.typbasetype, t.typtypmod) END AS base,
            t.typnotnull::text AS not_null
       FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
      WHERE t.oid = $1`,
    [oid],
  );
  const type = rows[0];
  if (type === undefined) return;

  // Arrays: the element type is what needs creating.
  if (type.typelem !== '0' && type.typtype === 'b') {
    await collectType(client, type.typelem, out, seen);
    return;
  }
  if (type.schema === 'pg_catalog' || type.schema === 'information_schema') return;

  // One definition per kind, with what it depends on collected first.
  if (type.typtype === 'e') {
    const labels = await client.query<{ label: string }>(
      'SELECT enumlabel AS label FROM pg_enum WHERE enumtypid = $1 ORDER BY enumsortorder',
      [oid],
    );
    const list = labels.rows.map((row) => quoteLiteral(row.label)).join(', ');
    out.push({ schema: type.schema, name: type.name, kind: 'enum', definition: `ENUM (${list})` });
  } else if (type.typtype === 'd') {
    await collectType(client, type.typbasetype, out, seen);
    const checks = await client.query<{ def: string }>(
      `SELECT pg_get_constraintdef(oid) AS def FROM pg_constraint
        WHERE contypid = $1 ORDER BY conname`,
      [oid],
    );
    const parts = [type.base ?? 'text'];
    if (type.not_null === 'true') parts.push('NOT NULL');
    for (const check of checks.rows) parts.push(check.def);
    out.push({
      schema: type.schema,
      name: type.name,
      kind: 'domain',
      definition: parts.join(' '),
    });
  } else if (type.typtype === 'c') {
    const attributes = await client.query<{ name: string; type: string; type_oid: string }>(
      `SELECT attname AS name, format_type(atttypid, atttypmod) AS type, atttypid AS type_oid
         FROM pg_attribute WHERE attrelid = $1 AND attnum > 0 AND NOT attisdropped
        ORDER BY attnum`,
      [type.typrelid],
    );
    for (const attribute of attributes.rows) {
      await collectType(client, attribute.type_oid, out, seen);
    }
    const body = attributes.rows.map((a) => `${quoteIdentOnce(a.name)} ${a.type}`).join(', ');
    out.push({
      schema: type.schema,
      name: type.name,
      kind: 'composite',
      definition: `(${body})`,
    });
  }
}

/** Quote a string as an SQL literal. */
export function quoteLiteral(text: string): string {
  return `'${text.replaceAll("'", "''")}'`;
}

function quoteIdentOnce(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}
