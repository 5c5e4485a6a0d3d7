import {
  isObject,
  isRow,
  isStringArray,
  isTable,
  OPERATION_NAMES,
  TYPE_KINDS,
} from './value-guards.js';

/**
 * Say what is wrong with a value that should be a Transaction of the change model, or return
 * undefined when it is one. The sealer checks every transaction with it, so that a capture bug
 * fails loudly at seal time instead of producing a segment restore cannot read.
 *
 * @example
 * ```ts
 * transactionProblem({ xid: 1 }); // => 'xid is not a string'
 * ```
 */
export function transactionProblem(value: unknown): string | undefined {
  if (!isObject(value)) return 'not an object';
  if (typeof value.xid !== 'string') return 'xid is not a string';
  if (typeof value.commitTime !== 'string') return 'commitTime is not a string';
  if (typeof value.position !== 'string') return 'position is not a string';
  if (value.continues !== undefined && typeof value.continues !== 'boolean') {
    return 'continues is not a boolean';
  }
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
    if (typeof value.op !== 'string' || !OPERATION_NAMES.has(value.op)) return 'unknown op';
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
    if (value.snapshot !== undefined && typeof value.snapshot !== 'boolean') {
      return 'snapshot is not a boolean';
    }
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
