import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { ChangeRecord, Transaction } from '../../src/change/change.js';
import { Batcher, transactionBytes } from '../../src/pipeline/batcher.js';
import { encodeTransactions } from '../../src/segment/index.js';

function change(id: number, text = 'x'): ChangeRecord {
  return {
    kind: 'change',
    table: { schema: 'public', name: 't' },
    op: 'INSERT',
    new: { id: String(id), body: text },
  };
}

function tx(position: number, records: ChangeRecord[]): Transaction {
  return {
    xid: String(position),
    commitTime: '2026-12-03T17:00:00.000000Z',
    position: String(position),
    records,
  };
}

describe('Batcher', () => {
  it('keeps small transactions whole and cuts between them when the next would not fit', () => {
    const one = tx(1, [change(1, 'a'.repeat(300))]);
    const max = transactionBytes(one) * 2 + 10;
    const batcher = new Batcher({ maxBytes: max });

    expect(batcher.add(one)).toEqual([]);
    expect(batcher.add(tx(2, [change(2, 'b'.repeat(300))]))).toEqual([]);
    const full = batcher.add(tx(3, [change(3, 'c'.repeat(300))]));

    expect(full).toHaveLength(1);
    expect(full[0]!.transactions.map((t) => t.position)).toEqual(['1', '2']);
    expect(full[0]!.ackPosition).toBe('2');
    expect(batcher.take()?.transactions.map((t) => t.position)).toEqual(['3']);
    expect(batcher.take()).toBeUndefined();
  });

  it('splits a transaction larger than a segment into parts that all but the last continue', () => {
    const records = Array.from({ length: 50 }, (_, i) => change(i, 'y'.repeat(200)));
    const big = tx(7, records);
    const batcher = new Batcher({ maxBytes: 2_000 });

    const full = batcher.add(big);
    const last = batcher.take()!;
    const parts = [...full, last].flatMap((b) => b.transactions);

    expect(parts.length).toBeGreaterThan(1);
    expect(parts.slice(0, -1).every((p) => p.continues === true)).toBe(true);
    expect(parts.at(-1)!.continues).toBeUndefined();
    expect(parts.every((p) => p.xid === '7' && p.position === '7')).toBe(true);
    expect(parts.flatMap((p) => p.records)).toEqual(records);
    // Only the batch holding the final part may acknowledge the transaction.
    expect(full.every((b) => b.ackPosition === undefined)).toBe(true);
    expect(last.ackPosition).toBe('7');
  });

  it('acknowledges the last complete transaction of a batch that ends with a continuing part', () => {
    const batcher = new Batcher({ maxBytes: 3_000 });
    batcher.add(tx(1, [change(1)]));
    const full = batcher.add(
      tx(
        2,
        Array.from({ length: 40 }, (_, i) => change(i, 'z'.repeat(100))),
      ),
    );

    expect(full[0]!.transactions.map((t) => t.position)).toEqual(['1']);
    expect(full[0]!.ackPosition).toBe('1');
  });

  it('never loses, reorders or oversizes records for any sequence of transactions', () => {
    const sizes = fc.array(fc.array(fc.integer({ min: 1, max: 400 }), { maxLength: 30 }), {
      maxLength: 30,
    });
    fc.assert(
      fc.property(sizes, fc.integer({ min: 600, max: 5_000 }), (shape, maxBytes) => {
        let id = 0;
        const input = shape.map((lengths, index) =>
          tx(
            index + 1,
            lengths.map((length) => change(id++, 'q'.repeat(length))),
          ),
        );
        const batcher = new Batcher({ maxBytes });
        const batches = input.flatMap((t) => batcher.add(t));
        const rest = batcher.take();
        if (rest !== undefined) batches.push(rest);

        const records = batches.flatMap((b) => b.transactions.flatMap((t) => t.records));
        expect(records).toEqual(input.flatMap((t) => t.records));
        for (const batch of batches) {
          const oneRecord =
            batch.transactions.length === 1 && batch.transactions[0]!.records.length <= 1;
          if (!oneRecord) expect(batch.bytes).toBeLessThanOrEqual(maxBytes);
        }
      }),
      { numRuns: 200 },
    );
  });

  it('never underestimates the sealed payload size, whatever the text', () => {
    const value = fc.option(fc.string({ unit: 'binary', maxLength: 60 }), { nil: null });
    const row = fc.dictionary(fc.string({ unit: 'binary', minLength: 1, maxLength: 8 }), value);
    fc.assert(
      fc.property(fc.array(row, { minLength: 1, maxLength: 8 }), (rows) => {
        const records: ChangeRecord[] = rows.map((r) => ({
          kind: 'change',
          table: { schema: 'Odd "schema"', name: 'tâble\\n' },
          op: 'UPDATE',
          new: r,
          old: r,
          snapshot: true,
        }));
        const transaction = tx(123456789, records);
        expect(encodeTransactions([transaction]).length).toBeLessThanOrEqual(
          transactionBytes(transaction),
        );
      }),
      { numRuns: 300 },
    );
  });
});
