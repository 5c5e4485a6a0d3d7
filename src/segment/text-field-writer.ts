import type { Row, TableName } from '../change/change.js';
import { TEXT_FIELD_END as NUL } from './segment-constants.js';

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
  readonly #fields: string[] = [];
  readonly #tables = new Map<string, number>();
  readonly #lists = new Map<string, ColumnList>();
  #lastList: ColumnList | undefined;
  #carriable = true;

  /** A field of text from the caller (row data, names): checked for U+0000. */
  text(value: string): void {
    if (value.includes(NUL)) this.#carriable = false;
    this.#fields.push(value);
  }

  /** A field this codec spells itself (a kind, op, flag, count or `-`). */
  symbol(value: string): void {
    this.#fields.push(value);
  }

  flag(value: boolean): void {
    this.#fields.push(value ? '1' : '0');
  }

  count(value: number): void {
    this.#fields.push(String(value));
  }

  /** `-`, or a count and that many names. */
  names(names: readonly string[] | undefined): void {
    if (names === undefined) {
      this.symbol('-');
      return;
    }
    this.count(names.length);
    for (const name of names) this.text(name);
  }

  /** A table reference: its index, or `+`, schema and name at first use. */
  table(table: TableName): void {
    const key = `${table.schema}${NUL}${table.name}`;
    const index = this.#tables.get(key);
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
    this.#fields.push(nulls);
    for (let index = 0; index < names.length; index++) {
      const value = row[names[index]!];
      if (value !== null && value !== undefined) this.text(value);
    }
  }

  /** The payload, or undefined when a string cannot be carried (U+0000, unpaired surrogate). */
  finish(): Buffer | undefined {
    this.#fields.push('');
    const text = this.#fields.join(NUL);
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
