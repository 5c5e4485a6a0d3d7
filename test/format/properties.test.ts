import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { ChangeRecord, Row, SchemaRecord, Transaction } from '../../src/change/change.js';
import { decodeCanonicalBase64 } from '../../src/envelope/index.js';
import { IntegrityError } from '../../src/errors.js';
import { loadIdentity, loadRecipient, loadSigningKey } from '../../src/keys/index.js';
import {
  decodeTransactions,
  encodeTransactions,
  GENESIS_HASH,
  openSegment,
  sealSegment,
} from '../../src/segment/index.js';
import { decodeHeader, encodeHeader } from '../../src/segment/segment-header.js';
import { keyPath } from './fixture-keys.js';

const identity = await loadIdentity(keyPath('TEST-ONLY-seed-2048-pkcs8.pem'));
const recipient = await loadRecipient(keyPath('TEST-ONLY-seed-2048.pub'));
const otherRecipient = await loadRecipient(keyPath('TEST-ONLY-other-recovery-2048.pub'));
const signingKey = await loadSigningKey(keyPath('TEST-ONLY-signing.pem'));

// Text that PostgreSQL may print, including quotes, backslashes, newlines, NUL-free unicode.
const text = fc.string({ unit: 'grapheme', maxLength: 40 });
const columnName = fc.oneof(fc.string({ minLength: 1, maxLength: 12 }), fc.constant('__proto__'));
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

describe('v2 codecs (property tests)', () => {
  it('decodes every payload to the transactions it encoded', () => {
    fc.assert(
      fc.property(transactions, (input) => {
        expect(decodeTransactions(encodeTransactions(input))).toEqual(input);
      }),
      { numRuns: 300 },
    );
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
