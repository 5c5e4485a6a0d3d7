import { isUtf8 } from 'node:buffer';
import type {
  ChangeRecord,
  ColumnSchema,
  Operation,
  Row,
  SchemaRecord,
  Transaction,
  TypeSchema,
} from '../change/change.js';
import { FieldReader } from './text-field-reader.js';
import { FieldWriter } from './text-field-writer.js';
import { transactionProblem } from './transaction-problem.js';
import { TYPE_KINDS } from './value-guards.js';

/** The operations a change record may name, most frequent first. */
const OPERATIONS: readonly Operation[] = ['INSERT', 'UPDATE', 'DELETE', 'TRUNCATE'];

/**
 * Serialise transactions as payload encoding `02`, text fields (docs/FORMAT.md 2.5.2): fields
 * each ending in NUL, tables and column lists defined once per payload at first use, rows as a
 * null mask and their non-null values. Returns undefined when a string of the batch cannot be
 * carried (it holds U+0000 or an unpaired surrogate): seal that batch as JSON lines. Throws
 * TypeError on a value outside the change model.
 *
 * @example
 * ```ts
 * encodeTextFields([tx])?.toString(); // => '741\u00002026-…\u00000/16B3748\u00000\u00001\u0000c…'
 * ```
 */
export function encodeTextFields(transactions: readonly Transaction[]): Buffer | undefined {
  const writer = new FieldWriter();
  for (const transaction of transactions) {
    const problem = transactionProblem(transaction);
    if (problem !== undefined) throw new TypeError(`cannot seal transaction: ${problem}`);
    writer.text(transaction.xid);
    writer.text(transaction.commitTime);
    writer.text(transaction.position);
    writer.flag(transaction.continues === true);
    writer.count(transaction.records.length);
    for (const record of transaction.records) {
      if (record.kind === 'change') writeChange(writer, record);
      else writeSchema(writer, record);
    }
  }
  return writer.finish();
}

/**
 * Parse a text-fields payload back into transactions, strictly (docs/FORMAT.md 2.5.2, rejection
 * rules). Throws TypeError saying what is wrong and in which transaction and record; never
 * includes row data in the message.
 *
 * @example
 * ```ts
 * decodeTextFields(encodeTextFields([tx])!); // => [tx]
 * ```
 */
export function decodeTextFields(payload: Buffer): Transaction[] {
  return [...readTextFields(payload)];
}

/**
 * Parse a text-fields payload one transaction at a time, as {@link decodeTextFields} does at
 * once: a caller that applies each transaction before asking for the next keeps only one
 * transaction's objects alive instead of the whole payload's. The whole-payload checks (UTF-8,
 * whole fields) run before the first transaction; a later malformed field throws when reached.
 *
 * @example
 * ```ts
 * for (const tx of readTextFields(payload)) apply(tx);
 * ```
 */
export function readTextFields(payload: Buffer): Iterable<Transaction> {
  // Guard: valid UTF-8, whole fields only, at least one.
  if (payload.length === 0 || payload[payload.length - 1] !== 0) {
    throw new TypeError('payload must be one or more fields, each ending in NUL');
  }
  if (!isUtf8(payload)) throw new TypeError('payload is not valid UTF-8');
  return readTransactions(new FieldReader(payload.toString('utf8')));
}

function* readTransactions(reader: FieldReader): Generator<Transaction> {
  // Transactions until the last field; each must end exactly on a field boundary.
  let count = 0;
  while (!reader.done()) {
    let transaction: Transaction;
    try {
      transaction = readTransaction(reader);
    } catch (error) {
      throw new TypeError(`transaction ${count + 1}: ${(error as Error).message}`);
    }
    count++;
    yield transaction;
  }
}

function writeChange(writer: FieldWriter, record: ChangeRecord): void {
  writer.symbol('c');
  writer.table(record.table);
  writer.symbol(record.op);
  writer.row(record.new);
  writer.row(record.old);
  writer.names(record.unchanged);
  writer.list(record.tables, (table) => writer.table(table));
  writer.flag(record.snapshot === true);
}

function writeSchema(writer: FieldWriter, record: SchemaRecord): void {
  writer.symbol('s');
  writer.table(record.table);
  writer.count(record.columns.length);
  for (const column of record.columns) {
    writer.text(column.name);
    writer.text(column.type);
    writer.flag(column.notNull);
  }
  writer.names(record.primaryKey);
  writer.list(record.types, (type) => {
    writer.text(type.schema);
    writer.text(type.name);
    writer.symbol(type.kind);
    writer.text(type.definition);
  });
}

function readTransaction(reader: FieldReader): Transaction {
  // xid commitTime position flag(continues) count(n) record*n
  const xid = reader.next();
  const commitTime = reader.next();
  const position = reader.next();
  const continues = reader.flag('continues');
  const count = reader.count('the record count');
  const records: Array<ChangeRecord | SchemaRecord> = [];
  for (let index = 0; index < count; index++) {
    try {
      const kind = reader.next();
      if (kind === 'c') records.push(readChange(reader));
      else if (kind === 's') records.push(readSchema(reader));
      else throw new TypeError('kind is neither "c" nor "s"');
    } catch (error) {
      throw new TypeError(`record ${index + 1}: ${(error as Error).message}`);
    }
  }
  const transaction: Transaction = { xid, commitTime, position, records };
  if (continues) transaction.continues = true;
  return transaction;
}

function readChange(reader: FieldReader): ChangeRecord {
  // tableRef op row(new) row(old) list(unchanged) tables flag(snapshot)
  const table = reader.table();
  const op = reader.symbol(OPERATIONS);
  if (op === undefined) throw new TypeError('unknown op');
  const change: ChangeRecord = { kind: 'change', table, op };
  const newRow: Row | undefined = reader.row();
  if (newRow !== undefined) change.new = newRow;
  const oldRow: Row | undefined = reader.row();
  if (oldRow !== undefined) change.old = oldRow;
  const unchanged = reader.names('unchanged');
  if (unchanged !== undefined) change.unchanged = unchanged;
  const tables = reader.list('table', () => reader.table());
  if (tables !== undefined) change.tables = tables;
  if (reader.flag('snapshot')) change.snapshot = true;
  return change;
}

function readSchema(reader: FieldReader): SchemaRecord {
  // tableRef count(n) (name type flag(notNull))*n count(k) name*k types
  const table = reader.table();
  const columnCount = reader.count('the column count');
  const columns: ColumnSchema[] = [];
  for (let index = 0; index < columnCount; index++) {
    const name = reader.next();
    const type = reader.next();
    columns.push({ name, type, notNull: reader.flag('notNull') });
  }
  const keyCount = reader.count('the primary key count');
  const primaryKey: string[] = [];
  for (let index = 0; index < keyCount; index++) primaryKey.push(reader.next());
  const record: SchemaRecord = { kind: 'schema', table, columns, primaryKey };
  const types = reader.list('type', () => readType(reader));
  if (types !== undefined) record.types = types;
  return record;
}

function readType(reader: FieldReader): TypeSchema {
  // schema name kind definition
  const schema = reader.next();
  const name = reader.next();
  const kind = reader.next();
  if (!TYPE_KINDS.has(kind)) throw new TypeError('unknown type kind');
  return { schema, name, kind: kind as TypeSchema['kind'], definition: reader.next() };
}
