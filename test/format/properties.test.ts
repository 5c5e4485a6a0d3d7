import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { ChangeRecord, Row, SchemaRecord, Transaction } from '../../src/change/change.js';
import { decodeCanonicalBase64 } from '../../src/envelope/index.js';
import { IntegrityError } from '../../src/errors.js';
import { loadIdentity, loadRecipient, loadSigningKey } from '../../src/keys/index.js';
import {
  decodePayload,
  decodeTransactions,
  encodePayload,
  encodeTransactions,
  GENESIS_HASH,
  openSegment,
  sealSegment,
} from '../../src/segment/index.js';
import { decodeHeader, encodeHeader } from '../../src/segment/segment-header.js';
import { decodeTextFields, encodeTextFields } from '../../src/segment/text-fields-codec.js';
import { keyPath } from './fixture-keys.js';

const identity = await loadIdentity(keyPath('TEST-ONLY-seed-2048-pkcs8.pem'));
const recipient = await loadRecipient(keyPath('TEST-ONLY-seed-2048.pub'));
const otherRecipient = await loadRecipient(keyPath('TEST-ONLY-other-recovery-2048.pub'));
const signingKey = await loadSigningKey(keyPath('TEST-ONLY-signing.pem'));

// Text that PostgreSQL may print, including quotes, backslashes, newlines, NUL-free unicode.
const text = fc.string({ unit: 'grapheme', maxLength: 40 });
// Column names, with the awkward ones: the prototype's name and array indexes (ordered first).
const columnName = fc.oneof(
  fc.string({ minLength: 1, maxLength: 12 }),
  fc.constantFrom('__proto__', '0', '7', '42', '-', '+'),
);
const row: fc.Arbitrary<Row> = fc
  .uniqueArray(fc.tuple(columnName, fc.option(text, { nil: null })), {
    selector: ([column]) => column,
    maxLength: 6,
  })
  .map((pairs) => Object.fromEntries(pairs));
const table = fc.record({ schema: text, name: text });
const change: fc.Arbitrary<ChangeRecord> = fc.record(
  {
    kind: fc.constant('change' as const),
    table,
    op: fc.constantFrom('INSERT', 'UPDATE', 'DELETE', 'TRUNCATE' as const),
    new: row,
    old: row,
    unchanged: fc.array(text, { maxLength: 3 }),
    tables: fc.array(table, { maxLength: 2 }),
    snapshot: fc.constant(true as const),
  },
  { requiredKeys: ['kind', 'table', 'op'] },
);
const schema: fc.Arbitrary<SchemaRecord> = fc.record(
  {
    kind: fc.constant('schema' as const),
    table,
    columns: fc.array(fc.record({ name: text, type: text, notNull: fc.boolean() }), {
      maxLength: 4,
    }),
    primaryKey: fc.array(text, { maxLength: 2 }),
    types: fc.array(
      fc.record({
        schema: text,
        name: text,
        kind: fc.constantFrom('enum', 'domain', 'composite' as const),
        definition: text,
      }),
      { maxLength: 2 },
    ),
  },
  { requiredKeys: ['kind', 'table', 'columns', 'primaryKey'] },
);
const transaction: fc.Arbitrary<Transaction> = fc.record(
  {
    xid: text,
    commitTime: text,
    position: text,
    records: fc.array(fc.oneof(change, schema), { maxLength: 4 }),
    continues: fc.constant(true as const),
  },
  { requiredKeys: ['xid', 'commitTime', 'position', 'records'] },
);
const transactions = fc.array(transaction, { minLength: 1, maxLength: 5 });

/** Every part of the text-fields grammar at least once: the payload the mutation test damages. */
const FIELDS_SAMPLE: Transaction[] = [
  {
    xid: '1',
    commitTime: '2026-12-03T17:00:00.000001+00:00',
    position: '0/10',
    records: [
      {
        kind: 'schema',
        table: { schema: 'app', name: 'orders' },
        columns: [{ name: 'id', type: 'bigint', notNull: true }],
        primaryKey: ['id'],
        types: [{ schema: 'app', name: 'mood', kind: 'enum', definition: "ENUM ('ok')" }],
      },
      {
        kind: 'change',
        table: { schema: 'app', name: 'orders' },
        op: 'INSERT',
        new: { id: '10', note: null, mood: 'ok' },
        snapshot: true,
      },
    ],
    continues: true,
  },
  {
    xid: '2',
    commitTime: '2026-12-03T17:00:00.000002+00:00',
    position: '0/20',
    records: [
      {
        kind: 'change',
        table: { schema: 'app', name: 'orders' },
        op: 'UPDATE',
        new: { id: '10', note: '', mood: 'ok' },
        old: { id: '10' },
        unchanged: ['blob'],
      },
      {
        kind: 'change',
        table: { schema: 'app', name: 'lines' },
        op: 'TRUNCATE',
        tables: [
          { schema: 'app', name: 'lines' },
          { schema: 'app', name: 'orders' },
        ],
      },
    ],
  },
];

/** Whether every string of a value, keys included, can travel as a text field (2.5.2). */
function carriable(value: unknown): boolean {
  if (typeof value === 'string') {
    return (
      !value.includes('\u0000') && (value as unknown as { isWellFormed(): boolean }).isWellFormed()
    );
  }
  if (typeof value !== 'object' || value === null) return true;
  return Object.entries(value).every(([key, item]) => carriable(key) && carriable(item));
}

describe('v2 codecs (property tests)', () => {
  it('decodes every JSON-lines payload to the transactions it encoded', () => {
    fc.assert(
      fc.property(transactions, (input) => {
        expect(decodeTransactions(encodeTransactions(input))).toEqual(input);
      }),
      { numRuns: 300 },
    );
  });

  it('decodes every text-fields payload to the transactions it encoded, never larger', () => {
    fc.assert(
      fc.property(transactions, (input) => {
        const encoded = encodePayload(input);
        expect(encoded.encoding).toBe(carriable(input) ? 'text-fields' : 'json-lines');
        const decoded = decodePayload(encoded.bytes, encoded.encoding);
        expect(decoded).toEqual(input);
        for (const record of decoded.flatMap((t) => t.records)) {
          if (record.kind !== 'change') continue;
          // A `__proto__` column is an own property, never the row's prototype.
          for (const row of [record.new, record.old]) {
            if (row !== undefined) expect(Object.getPrototypeOf(row)).toBe(Object.prototype);
          }
        }
        // The batcher's size estimate bounds JSON lines; text fields must stay below it.
        expect(encoded.bytes.length).toBeLessThanOrEqual(encodeTransactions(input).length);
      }),
      { numRuns: 300 },
    );
  });

  it('seals a string text fields cannot carry (U+0000, unpaired surrogate) as JSON lines', () => {
    const awkward = fc.constantFrom('a\u0000b', '\u0000', 'x\ud800', '\udfff');
    fc.assert(
      fc.property(transactions, awkward, (input, odd) => {
        const withOdd: Transaction[] = [
          ...input,
          { xid: odd, commitTime: 't', position: '1', records: [] },
        ];
        expect(encodeTextFields(withOdd)).toBeUndefined();
        const encoded = encodePayload(withOdd);
        expect(encoded.encoding).toBe('json-lines');
        expect(decodePayload(encoded.bytes, encoded.encoding)).toEqual(withOdd);
      }),
      { numRuns: 50 },
    );
  });

  it('never accepts two encodings of one payload: any accepted text-fields mutation re-encodes to itself', () => {
    const sample = encodeTextFields(FIELDS_SAMPLE)!;
    let accepted = 0;
    fc.assert(
      fc.property(
        fc.array(
          fc.tuple(
            fc.nat({ max: sample.length - 1 }),
            fc.constantFrom(0x00, 0x2b, 0x2d, 0x30, 0x31, 0x32, 0x63, 0x73),
          ),
          { minLength: 1, maxLength: 3 },
        ),
        (edits) => {
          const bytes = Buffer.from(sample);
          for (const [offset, value] of edits) bytes[offset] = value;
          let decoded: Transaction[];
          try {
            decoded = decodeTextFields(bytes);
          } catch (error) {
            expect(error).toBeInstanceOf(TypeError);
            return;
          }
          accepted += 1;
          expect(encodeTextFields(decoded)).toEqual(bytes);
        },
      ),
      { numRuns: 2000 },
    );
    // Some mutations must pass (a changed value), or the property above proved nothing.
    expect(accepted).toBeGreaterThan(0);
  });

  it('opens every sealed segment to the transactions sealed, under any position and time', () => {
    fc.assert(
      fc.property(
        transactions,
        fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }),
        fc.date({
          min: new Date(0),
          max: new Date('9999-12-31T23:59:59.999Z'),
          noInvalidDate: true,
        }),
        fc.constantFrom('none', 'deflateRaw', 'brotli' as const),
        (input, sequence, createdAt, compression) => {
          const sealed = sealSegment({
            streamId: 'f'.repeat(32),
            sequence,
            previousHash: sequence === 1 ? GENESIS_HASH : Buffer.alloc(32, 1),
            createdAt,
            transactions: input,
            recipients: [otherRecipient, recipient],
            signingKey,
            compression,
          });
          const opened = openSegment(sealed.bytes, { identities: [identity] });
          expect(opened.transactions).toEqual(input);
          expect(opened.header.payloadEncoding).toBe(
            carriable(input) ? 'text-fields' : 'json-lines',
          );
          expect(opened.header.sequence).toBe(sequence);
          expect(opened.header.createdAt.getTime()).toBe(createdAt.getTime());
        },
      ),
      { numRuns: 40 },
    );
  });

  it('never accepts two encodings of one header: any accepted mutation re-encodes to itself', () => {
    const sealed = sealSegment({
      streamId: '0'.repeat(32),
      sequence: 3,
      previousHash: Buffer.alloc(32, 2),
      transactions: [{ xid: '1', commitTime: 't', position: '1', records: [] }],
      recipients: [recipient, otherRecipient],
      signingKey,
    });
    const { headerLength } = decodeHeader(sealed.bytes, 'x');
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.nat({ max: headerLength - 1 }), fc.integer({ min: 1, max: 255 })), {
          minLength: 1,
          maxLength: 3,
        }),
        (mutations) => {
          const bytes = Buffer.from(sealed.bytes);
          for (const [offset, xor] of mutations) bytes[offset]! ^= xor;
          let decoded: ReturnType<typeof decodeHeader>;
          try {
            decoded = decodeHeader(bytes, 'x');
          } catch (error) {
            expect(error).toBeInstanceOf(IntegrityError);
            return;
          }
          expect(encodeHeader(decoded)).toEqual(bytes.subarray(0, decoded.headerLength));
        },
      ),
      { numRuns: 500 },
    );
  });

  it('accepts exactly one base64 spelling of any bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 40 }), fc.string({ maxLength: 8 }), (bytes, noise) => {
        const canonical = Buffer.from(bytes).toString('base64');
        expect(decodeCanonicalBase64(canonical)).toEqual(Buffer.from(bytes));
        const other = canonical + noise;
        const decoded = decodeCanonicalBase64(other);
        if (decoded !== undefined) expect(decoded.toString('base64')).toBe(other);
      }),
      { numRuns: 500 },
    );
  });
});
