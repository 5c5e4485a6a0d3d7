import type { Row, TableName } from '../change/change.js';
import { TEXT_FIELD_END as NUL } from './segment-constants.js';

/** A count or index of two to eight digits; one digit is parsed without it. */
const MULTI_DIGIT = /^[1-9][0-9]{1,7}$/;
const DIGIT_0 = 48;
const DIGIT_1 = 49;
const HYPHEN = 45;

/** A column list of the payload's dictionary: the ordered column names of a row. */
interface ColumnList {
  index: number;
  names: string[];
  /** A `__proto__` column, which plain assignment would take for the prototype. */
  hasProtoName: boolean;
}

/**
 * Reads the fields of a text-fields payload in order, building its dictionaries as it goes.
 * Every method throws TypeError (without row data) on a field the grammar does not allow.
 *
 * @example
 * ```ts
 * const reader = new FieldReader('741\0');
 * reader.next(); // => '741'
 * ```
 */
export class FieldReader {
  readonly #text: string;
  #position = 0;
  readonly #tables: Readonly<TableName>[] = [];
  readonly #tableKeys = new Set<string>();
  readonly #lists: ColumnList[] = [];
  readonly #listKeys = new Set<string>();

  /** `text` must end in NUL. */
  constructor(text: string) {
    this.#text = text;
  }

  done(): boolean {
    return this.#position === this.#text.length;
  }

  next(): string {
    // NOTE: slices share the payload's text (V8 sliced strings), which is where the speed comes
    // from; a long value kept alone keeps up to one payload (16 MiB) alive until it is dropped.
    const end = this.#text.indexOf(NUL, this.#position);
    if (end === -1) throw new TypeError('the payload ends inside it');
    const field = this.#text.slice(this.#position, end);
    this.#position = end + 1;
    return field;
  }

  /**
   * The next field when it is one of `symbols` (returned as the constant given, without a new
   * string), else undefined with nothing consumed.
   */
  symbol<T extends string>(symbols: readonly T[]): T | undefined {
    const text = this.#text;
    const position = this.#position;
    for (const symbol of symbols) {
      if (text.charCodeAt(position + symbol.length) === 0 && text.startsWith(symbol, position)) {
        this.#position = position + symbol.length + 1;
        return symbol;
      }
    }
    return undefined;
  }

  /** True, consuming it, when the next field is `-` (an absent part). */
  absent(): boolean {
    const position = this.#position;
    if (this.#text.charCodeAt(position) !== HYPHEN || this.#text.charCodeAt(position + 1) !== 0) {
      return false;
    }
    this.#position = position + 2;
    return true;
  }

  flag(what: string): boolean {
    const field = this.next();
    if (field === '1') return true;
    if (field !== '0') throw new TypeError(`${what} is not a flag`);
    return false;
  }

  count(what: string): number {
    return parseCount(this.next(), what);
  }

  /** `-` (undefined), or a count and that many names. */
  names(what: string): string[] | undefined {
    // NOTE: not list(): this runs for every change record, and a plain loop costs no closure.
    if (this.absent()) return undefined;
    const count = this.count(`the ${what} count`);
    const names: string[] = [];
    for (let index = 0; index < count; index++) names.push(this.next());
    return names;
  }

  /** `-` (undefined), or a count and that many items read by `read` (tables, schema types). */
  list<T>(what: string, read: () => T): T[] | undefined {
    if (this.absent()) return undefined;
    const count = this.count(`the ${what} count`);
    const items: T[] = [];
    for (let index = 0; index < count; index++) items.push(read());
    return items;
  }

  table(): TableName {
    const field = this.next();
    if (field === '+') {
      const schema = this.next();
      const name = this.next();
      const key = `${schema}${NUL}${name}`;
      if (this.#tableKeys.has(key)) throw new TypeError('a table is defined twice');
      this.#tableKeys.add(key);
      // NOTE: one frozen object per table of the payload, shared by its records (a copy per
      // record was a third of the objects a restore made per row).
      const table = Object.freeze({ schema, name });
      this.#tables.push(table);
      return table;
    }
    const table = this.#tables[parseCount(field, 'a table index')];
    if (table === undefined) throw new TypeError('a table index names no table defined before');
    return table;
  }

  row(): Row | undefined {
    // Guard: `-`, or a known column list and a null mask of its length.
    const field = this.next();
    if (field === '-') return undefined;
    const list =
      field === '+' ? this.#defineList() : this.#lists[parseCount(field, 'a list index')];
    if (list === undefined) throw new TypeError('a column list index names no list defined before');
    // The null mask is read where it stands, without a string of its own.
    const text = this.#text;
    const names = list.names;
    const mask = this.#position;
    if (text.indexOf(NUL, mask) !== mask + names.length) {
      throw new TypeError('a null mask has the wrong length');
    }
    this.#position = mask + names.length + 1;

    // One value per `0`, none per `1`.
    const row: Row = {};
    for (let index = 0; index < names.length; index++) {
      const mark = text.charCodeAt(mask + index);
      if (mark !== DIGIT_0 && mark !== DIGIT_1) throw new TypeError('a null mask is malformed');
      const value = mark === DIGIT_0 ? this.next() : null;
      if (list.hasProtoName) {
        Object.defineProperty(row, names[index]!, {
          value,
          enumerable: true,
          writable: true,
          configurable: true,
        });
      } else {
        row[names[index]!] = value;
      }
    }
    return row;
  }

  #defineList(): ColumnList {
    const names = this.names('column');
    if (names === undefined) throw new TypeError('a column list definition is absent');
    if (new Set(names).size !== names.length) throw new TypeError('a column list repeats a name');
    const key = names.join(NUL);
    if (this.#listKeys.has(key)) throw new TypeError('a column list is defined twice');
    if (Object.keys(rowOf(names)).join(NUL) !== key) {
      throw new TypeError('a column list is not in the order a row keeps its columns');
    }
    this.#listKeys.add(key);
    const list = { index: this.#lists.length, names, hasProtoName: names.includes('__proto__') };
    this.#lists.push(list);
    return list;
  }
}

/** An empty row with these columns: what a row object keeps of their order. */
function rowOf(names: readonly string[]): Row {
  const row: Row = {};
  for (const name of names) {
    Object.defineProperty(row, name, { value: null, enumerable: true, configurable: true });
  }
  return row;
}

function parseCount(field: string, what: string): number {
  if (field.length === 1) {
    const digit = field.charCodeAt(0) - DIGIT_0;
    if (digit >= 0 && digit <= 9) return digit;
  } else if (MULTI_DIGIT.test(field)) {
    return Number(field);
  }
  throw new TypeError(`${what} is not a decimal count`);
}
