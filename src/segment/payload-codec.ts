import type {
  ChangeRecord,
  ColumnSchema,
  Operation,
  Row,
  SchemaRecord,
  Transaction,
  TypeSchema,
} from '../change/change.js';
import { transactionProblem } from './transaction-problem.js';
import { isRow, isStringArray, OPERATION_NAMES, TYPE_KINDS } from './value-guards.js';

/**
 * Serialise transactions as the v2 payload (docs/FORMAT.md, "Payload"): UTF-8 JSON lines, one
 * transaction per line, each line ending in `\n`. A line is a JSON array
 * `[xid, commitTime, position, continues, records]`; a change record is
 * `["c", schema, table, op, new, old, unchanged, tables, snapshot]` with `null` for an absent
 * part; a schema record is `["s", schema, table, columns, primaryKey, types]`. Rows are JSON
 * objects of column → PostgreSQL text, with SQL NULL as JSON `null`. Throws TypeError on a
 * value outside the change model.
 *
 * @example
 * ```ts
 * encodeTransactions([tx]).toString(); // => '["741","2026-…","0/16B3748",false,[["c",…]]]\n'
 * ```
 */
export function encodeTransactions(transactions: readonly Transaction[]): Buffer {
  const lines: string[] = [];
  for (const transaction of transactions) {
    const problem = transactionProblem(transaction);
    if (problem !== undefined) throw new TypeError(`cannot seal transaction: ${problem}`);
    // NOTE: plain loops, no closures: this runs per transaction on every seal.
    const records: unknown[] = new Array(transaction.records.length);
    for (let index = 0; index < records.length; index++) {
      const record = transaction.records[index]!;
      records[index] = record.kind === 'change' ? encodeChange(record) : encodeSchema(record);
    }
    const line = [
      transaction.xid,
      transaction.commitTime,
      transaction.position,
      transaction.continues === true,
      records,
    ];
    lines.push(JSON.stringify(line));
  }
  lines.push('');
  return Buffer.from(lines.join('\n'), 'utf8');
}

/**
 * Parse a v2 payload back into transactions. Throws TypeError saying what is wrong and on which
 * line (the caller wraps it with the object's name); never includes row data in the message.
 *
 * @example
 * ```ts
 * decodeTransactions(encodeTransactions([tx])); // => [tx]
 * ```
 */
export function decodeTransactions(payload: Buffer): Transaction[] {
  // Guard: whole lines only, at least one.
  const text = payload.toString('utf8');
  if (text.length === 0 || !text.endsWith('\n')) {
    throw new TypeError('payload must be one or more lines, each ending in a newline');
  }

  // Each line is one transaction array, checked against the change model.
  const lines = text.split('\n');
  lines.pop();
  const transactions: Transaction[] = new Array(lines.length);
  for (let index = 0; index < lines.length; index++) {
    let value: unknown;
    try {
      value = JSON.parse(lines[index]!);
    } catch {
      throw new TypeError(`payload line ${index + 1} is not JSON`);
    }
    try {
      transactions[index] = decodeTransaction(value);
    } catch (error) {
      throw new TypeError(`payload line ${index + 1}: ${(error as Error).message}`);
    }
  }
  return transactions;
}

function encodeChange(record: ChangeRecord): unknown[] {
  return [
    'c',
    record.table.schema,
    record.table.name,
    record.op,
    record.new ?? null,
    record.old ?? null,
    record.unchanged ?? null,
    record.tables === undefined ? null : record.tables.map((t) => [t.schema, t.name]),
    record.snapshot === true,
  ];
}

function encodeSchema(record: SchemaRecord): unknown[] {
  return [
    's',
    record.table.schema,
    record.table.name,
    record.columns.map((c) => [c.name, c.type, c.notNull]),
    record.primaryKey,
    record.types === undefined
      ? null
      : record.types.map((t) => [t.schema, t.name, t.kind, t.definition]),
  ];
}

function decodeTransaction(value: unknown): Transaction {
  // Guard: [xid, commitTime, position, continues, records].
  // NOTE: index access, not destructuring: this runs once per transaction on every open.
  if (!Array.isArray(value) || value.length !== 5) throw new TypeError('not a transaction array');
  const xid: unknown = value[0];
  const commitTime: unknown = value[1];
  const position: unknown = value[2];
  const continues: unknown = value[3];
  const records: unknown = value[4];
  if (typeof xid !== 'string') throw new TypeError('xid is not a string');
  if (typeof commitTime !== 'string') throw new TypeError('commitTime is not a string');
  if (typeof position !== 'string') throw new TypeError('position is not a string');
  if (typeof continues !== 'boolean') throw new TypeError('continues is not a boolean');
  if (!Array.isArray(records)) throw new TypeError('records is not an array');

  // Records in order; optional parts absent when null or false.
  const decoded: Array<ChangeRecord | SchemaRecord> = new Array(records.length);
  for (let index = 0; index < records.length; index++) {
    const record: unknown = records[index];
    if (!Array.isArray(record)) throw new TypeError(`record ${index + 1} is not an array`);
    decoded[index] =
      record[0] === 'c' ? decodeChange(record, index + 1) : decodeSchema(record, index + 1);
  }
  const transaction: Transaction = { xid, commitTime, position, records: decoded };
  if (continues) transaction.continues = true;
  return transaction;
}

function recordError(number: number, what: string): TypeError {
  return new TypeError(`record ${number}: ${what}`);
}

function decodeChange(record: unknown[], number: number): ChangeRecord {
  if (record.length !== 9) throw recordError(number, 'a change record has 9 fields');
  const schema = record[1];
  const name = record[2];
  const op = record[3];
  const newRow = record[4];
  const oldRow = record[5];
  const unchanged = record[6];
  const tables = record[7];
  const snapshot = record[8];
  if (typeof schema !== 'string' || typeof name !== 'string')
    throw recordError(number, 'table is not text');
  if (typeof op !== 'string' || !OPERATION_NAMES.has(op)) throw recordError(number, 'unknown op');
  if (newRow !== null && !isRow(newRow))
    throw recordError(number, 'new is not a row of text values');
  if (oldRow !== null && !isRow(oldRow))
    throw recordError(number, 'old is not a row of text values');
  if (unchanged !== null && !isStringArray(unchanged))
    throw recordError(number, 'unchanged is malformed');
  if (tables !== null && !(Array.isArray(tables) && tables.every(isTablePair))) {
    throw recordError(number, 'tables is malformed');
  }
  if (typeof snapshot !== 'boolean') throw recordError(number, 'snapshot is not a boolean');
  const change: ChangeRecord = { kind: 'change', table: { schema, name }, op: op as Operation };
  if (newRow !== null) change.new = newRow as Row;
  if (oldRow !== null) change.old = oldRow as Row;
  if (unchanged !== null) change.unchanged = unchanged as string[];
  if (tables !== null) {
    change.tables = (tables as string[][]).map(([s, n]) => ({ schema: s!, name: n! }));
  }
  if (snapshot) change.snapshot = true;
  return change;
}

function decodeSchema(record: unknown[], number: number): SchemaRecord {
  const bad = (what: string) => new TypeError(`record ${number}: ${what}`);
  if (record[0] !== 's') throw bad('kind is neither "c" nor "s"');
  if (record.length !== 6) throw bad('a schema record has 6 fields');
  const [, schema, name, columns, primaryKey, types] = record;
  if (typeof schema !== 'string' || typeof name !== 'string') throw bad('table is not text');
  if (!Array.isArray(columns) || !columns.every(isColumnTriple)) throw bad('columns are malformed');
  if (!isStringArray(primaryKey)) throw bad('primaryKey is malformed');
  if (types !== null && !(Array.isArray(types) && types.every(isTypeQuad))) {
    throw bad('types are malformed');
  }
  const decoded: SchemaRecord = {
    kind: 'schema',
    table: { schema, name },
    columns: (columns as [string, string, boolean][]).map(
      ([n, type, notNull]): ColumnSchema => ({ name: n, type, notNull }),
    ),
    primaryKey: primaryKey as string[],
  };
  if (types !== null) {
    decoded.types = (types as string[][]).map(
      ([s, n, kind, definition]): TypeSchema => ({
        schema: s!,
        name: n!,
        kind: kind as TypeSchema['kind'],
        definition: definition!,
      }),
    );
  }
  return decoded;
}

function isTablePair(value: unknown): boolean {
  return (
    Array.isArray(value) &&
    value.length === 2 &&
    typeof value[0] === 'string' &&
    typeof value[1] === 'string'
  );
}

function isColumnTriple(value: unknown): boolean {
  return (
    Array.isArray(value) &&
    value.length === 3 &&
    typeof value[0] === 'string' &&
    typeof value[1] === 'string' &&
    typeof value[2] === 'boolean'
  );
}

function isTypeQuad(value: unknown): boolean {
  return (
    Array.isArray(value) &&
    value.length === 4 &&
    value.every((item) => typeof item === 'string') &&
    TYPE_KINDS.has(value[2] as string)
  );
}
