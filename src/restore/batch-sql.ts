import { createHash } from 'node:crypto';
import type { Row } from '../change/change.js';
import { qualifiedName, quoteIdent } from '../change/change.js';
import type { TargetTable } from './target-catalog.js';

/** A prepared statement for node-postgres: named by a hash of its text so it is parsed once. */
export interface Statement {
  name: string;
  text: string;
}

function statement(text: string): Statement {
  const digest = createHash('sha256').update(text).digest('hex').slice(0, 24);
  return { name: `cr_${digest}`, text };
}

/** `unnest($1::text[], …) AS u(c1, …)` selecting each column cast to its target type. */
function unnestSource(table: TargetTable, columns: string[], firstParam = 1): string {
  const types = new Map(table.columns.map((column) => [column.name, column.type]));
  const casts = columns.map((c) => `u.${quoteIdent(c)}::${types.get(c) ?? 'text'}`);
  const params = columns.map((_, i) => `$${i + firstParam}::text[]`);
  const alias = columns.map(quoteIdent).join(', ');
  return `SELECT ${casts.join(', ')} FROM unnest(${params.join(', ')}) AS u(${alias})`;
}

/**
 * INSERT … ON CONFLICT (primary key) DO UPDATE for a batch of rows with the same columns, one
 * `text[]` parameter per column. Values are PostgreSQL text cast to the column type in SQL.
 *
 * @example
 * ```ts
 * const sql = upsertStatement(table, ['id', 'name']);
 * await client.query({ ...sql, values: columnArrays(rows, ['id', 'name']) });
 * ```
 */
export function upsertStatement(table: TargetTable, columns: string[]): Statement {
  const target = `${qualifiedName(table.table)} (${columns.map(quoteIdent).join(', ')})`;
  const key = new Set(table.primaryKey);
  const updates = columns
    .filter((column) => !key.has(column))
    .map((column) => `${quoteIdent(column)} = EXCLUDED.${quoteIdent(column)}`);
  const conflict = `ON CONFLICT (${table.primaryKey.map(quoteIdent).join(', ')})`;
  const action = updates.length > 0 ? `DO UPDATE SET ${updates.join(', ')}` : 'DO NOTHING';
  return statement(
    `INSERT INTO ${target} OVERRIDING SYSTEM VALUE ${unnestSource(table, columns)} ${conflict} ${action}`,
  );
}

/**
 * Plain INSERT of a batch (tables without a primary key).
 *
 * @example
 * ```ts
 * const sql = insertStatement(table, ['at', 'message']);
 * ```
 */
export function insertStatement(table: TargetTable, columns: string[]): Statement {
  const target = `${qualifiedName(table.table)} (${columns.map(quoteIdent).join(', ')})`;
  return statement(`INSERT INTO ${target} OVERRIDING SYSTEM VALUE ${unnestSource(table, columns)}`);
}

/**
 * DELETE of a batch of primary keys, one `text[]` parameter per key column.
 *
 * @example
 * ```ts
 * const sql = deleteStatement(table);
 * await client.query({ ...sql, values: columnArrays(keys, table.primaryKey) });
 * ```
 */
export function deleteStatement(table: TargetTable): Statement {
  const key = table.primaryKey.map(quoteIdent).join(', ');
  return statement(
    `DELETE FROM ${qualifiedName(table.table)} WHERE (${key}) IN (${unnestSource(table, table.primaryKey)})`,
  );
}

/**
 * UPDATE or DELETE of one row of a table without a primary key, matched by every old column
 * given (`IS NOT DISTINCT FROM`), one row only (a duplicate row stays).
 *
 * @example
 * ```ts
 * const sql = matchedRowStatement(table, 'DELETE', ['at', 'message'], []);
 * ```
 */
export function matchedRowStatement(
  table: TargetTable,
  op: 'UPDATE' | 'DELETE',
  oldColumns: string[],
  newColumns: string[],
): Statement {
  const types = new Map(table.columns.map((column) => [column.name, column.type]));
  const name = qualifiedName(table.table);
  const match = oldColumns
    .map((c, i) => `${quoteIdent(c)} IS NOT DISTINCT FROM $${i + 1}::text::${types.get(c)}`)
    .join(' AND ');
  const locate = `ctid = (SELECT ctid FROM ${name} WHERE ${match} LIMIT 1)`;
  if (op === 'DELETE') return statement(`DELETE FROM ${name} WHERE ${locate}`);
  const offset = oldColumns.length + 1;
  const sets = newColumns
    .map((c, i) => `${quoteIdent(c)} = $${i + offset}::text::${types.get(c)}`)
    .join(', ');
  return statement(`UPDATE ${name} SET ${sets} WHERE ${locate}`);
}

/**
 * Turn rows into one array per column, the parameters of the batch statements.
 *
 * @example
 * ```ts
 * columnArrays([{ id: '1' }, { id: '2' }], ['id']); // => [['1', '2']]
 * ```
 */
export function columnArrays(rows: Iterable<Row>, columns: string[]): Array<Array<string | null>> {
  const arrays: Array<Array<string | null>> = columns.map(() => []);
  for (const row of rows) {
    for (let i = 0; i < columns.length; i++) arrays[i]!.push(row[columns[i]!] ?? null);
  }
  return arrays;
}

/** Escape one value for COPY text format: backslash, tab, newline and carriage return. */
function copyValue(value: string | null): string {
  if (value === null) return '\\N';
  if (!/[\\\t\n\r]/.test(value)) return value;
  return value
    .replaceAll('\\', '\\\\')
    .replaceAll('\t', '\\t')
    .replaceAll('\n', '\\n')
    .replaceAll('\r', '\\r');
}

/**
 * Encode one row as a COPY text format line (tab-separated, `\N` for NULL, ending in a newline).
 *
 * @example
 * ```ts
 * copyLine({ id: '1', note: null }, ['id', 'note']); // => '1\t\\N\n'
 * ```
 */
export function copyLine(row: Row, columns: string[]): string {
  // NOTE: one string grown by concatenation, no array: this runs for every row.
  let line = copyValue(row[columns[0]!] ?? null);
  for (let i = 1; i < columns.length; i++) line += `\t${copyValue(row[columns[i]!] ?? null)}`;
  return `${line}\n`;
}

/** COPY text escapes and what they stand for. */
const UNESCAPE: Record<string, string> = { '\\': '\\', t: '\t', n: '\n', r: '\r' };

/**
 * Read rows back from COPY text made of {@link copyLine} lines (the inverse, for text this module
 * produced; not a general COPY parser).
 *
 * @example
 * ```ts
 * parseCopyText('1\t\\N\n', ['id', 'note']); // => [{ id: '1', note: null }]
 * ```
 */
export function parseCopyText(text: string, columns: string[]): Row[] {
  const rows: Row[] = [];
  const lines = text.split('\n');
  lines.pop();
  for (const line of lines) {
    const fields = line.split('\t');
    const row: Row = {};
    for (let i = 0; i < columns.length; i++) {
      const field = fields[i]!;
      const value =
        field === '\\N' ? null : field.replace(/\\(.)/g, (_, c: string) => UNESCAPE[c] ?? c);
      // A column named __proto__ is an own property, as the payload reader makes it.
      Object.defineProperty(row, columns[i]!, {
        value,
        enumerable: true,
        writable: true,
        configurable: true,
      });
    }
    rows.push(row);
  }
  return rows;
}

/**
 * The COPY … FROM STDIN statement for a table and columns.
 *
 * @example
 * ```ts
 * copyStatement(table, ['id']); // => 'COPY "public"."t" ("id") FROM STDIN'
 * ```
 */
export function copyStatement(table: TargetTable, columns: string[]): string {
  return `COPY ${qualifiedName(table.table)} (${columns.map(quoteIdent).join(', ')}) FROM STDIN`;
}
