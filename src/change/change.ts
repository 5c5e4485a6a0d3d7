/**
 * The change model: what capture produces, what a segment carries (inside its ciphertext), and
 * what restore applies. Every capture mode emits the same records.
 *
 * Values are carried as PostgreSQL's own text representation (the output of the type's output
 * function), so every value round-trips exactly when restore casts it back to the column type:
 * bigint beyond 2^53, numeric(40), bytea (`\x…` hex), arrays, jsonb, timestamptz, interval,
 * enums, domains, composites, NaN and Infinity. SQL NULL is `null`; the JSON value `null` of a
 * jsonb column is the string `"null"`.
 */

/** A row: column name → text value, or `null` for SQL NULL. */
export type Row = Record<string, string | null>;

export type Operation = 'INSERT' | 'UPDATE' | 'DELETE' | 'TRUNCATE';

/** A schema-qualified table name, unquoted (quote with `quoteIdent` when building SQL). */
export interface TableName {
  schema: string;
  name: string;
}

/** One row change, in commit order within its transaction. */
export interface ChangeRecord {
  kind: 'change';
  table: TableName;
  op: Operation;
  /** The new row (INSERT, UPDATE). For UPDATE, columns listed in `unchanged` are absent. */
  new?: Row;
  /**
   * What identifies the old row (UPDATE, DELETE): its primary key columns, or the whole old row
   * for tables with REPLICA IDENTITY FULL / no primary key.
   */
  old?: Row;
  /**
   * UPDATE only: columns whose value did not change and was not sent by the source (unchanged
   * TOASTed values in logical mode without REPLICA IDENTITY FULL). Restore keeps the existing
   * value for these; they are never replaced by a placeholder.
   */
  unchanged?: string[];
  /** TRUNCATE only: every table truncated by the statement (including `table`). */
  tables?: TableName[];
  /** True for rows of the initial snapshot (applied as upserts). */
  snapshot?: boolean;
}

/** Column description inside a schema record. */
export interface ColumnSchema {
  name: string;
  /** The type as `format_type()` prints it, e.g. `numeric(40,0)`, `public.mood`, `text[]`. */
  type: string;
  notNull: boolean;
}

/**
 * A user-defined type a table depends on, so that restore can create it before the table.
 * `definition` is the SQL body after `CREATE TYPE name AS` / `CREATE DOMAIN name AS`.
 */
export interface TypeSchema {
  schema: string;
  name: string;
  kind: 'enum' | 'domain' | 'composite';
  definition: string;
}

/** The shape of a table, emitted when capture starts and whenever the shape changes. */
export interface SchemaRecord {
  kind: 'schema';
  table: TableName;
  columns: ColumnSchema[];
  /** Primary key column names in key order; empty when the table has none. */
  primaryKey: string[];
  /** Types the columns use that restore must create first, in dependency order. */
  types?: TypeSchema[];
}

/** A committed transaction, the unit that capture emits and that segments never split. */
export interface Transaction {
  /** Transaction id as text (`xid8` in outbox mode, the xid in logical mode). */
  xid: string;
  /** Commit time, ISO 8601 with microseconds and offset, e.g. `2026-12-03T17:01:02.123456Z`. */
  commitTime: string;
  /**
   * Position that orders transactions in the stream: the commit LSN (`16/B374D848`) in logical
   * mode, a decimal drain position in outbox mode, a decimal spool counter in notify mode.
   *
   * Invariant every capture mode keeps: positions strictly increase along the stream for
   * distinct transactions, and a transaction delivered again after a crash carries the same
   * position as its first delivery. Restore therefore skips any transaction whose position is
   * not greater than the last one it applied (see `comparePositions`).
   */
  position: string;
  records: Array<ChangeRecord | SchemaRecord>;
  /**
   * True when this is not the last part of the transaction: a transaction too large for one
   * segment continues, with the same xid and position, at the start of the next segment.
   * Restore applies all parts in one database transaction.
   */
  continues?: boolean;
}

/**
 * Split a `--tables` list on commas outside double quotes, trimming each entry, so that
 * `a,"Odd, name"` is two tables. Parse each entry with {@link parseTableName}.
 *
 * @example
 * ```ts
 * splitTableList('audit.events, "Odd, Table"'); // => ['audit.events', '"Odd, Table"']
 * ```
 */
export function splitTableList(text: string): string[] {
  const entries: string[] = [];
  let current = '';
  let quoted = false;
  for (const ch of text) {
    if (ch === '"') quoted = !quoted;
    if (ch === ',' && !quoted) {
      entries.push(current.trim());
      current = '';
    } else {
      current += ch;
    }
  }
  entries.push(current.trim());
  return entries;
}

const LSN_PATTERN = /^([0-9A-Fa-f]{1,8})\/([0-9A-Fa-f]{1,8})$/;
const DECIMAL_PATTERN = /^(0|[1-9][0-9]{0,19})$/;

/**
 * Turn a position (an LSN such as `16/B374D848`, or a decimal counter) into a number that
 * orders it. Throws TypeError on anything else.
 *
 * @example
 * ```ts
 * positionValue('0/16B3748'); // => 23803720n
 * positionValue('42'); // => 42n
 * ```
 */
export function positionValue(position: string): bigint {
  const lsn = LSN_PATTERN.exec(position);
  if (lsn !== null) return (BigInt(`0x${lsn[1]}`) << 32n) | BigInt(`0x${lsn[2]}`);
  if (DECIMAL_PATTERN.test(position)) return BigInt(position);
  throw new TypeError(
    `invalid position "${position}": expected an LSN like 0/16B3748 or a counter`,
  );
}

/**
 * Compare two positions of the same stream: negative, zero or positive like a sort comparator.
 *
 * @example
 * ```ts
 * comparePositions('0/FF', '1/0') < 0; // => true
 * ```
 */
export function comparePositions(a: string, b: string): number {
  const left = positionValue(a);
  const right = positionValue(b);
  return left < right ? -1 : left > right ? 1 : 0;
}

/**
 * Format a number as an LSN the way PostgreSQL prints it (`X/Y`, upper-case hex).
 *
 * @example
 * ```ts
 * formatLsn(23803720n); // => '0/16B3748'
 * ```
 */
export function formatLsn(value: bigint): string {
  const high = (value >> 32n).toString(16).toUpperCase();
  const low = (value & 0xffffffffn).toString(16).toUpperCase();
  return `${high}/${low}`;
}

/**
 * Render a table name as SQL, quoting both parts.
 *
 * @example
 * ```ts
 * qualifiedName({ schema: 'public', name: 'Audit Log' }); // => "public"."Audit Log"
 * ```
 */
export function qualifiedName(table: TableName): string {
  return `${quoteIdent(table.schema)}.${quoteIdent(table.name)}`;
}

/**
 * Quote an SQL identifier the way PostgreSQL's `quote_ident` does, always.
 *
 * @example
 * ```ts
 * quoteIdent('Odd "name"'); // => "Odd ""name"""
 * ```
 */
export function quoteIdent(identifier: string): string {
  return `"${identifier.replaceAll('"', '""')}"`;
}

/**
 * Parse `schema.table` or `table` (schema `public`) as typed on the command line.
 * Double quotes keep dots and capitals: `"My Schema"."Odd.Table"`.
 *
 * @example
 * ```ts
 * parseTableName('audit.events'); // => { schema: 'audit', name: 'events' }
 * ```
 */
export function parseTableName(text: string): TableName {
  const parts: string[] = [];
  let current = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (quoted) {
      if (ch === '"' && text[i + 1] === '"') {
        current += '"';
        i++;
      } else if (ch === '"') {
        quoted = false;
      } else {
        current += ch;
      }
    } else if (ch === '"') {
      quoted = true;
    } else if (ch === '.') {
      parts.push(current);
      current = '';
    } else {
      current += ch;
    }
  }
  parts.push(current);
  if (quoted || parts.length > 2 || parts.some((part) => part === '')) {
    throw new TypeError(`invalid table name "${text}": expected table or schema.table`);
  }
  return parts.length === 2
    ? { schema: parts[0]!, name: parts[1]! }
    : { schema: 'public', name: parts[0]! };
}
