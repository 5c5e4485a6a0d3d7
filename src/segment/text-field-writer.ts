import type { Row, TableName } from '../change/change.js';
import { TEXT_FIELD_END as NUL } from './segment-constants.js';

/** Count and index fields up to 99, spelled once. */
const SMALL_COUNTS = Array.from({ length: 100 }, (_, count) => `${count}${NUL}`);

/** A column list of the payload's dictionary: the ordered column names of a row. */
interface ColumnList {
  index: number;
  names: string[];
}

/**
 * Writes the fields of a text-fields payload, keeping its table and column-list dictionaries.
 *
 * @example
 * ```ts
 * const writer = new FieldWriter();
 * writer.text('741');
 * writer.finish(); // => Buffer '741\0'
 * ```
 */
export class FieldWriter {
  // NOTE: one string grown field by field: V8 keeps it as a rope until Buffer.from flattens it,
  // which measured faster than collecting the fields in an array and joining them.
  #text = '';
  readonly #tables = new Map<string, number>();
  #lastTable: TableName | undefined;
  #lastTableIndex = 0;
  readonly #lists = new Map<string, ColumnList>();
  #lastList: ColumnList | undefined;
  #carriable = true;

  /** A field of text from the caller (row data, names): checked for U+0000. */
  text(value: string): void {
    if (value.includes(NUL)) this.#carriable = false;
    this.#text += value + NUL;
  }

  /** A field this codec spells itself (a kind, op, flag, count or `-`). */
  symbol(value: string): void {
    this.#text += value + NUL;
  }

  flag(value: boolean): void {
    this.#text += value ? '1\u0000' : '0\u0000';
  }

  count(value: number): void {
    this.#text += value < SMALL_COUNTS.length ? SMALL_COUNTS[value]! : `${value}${NUL}`;
  }

  /** `-`, or a count and that many names. */
  names(names: readonly string[] | undefined): void {
    // NOTE: not list(): this runs for every change record, and a plain loop costs no closure.
    if (names === undefined) {
      this.symbol('-');
      return;
    }
    this.count(names.length);
    for (const name of names) this.text(name);
  }

  /** `-`, or a count and each item as `write` writes it (truncated tables, schema types). */
  list<T>(items: readonly T[] | undefined, write: (item: T) => void): void {
    if (items === undefined) {
      this.symbol('-');
      return;
    }
    this.count(items.length);
    for (const item of items) write(item);
  }

  /** A table reference: its index, or `+`, schema and name at first use. */
  table(table: TableName): void {
    // The previous record's table, most often; else the dictionary.
    const last = this.#lastTable;
    if (last !== undefined && last.schema === table.schema && last.name === table.name) {
      this.count(this.#lastTableIndex);
      return;
    }
    const key = `${table.schema}${NUL}${table.name}`;
    const index = this.#tables.get(key);
    this.#lastTable = table;
    this.#lastTableIndex = index ?? this.#tables.size;
    if (index !== undefined) {
      this.count(index);
      return;
    }
    this.#tables.set(key, this.#tables.size);
    this.symbol('+');
    this.text(table.schema);
    this.text(table.name);
  }

  /** `-`, or a column-list reference, the null mask and the non-null values. */
  row(row: Row | undefined): void {
    if (row === undefined) {
      this.symbol('-');
      return;
    }
    const names = this.#columnList(row);
    let nulls = '';
    for (let index = 0; index < names.length; index++) {
      nulls += row[names[index]!] === null ? '1' : '0';
    }
    this.#text += nulls + NUL;
    for (let index = 0; index < names.length; index++) {
      const value = row[names[index]!];
      if (value !== null && value !== undefined) this.text(value);
    }
  }

  /** The payload, or undefined when a string cannot be carried (U+0000, unpaired surrogate). */
  finish(): Buffer | undefined {
    const text = this.#text;
    const wellFormed = (text as unknown as { isWellFormed(): boolean }).isWellFormed();
    if (!this.#carriable || !wellFormed) return undefined;
    return Buffer.from(text, 'utf8');
  }

  #columnList(row: Row): string[] {
    // NOTE: rows of a batch mostly repeat the previous row's columns; checking that with for-in
    // costs no array and no key string per row.
    const last = this.#lastList;
    if (last !== undefined && sameColumns(row, last.names)) {
      this.count(last.index);
      return last.names;
    }
    const names = Object.keys(row);
    const key = names.join(NUL);
    let list = this.#lists.get(key);
    if (list === undefined) {
      list = { index: this.#lists.size, names };
      this.#lists.set(key, list);
      this.symbol('+');
      this.names(names);
    } else {
      this.count(list.index);
    }
    this.#lastList = list;
    return list.names;
  }
}

function sameColumns(row: Row, names: readonly string[]): boolean {
  let index = 0;
  for (const column in row) {
    if (column !== names[index]) return false;
    index++;
  }
  return index === names.length;
}
