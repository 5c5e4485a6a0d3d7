import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Row } from '../../src/change/change.js';
import { copyLine, parseCopyText } from '../../src/restore/batch-sql.js';

// The COPY lane keeps the text it sent and reads the rows back from it when the COPY meets an
// existing key; these check that reading back gives exactly the rows written.
describe('COPY text', () => {
  it('escapes tab, newline, carriage return and backslash, and writes NULL as \\N', () => {
    const row = { id: '1', note: 'a\tb\nc\rd\\e', gone: null, text: '\\N' };
    expect(copyLine(row, ['id', 'note', 'gone', 'text'])).toBe(
      '1\ta\\tb\\nc\\rd\\\\e\t\\N\t\\\\N\n',
    );
  });

  it('reads back every row it wrote, NULL and the text "\\N" kept apart', () => {
    const columns = ['a', 'b', '__proto__'];
    const value = fc.option(fc.string({ unit: 'binary' }), { nil: null });
    const rows = fc.array(fc.tuple(value, value, value), { maxLength: 20 });
    fc.assert(
      fc.property(rows, (values) => {
        const written = values.map((row) => rowOf(columns, row));
        const text = written.map((row) => copyLine(row, columns)).join('');
        const read = parseCopyText(text, columns);
        expect(read).toEqual(written);
        for (const row of read) {
          expect(Object.getPrototypeOf(row)).toBe(Object.prototype);
          expect(Object.keys(row)).toEqual(columns);
        }
      }),
    );
  });
});

/** A row with these columns, `__proto__` as an own column (as the payload reader makes it). */
function rowOf(columns: string[], values: Array<string | null>): Row {
  const row: Row = {};
  columns.forEach((column, i) => {
    Object.defineProperty(row, column, {
      value: values[i],
      enumerable: true,
      writable: true,
      configurable: true,
    });
  });
  return row;
}
