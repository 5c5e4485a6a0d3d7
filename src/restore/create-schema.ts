import type pg from 'pg';
import type { SchemaRecord, TypeSchema } from '../change/change.js';
import { qualifiedName, quoteIdent } from '../change/change.js';

/**
 * Create the user-defined types a schema record lists (enum, domain, composite) that do not
 * exist yet, in the order given (the record lists them in dependency order).
 *
 * @example
 * ```ts
 * await createTypes(client, record.types ?? []);
 * ```
 */
export async function createTypes(client: pg.ClientBase, types: TypeSchema[]): Promise<void> {
  for (const type of types) {
    // A type of that name may exist already (created for an earlier table, or kept).
    const exists = await client.query(
      `SELECT 1 FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
        WHERE n.nspname = $1 AND t.typname = $2`,
      [type.schema, type.name],
    );
    if (exists.rowCount !== null && exists.rowCount > 0) continue;

    const name = qualifiedName(type);
    await client.query(`CREATE SCHEMA IF NOT EXISTS ${quoteIdent(type.schema)}`);
    if (type.kind === 'domain') {
      await client.query(`CREATE DOMAIN ${name} AS ${type.definition}`);
    } else {
      await client.query(`CREATE TYPE ${name} AS ${type.definition}`);
    }
  }
}

/**
 * Create a table from a schema record: its schema, types, columns with NOT NULL, and primary
 * key. Foreign keys, defaults, indexes and triggers are not in the stream and not created.
 *
 * @example
 * ```ts
 * await createTable(client, schemaRecord);
 * ```
 */
export async function createTable(client: pg.ClientBase, record: SchemaRecord): Promise<void> {
  await client.query(`CREATE SCHEMA IF NOT EXISTS ${quoteIdent(record.table.schema)}`);
  await createTypes(client, record.types ?? []);

  // Column types are the source's format_type() text, so they resolve the same way here.
  const parts = record.columns.map(
    (column) => `${quoteIdent(column.name)} ${column.type}${column.notNull ? ' NOT NULL' : ''}`,
  );
  if (record.primaryKey.length > 0) {
    parts.push(`PRIMARY KEY (${record.primaryKey.map(quoteIdent).join(', ')})`);
  }
  await client.query(`CREATE TABLE ${qualifiedName(record.table)} (${parts.join(', ')})`);
}

/**
 * Add the columns a newer schema record has and the table lacks. Returns the names of columns
 * the table has but the record no longer lists (left in place, reported as a warning).
 *
 * @example
 * ```ts
 * const dropped = await addMissingColumns(client, record, existingColumnNames);
 * ```
 */
export async function addMissingColumns(
  client: pg.ClientBase,
  record: SchemaRecord,
  existing: string[],
): Promise<{ added: string[]; notInRecord: string[] }> {
  const have = new Set(existing);
  const added: string[] = [];
  await createTypes(client, record.types ?? []);
  for (const column of record.columns) {
    if (have.has(column.name)) continue;
    // NOTE: added without NOT NULL: rows restored before the change have no value for it.
    await client.query(
      `ALTER TABLE ${qualifiedName(record.table)} ADD COLUMN ${quoteIdent(column.name)} ${column.type}`,
    );
    added.push(column.name);
  }
  const wanted = new Set(record.columns.map((column) => column.name));
  const notInRecord = existing.filter((name) => !wanted.has(name));
  return { added, notInRecord };
}
