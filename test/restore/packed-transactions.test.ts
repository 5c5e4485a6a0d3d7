import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { ChangeRecord, Row, SchemaRecord, Transaction } from '../../src/change/change.js';
import { packTransactions, unpackTransactions } from '../../src/restore/packed-transactions.js';

const table = fc.record({
  schema: fc.constantFrom('public', 'sales'),
  name: fc.constantFrom('items', 'orders', 'odd "name"'),
});
const column = fc.constantFrom(
  'id',
  'name',
  'note',
  '1',
  'Ünïcode col',
  '__proto__',
  'constructor',
);
const row: fc.Arbitrary<Row> = fc
  .uniqueArray(fc.tuple(column, fc.option(fc.string(), { nil: null })), {
    selector: ([name]) => name,
    maxLength: 4,
  })
  .map((cells) => {
    // Own properties, as JSON.parse gives them (a __proto__ key included).
    const built: Row = {};
    for (const [name, value] of cells) {
      Object.defineProperty(built, name, {
        value,
        enumerable: true,
        writable: true,
        configurable: true,
      });
    }
    return built;
  });
const change: fc.Arbitrary<ChangeRecord> = fc
  .record(
    {
      table,
      op: fc.constantFrom('INSERT', 'UPDATE', 'DELETE', 'TRUNCATE') as fc.Arbitrary<
        ChangeRecord['op']
      >,
      new: row,
      old: row,
      unchanged: fc.array(column, { maxLength: 2 }),
      tables: fc.array(table, { minLength: 1, maxLength: 2 }),
      snapshot: fc.constant(true as const),
    },
    { requiredKeys: ['table', 'op'] },
  )
  .map((parts) => ({ kind: 'change' as const, ...parts }));
const schema: fc.Arbitrary<SchemaRecord> = table.map((name) => ({
  kind: 'schema',
  table: name,
  columns: [{ name: 'id', type: 'integer', notNull: true }],
  primaryKey: ['id'],
}));
const transaction: fc.Arbitrary<Transaction> = fc
  .record(
    {
      xid: fc.string(),
      commitTime: fc.string(),
      position: fc.string(),
      records: fc.array(fc.oneof({ weight: 5, arbitrary: change }, schema), { maxLength: 8 }),
      continues: fc.constant(true as const),
    },
    { requiredKeys: ['xid', 'commitTime', 'position', 'records'] },
  )
  .map((tx) => tx as Transaction);

/** Each row's columns in order, with values: what the applier reads. */
function shapeOf(transactions: Transaction[]): unknown {
  return transactions.map((tx) => ({
    ...tx,
    records: tx.records.map((record) =>
      record.kind === 'change'
        ? { ...record, new: entries(record.new), old: entries(record.old) }
        : record,
    ),
  }));
}

function entries(row: Row | undefined): unknown {
  if (row === undefined) return undefined;
  return { proto: Object.getPrototypeOf(row), cells: Object.entries(row) };
}

describe('transactions packed for the hand-over from the opening worker', () => {
  it('unpack(pack(x)) has the same records, rows, column order and prototypes as x', () => {
    fc.assert(
      fc.property(fc.array(transaction, { maxLength: 6 }), (transactions) => {
        const cloned = structuredClone(packTransactions(transactions));
        expect(shapeOf(unpackTransactions(cloned))).toEqual(shapeOf(transactions));
      }),
    );
  });

  it('packs rows of one table and column list as flat values, not objects', () => {
    const items = { schema: 'public', name: 'items' };
    const records: ChangeRecord[] = [1, 2, 3].map((id) => ({
      kind: 'change',
      table: items,
      op: 'INSERT',
      new: { id: String(id), name: id === 2 ? null : `n${id}` },
    }));
    const packed = packTransactions([{ xid: '9', commitTime: 't', position: '9', records }]);
    expect(packed.others).toEqual([]);
    expect(packed.tables).toEqual([items]);
    expect(packed.shapes).toEqual([['id', 'name']]);
    expect(packed.values).toEqual(['1', 'n1', '2', null, '3', 'n3']);
  });
});
