import type {
  ChangeRecord,
  ColumnSchema,
  Row,
  SchemaRecord,
  TableName,
  Transaction,
  TypeSchema,
} from '../change/change.js';

const OPERATIONS = new Set(['INSERT', 'UPDATE', 'DELETE', 'TRUNCATE']);
const TYPE_KINDS = new Set(['enum', 'domain', 'composite']);

/**
 * Serialise transactions as the v2 payload: UTF-8 JSON lines, one transaction per line, each
 * line ending in `\n`, keys in the fixed order of docs/FORMAT.md, optional keys omitted when
 * absent and `continues` / `snapshot` written only when true. Row values stay PostgreSQL text;
 * SQL NULL is JSON `null`. Throws TypeError on a value outside the change model.
 *
 * @example
 * ```ts
 * encodeTransactions([tx]).toString(); // => '{"xid":"7","commitTime":"…",…}\n'
 * ```
 */
export function encodeTransactions(transactions: readonly Transaction[]): Buffer {
  const lines: string[] = [];
  for (const transaction of transactions) {
    const problem = transactionProblem(transaction);
    if (problem !== undefined) throw new TypeError(`cannot seal transaction: ${problem}`);
    lines.push(JSON.stringify(canonicalTransaction(transaction)));
  }
  lines.push('');
  return Buffer.from(lines.join('\n'), 'utf8');
}

/**
 * Parse a v2 payload back into transactions. Throws TypeError saying what is wrong (the
 * caller wraps it with the object's name); never includes row data in the message.
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

  // Each line is one transaction, checked against the change model.
  const lines = text.split('\n');
  lines.pop();
  const transactions: Transaction[] = [];
  for (let index = 0; index < lines.length; index++) {
    let value: unknown;
    try {
      value = JSON.parse(lines[index]!);
    } catch {
      throw new TypeError(`payload line ${index + 1} is not JSON`);
    }
    const problem = transactionProblem(value);
    if (problem !== undefined) throw new TypeError(`payload line ${index + 1}: ${problem}`);
    transactions.push(value as Transaction);
  }
  return transactions;
}

function canonicalTransaction(transaction: Transaction): object {
  const records = transaction.records.map((record) =>
    record.kind === 'change' ? canonicalChange(record) : canonicalSchema(record),
  );
  return {
    xid: transaction.xid,
    commitTime: transaction.commitTime,
    position: transaction.position,
    records,
    ...(transaction.continues === true ? { continues: true } : {}),
  };
}

function canonicalChange(record: ChangeRecord): object {
  return {
    kind: 'change',
    table: canonicalTable(record.table),
    op: record.op,
    ...(record.new !== undefined ? { new: record.new } : {}),
    ...(record.old !== undefined ? { old: record.old } : {}),
    ...(record.unchanged !== undefined ? { unchanged: record.unchanged } : {}),
    ...(record.tables !== undefined ? { tables: record.tables.map(canonicalTable) } : {}),
    ...(record.snapshot === true ? { snapshot: true } : {}),
  };
}

function canonicalSchema(record: SchemaRecord): object {
  return {
    kind: 'schema',
    table: canonicalTable(record.table),
    columns: record.columns.map((c: ColumnSchema) => ({
      name: c.name,
      type: c.type,
      notNull: c.notNull,
    })),
    primaryKey: record.primaryKey,
    ...(record.types !== undefined
      ? {
          types: record.types.map((t: TypeSchema) => ({
            schema: t.schema,
            name: t.name,
            kind: t.kind,
            definition: t.definition,
          })),
        }
      : {}),
  };
}

function canonicalTable(table: TableName): TableName {
  return { schema: table.schema, name: table.name };
}

/** Say what is wrong with a value that should be a Transaction, or undefined when it is one. */
export function transactionProblem(value: unknown): string | undefined {
  if (!isObject(value)) return 'not an object';
  if (typeof value.xid !== 'string') return 'xid is not a string';
  if (typeof value.commitTime !== 'string') return 'commitTime is not a string';
  if (typeof value.position !== 'string') return 'position is not a string';
  if (value.continues !== undefined && value.continues !== true) return 'continues is not true';
  if (!Array.isArray(value.records)) return 'records is not an array';
  for (let index = 0; index < value.records.length; index++) {
    const problem = recordProblem(value.records[index]);
    if (problem !== undefined) return `record ${index + 1}: ${problem}`;
  }
  return undefined;
}

function recordProblem(value: unknown): string | undefined {
  if (!isObject(value)) return 'not an object';
  if (!isTable(value.table)) return 'table is not {schema, name}';
  if (value.kind === 'change') {
    if (typeof value.op !== 'string' || !OPERATIONS.has(value.op)) return 'unknown op';
    if (value.new !== undefined && !isRow(value.new)) return 'new is not a row of text values';
    if (value.old !== undefined && !isRow(value.old)) return 'old is not a row of text values';
    if (value.unchanged !== undefined && !isStringArray(value.unchanged)) {
      return 'unchanged is not a list of column names';
    }
    if (
      value.tables !== undefined &&
      !(Array.isArray(value.tables) && value.tables.every(isTable))
    ) {
      return 'tables is not a list of tables';
    }
    if (value.snapshot !== undefined && value.snapshot !== true) return 'snapshot is not true';
    return undefined;
  }
  if (value.kind === 'schema') {
    const columns = value.columns;
    if (!Array.isArray(columns) || !columns.every(isColumn)) return 'columns are malformed';
    if (!isStringArray(value.primaryKey)) return 'primaryKey is not a list of column names';
    if (value.types !== undefined && !(Array.isArray(value.types) && value.types.every(isType))) {
      return 'types are malformed';
    }
    return undefined;
  }
  return 'kind is neither change nor schema';
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isTable(value: unknown): value is TableName {
  return isObject(value) && typeof value.schema === 'string' && typeof value.name === 'string';
}

function isRow(value: unknown): value is Row {
  if (!isObject(value)) return false;
  for (const key of Object.keys(value)) {
    const cell = value[key];
    if (cell !== null && typeof cell !== 'string') return false;
  }
  return true;
}

function isStringArray(value: unknown): value is string[] {
  return Array.isArray(value) && value.every((item) => typeof item === 'string');
}

function isColumn(value: unknown): boolean {
  return (
    isObject(value) &&
    typeof value.name === 'string' &&
    typeof value.type === 'string' &&
    typeof value.notNull === 'boolean'
  );
}

function isType(value: unknown): boolean {
  return (
    isObject(value) &&
    typeof value.schema === 'string' &&
    typeof value.name === 'string' &&
    typeof value.kind === 'string' &&
    TYPE_KINDS.has(value.kind) &&
    typeof value.definition === 'string'
  );
}
