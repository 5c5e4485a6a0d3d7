import type { ChangeRecord, Row, SchemaRecord, TableName, Transaction } from '../change/change.js';

/**
 * Decoded transactions in a form that crosses a thread boundary cheaply: flat arrays of
 * strings and small integers instead of one object per row. Copying objects between threads
 * (structured clone) costs as much as parsing their JSON again; flat arrays cost a few percent.
 */
export interface PackedTransactions {
  /** Per transaction: xid, commitTime, position. */
  heads: string[];
  /** Per transaction: its number of records n, or ~n (negative) when it continues. */
  counts: number[];
  /** Per record: {@link OTHER}, or an op code with the NEW_ROW, OLD_ROW and SNAPSHOT bits. */
  codes: number[];
  /** Per packed record: index into `tables`. */
  tableOf: number[];
  tables: TableName[];
  /** Column lists, in the row's own key order. */
  shapes: string[][];
  /** Per packed row: index into `shapes`. */
  shapeOf: number[];
  /** Row values, row after row, each in its shape's order. */
  values: Array<string | null>;
  /** Records kept as objects (schema records, TRUNCATE, updates with unchanged columns). */
  others: Array<ChangeRecord | SchemaRecord>;
}

/** The record is the next entry of `others`. */
const OTHER = -1;
const OPS = ['INSERT', 'UPDATE', 'DELETE'] as const;
const OP_MASK = 3;
const NEW_ROW = 4;
const OLD_ROW = 8;
const SNAPSHOT = 16;

/**
 * Pack transactions for {@link unpackTransactions} on another thread.
 *
 * @example
 * ```ts
 * unpackTransactions(packTransactions(transactions)); // => equal to transactions
 * ```
 */
export function packTransactions(transactions: Iterable<Transaction>): PackedTransactions {
  const packer = new Packer();
  for (const tx of transactions) {
    packer.packed.heads.push(tx.xid, tx.commitTime, tx.position);
    const count = tx.records.length;
    packer.packed.counts.push(tx.continues === true ? ~count : count);
    for (const record of tx.records) packer.add(record);
  }
  return packer.packed;
}

/**
 * Rebuild the transactions {@link packTransactions} packed.
 *
 * @example
 * ```ts
 * for (const tx of unpackTransactions(packed)) apply(tx);
 * ```
 */
export function unpackTransactions(packed: PackedTransactions): Transaction[] {
  const { heads, counts, codes, tableOf, tables, shapes, shapeOf, values, others } = packed;
  const transactions: Transaction[] = new Array(counts.length);
  // NOTE: cursors into the flat arrays, plain loops: this runs for every row of a restore.
  let record = 0;
  let packedRecord = 0;
  let packedRow = 0;
  let value = 0;
  let other = 0;
  for (let t = 0; t < counts.length; t++) {
    const continues = counts[t]! < 0;
    const count = continues ? ~counts[t]! : counts[t]!;
    const records: Array<ChangeRecord | SchemaRecord> = new Array(count);
    for (let r = 0; r < count; r++, record++) {
      const code = codes[record]!;
      if (code === OTHER) {
        records[r] = others[other++]!;
        continue;
      }
      const table = tables[tableOf[packedRecord++]!]!;
      const change: ChangeRecord = { kind: 'change', table, op: OPS[code & OP_MASK]! };
      if ((code & NEW_ROW) !== 0) {
        const shape = shapes[shapeOf[packedRow++]!]!;
        const row: Row = {};
        for (let c = 0; c < shape.length; c++) row[shape[c]!] = values[value++]!;
        change.new = row;
      }
      if ((code & OLD_ROW) !== 0) {
        const shape = shapes[shapeOf[packedRow++]!]!;
        const row: Row = {};
        for (let c = 0; c < shape.length; c++) row[shape[c]!] = values[value++]!;
        change.old = row;
      }
      if ((code & SNAPSHOT) !== 0) change.snapshot = true;
      records[r] = change;
    }
    const tx: Transaction = {
      xid: heads[3 * t]!,
      commitTime: heads[3 * t + 1]!,
      position: heads[3 * t + 2]!,
      records,
    };
    if (continues) tx.continues = true;
    transactions[t] = tx;
  }
  return transactions;
}

/** Builds one {@link PackedTransactions}, remembering the tables and shapes seen. */
class Packer {
  readonly packed: PackedTransactions = {
    heads: [],
    counts: [],
    codes: [],
    tableOf: [],
    tables: [],
    shapes: [],
    shapeOf: [],
    values: [],
    others: [],
  };
  private readonly tableIndex = new Map<string, number>();
  private readonly shapeIndex = new Map<string, number>();
  private lastShape = -1;
  private lastTable = -1;

  add(record: ChangeRecord | SchemaRecord): void {
    // Whatever the flat form does not describe travels as an object.
    if (!this.fits(record)) {
      this.packed.codes.push(OTHER);
      this.packed.others.push(record);
      return;
    }
    const change = record as ChangeRecord;
    let code: number = OPS.indexOf(change.op as (typeof OPS)[number]);
    if (change.new !== undefined) code |= NEW_ROW;
    if (change.old !== undefined) code |= OLD_ROW;
    if (change.snapshot === true) code |= SNAPSHOT;
    this.packed.codes.push(code);
    this.packed.tableOf.push(this.tableNumber(change.table));
    if (change.new !== undefined) this.addRow(change.new);
    if (change.old !== undefined) this.addRow(change.old);
  }

  private fits(record: ChangeRecord | SchemaRecord): boolean {
    if (record.kind !== 'change' || record.op === 'TRUNCATE') return false;
    if (record.unchanged !== undefined || record.tables !== undefined) return false;
    // NOTE: a column named __proto__ would set the prototype when the row is rebuilt by
    // assignment; such rows stay objects (structured clone keeps own properties as they are).
    return !hasProtoKey(record.new) && !hasProtoKey(record.old);
  }

  /** The table's number: usually the one of the record before, checked without allocating. */
  private tableNumber(table: TableName): number {
    const last = this.packed.tables[this.lastTable];
    if (last !== undefined && last.name === table.name && last.schema === table.schema) {
      return this.lastTable;
    }
    const key = JSON.stringify([table.schema, table.name]);
    let index = this.tableIndex.get(key);
    if (index === undefined) {
      index = this.packed.tables.length;
      this.packed.tables.push({ schema: table.schema, name: table.name });
      this.tableIndex.set(key, index);
    }
    this.lastTable = index;
    return index;
  }

  private addRow(row: Row): void {
    // Usually the row has the column list of the row before: values are taken in one pass.
    const values = this.packed.values;
    const start = values.length;
    const last = this.packed.shapes[this.lastShape];
    if (last !== undefined) {
      let i = 0;
      let same = true;
      for (const column in row) {
        if (last[i] !== column) {
          same = false;
          break;
        }
        values.push(row[column]!);
        i++;
      }
      if (same && i === last.length) {
        this.packed.shapeOf.push(this.lastShape);
        return;
      }
      values.length = start;
    }

    // Another column list: find or add it.
    const columns = Object.keys(row);
    const key = JSON.stringify(columns);
    let index = this.shapeIndex.get(key);
    if (index === undefined) {
      index = this.packed.shapes.length;
      this.packed.shapes.push(columns);
      this.shapeIndex.set(key, index);
    }
    this.lastShape = index;
    this.packed.shapeOf.push(index);
    for (const column of columns) values.push(row[column]!);
  }
}

function hasProtoKey(row: Row | undefined): boolean {
  return row !== undefined && Object.hasOwn(row, '__proto__');
}
