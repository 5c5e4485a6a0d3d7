/**
 * The test vectors of payload encoding 02, text fields (docs/FORMAT.md 2.5.2), written by
 * `npx tsx test/format/make-vectors.ts text-fields`. Damaged payloads are sealed and signed
 * properly, so that only the payload rule under test can refuse them.
 */
import { sign } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import type { Transaction } from '../../src/change/change.js';
import { loadRecipient, loadSigningKey } from '../../src/keys/index.js';
import { encodePayload, GENESIS_HASH, sealSegment } from '../../src/segment/index.js';
import { decodeHeader } from '../../src/segment/segment-header.js';
import { keyPath } from './fixture-keys.js';
import { EXAMPLE_TRANSACTIONS, SCHEMA_TRANSACTIONS } from './vector-transactions.js';

const STREAM = '00112233445566778899aabbccddeeff';
const CREATED_AT = new Date('2026-12-03T17:00:00.000Z');
const IDENTITY = 'TEST-ONLY-seed-2048-pkcs1.pem';

/** The two transactions of the text-fields example in docs/FORMAT.md 2.5.2. */
export const FIELDS_EXAMPLE: Transaction[] = [
  ...EXAMPLE_TRANSACTIONS,
  {
    xid: '742',
    commitTime: '2026-12-03T17:00:01.000001+00:00',
    position: '0/16B3800',
    records: [
      {
        kind: 'change',
        table: { schema: 'public', name: 'nis2_audit_log' },
        op: 'UPDATE',
        new: { id: '1', actor: 'ana', details: '{"seen": true}', note: 'checked' },
        old: { id: '1' },
      },
    ],
  },
];

/** Schema, UPDATE with unchanged columns, TRUNCATE, a snapshot row with array-index names. */
const FIELDS_SCHEMA: Transaction[] = SCHEMA_TRANSACTIONS.map((transaction) => ({
  ...transaction,
  records: [
    ...transaction.records,
    {
      kind: 'change',
      table: { schema: 'app', name: 'odd names' },
      op: 'INSERT',
      new: { '2': 'two', '10': null, id: '1', 'tab\there': 'a\\b "c"\nd', zoë: '' },
      snapshot: true,
    },
  ],
}));

/** Damaged text-fields payloads: [file, description, the example payload changed]. */
const BAD_PAYLOADS: Array<[string, string, (text: string) => string]> = [
  [
    'bad-payload-fields-unknown-index.seg',
    'a table index that names no table defined before it',
    (text) => text.replace('c\0+\0public\0nis2_audit_log\0', 'c\x000\0'),
  ],
  [
    'bad-payload-fields-defined-twice.seg',
    'the same table defined a second time instead of referred to by its index',
    (text) => text.replace('c\x000\0UPDATE', 'c\0+\0public\0nis2_audit_log\0UPDATE'),
  ],
  [
    'bad-payload-fields-null-mask.seg',
    'a null mask one character short of its column list',
    (text) => text.replace('\x000001\0', '\x00001\0'),
  ],
  [
    'bad-payload-fields-count.seg',
    'a record count spelled with a leading zero',
    (text) => text.replace('0/16B3748\x000\x001\0', '0/16B3748\x000\x0001\0'),
  ],
  [
    'bad-payload-fields-flag.seg',
    'a continues flag spelled "false"',
    (text) => text.replace('0/16B3748\x000\0', '0/16B3748\0false\0'),
  ],
  [
    'bad-payload-fields-cut.seg',
    'a transaction cut after its position: the payload ends inside it',
    (text) => `${text}743\x002026-12-03T17:00:02.000001+00:00\x000/16B3900\0`,
  ],
];

function write(dir: string, name: string, bytes: Buffer, expect: object): void {
  mkdirSync(`${dir}v2`, { recursive: true });
  writeFileSync(`${dir}v2/${name}`, bytes);
  writeFileSync(`${dir}v2/${name}.expect.json`, `${JSON.stringify(expect, null, 2)}\n`);
}

/** Write the text-fields vectors under `dir` (test/fixtures/vectors/). */
export async function textFieldsVectors(dir: string): Promise<void> {
  const recipient = await loadRecipient(keyPath('TEST-ONLY-seed-2048.pub'));
  const signingKey = await loadSigningKey(keyPath('TEST-ONLY-signing.pem'));
  const seal = (payload: Transaction[] | Buffer, sequence = 1, previousHash = GENESIS_HASH) =>
    sealSegment({
      streamId: STREAM,
      sequence,
      previousHash,
      createdAt: CREATED_AT,
      ...(Buffer.isBuffer(payload)
        ? { payload: { encoding: 'text-fields' as const, bytes: payload } }
        : { transactions: payload }),
      recipients: [recipient],
      signingKey,
    });
  const base = { format: 'v2-segment', identity: IDENTITY, payloadEncoding: 'text-fields' };

  // Good segments: the example of 2.5.2, then one exercising the rest of the grammar.
  const example = seal(FIELDS_EXAMPLE);
  write(dir, 'ok-text-fields.seg', example.bytes, {
    ...base,
    outcome: 'ok',
    description: 'the text-fields example of docs/FORMAT.md 2.5.2: INSERT, then UPDATE',
    verifyKey: 'TEST-ONLY-signing.pub',
    expected: FIELDS_EXAMPLE,
  });
  const schema = seal(FIELDS_SCHEMA, 2, example.hash);
  write(dir, 'ok-text-fields-schema.seg', schema.bytes, {
    ...base,
    outcome: 'ok',
    description: 'schema, UPDATE with unchanged, TRUNCATE, snapshot row with odd column names',
    expected: FIELDS_SCHEMA,
  });

  // Payload rules: each damaged payload properly sealed, so only the decoder can refuse it.
  const text = encodePayload(FIELDS_EXAMPLE).bytes.toString('utf8');
  for (const [name, description, damage] of BAD_PAYLOADS) {
    const damaged = damage(text);
    if (damaged === text) throw new Error(`${name}: the damage changed nothing`);
    write(dir, name, seal(Buffer.from(damaged, 'utf8')).bytes, {
      ...base,
      outcome: 'bad payload',
      description,
    });
  }
  const notUtf8 = Buffer.from(text, 'utf8');
  notUtf8[notUtf8.indexOf('ana')] = 0xff;
  write(dir, 'bad-payload-fields-not-utf8.seg', seal(notUtf8).bytes, {
    ...base,
    outcome: 'bad payload',
    description: 'a byte 0xff inside a value: not UTF-8',
  });

  // Header byte 6: an unknown encoding, and the other known one (caught by the AEAD).
  const header = decodeHeader(example.bytes, 'example');
  const resigned = (encodingId: number) => {
    const unsigned = Buffer.from(example.bytes.subarray(0, example.bytes.length - 64));
    unsigned[6] = encodingId;
    return Buffer.concat([unsigned, sign(null, unsigned, signingKey.privateKey)]);
  };
  write(dir, 'bad-header-payload-encoding.seg', resigned(3), {
    ...base,
    outcome: 'bad header',
    description: 'payload encoding id 3, re-signed by the true signer',
  });
  write(dir, 'failed-authentication-encoding-swapped.seg', resigned(1), {
    ...base,
    outcome: 'failed authentication',
    description: `text fields relabelled as JSON lines and re-signed: the header (${header.headerLength} bytes) is the AEAD's associated data`,
  });
}
