import { describe, expect, it } from 'vitest';
import type { Transaction } from '../../src/change/change.js';
import { AuthenticationError, IntegrityError } from '../../src/errors.js';
import {
  loadIdentity,
  loadRecipient,
  loadSigningKey,
  loadVerifyKey,
} from '../../src/keys/index.js';
import {
  checkpointName,
  encodePayload,
  encodeTransactions,
  GENESIS_HASH,
  newStreamId,
  openCheckpoint,
  openSegment,
  parseObjectName,
  readSegmentHeader,
  sealCheckpoint,
  sealSegment,
  segmentHash,
  segmentName,
} from '../../src/segment/index.js';
import { keyPath } from './fixture-keys.js';

const recipient = await loadRecipient(keyPath('TEST-ONLY-recovery-3072.pub'));
const identity = await loadIdentity(keyPath('TEST-ONLY-recovery-3072.pem'));
const otherRecipient = await loadRecipient(keyPath('TEST-ONLY-other-recovery-2048.pub'));
const otherIdentity = await loadIdentity(keyPath('TEST-ONLY-other-recovery-2048.pem'));
const signingKey = await loadSigningKey(keyPath('TEST-ONLY-signing.pem'));
const verifyKey = await loadVerifyKey(keyPath('TEST-ONLY-signing.pub'));
const otherVerifyKey = await loadVerifyKey(keyPath('TEST-ONLY-other-signing.pub'));

const transactions: Transaction[] = [
  {
    xid: '741',
    commitTime: '2026-12-03T17:01:02.123456+00:00',
    position: '0/16B3748',
    records: [
      {
        kind: 'schema',
        table: { schema: 'public', name: 'nis2_audit_log' },
        columns: [
          { name: 'id', type: 'bigint', notNull: true },
          { name: 'payload', type: 'jsonb', notNull: false },
        ],
        primaryKey: ['id'],
      },
      {
        kind: 'change',
        table: { schema: 'public', name: 'nis2_audit_log' },
        op: 'INSERT',
        new: { id: '9007199254740993', payload: 'null', note: null },
      },
    ],
  },
  {
    xid: '742',
    commitTime: '2026-12-03T17:01:03.000001+00:00',
    position: '0/16B3800',
    records: [
      {
        kind: 'change',
        table: { schema: 'public', name: 'nis2_audit_log' },
        op: 'DELETE',
        old: { id: '1' },
      },
    ],
    continues: true,
  },
];

describe('v2 segment', () => {
  const streamId = newStreamId();

  it('opens what it sealed, keeping SQL NULL apart from the JSON null text', () => {
    const sealed = sealSegment({
      streamId,
      sequence: 1,
      previousHash: GENESIS_HASH,
      createdAt: new Date('2026-12-03T17:05:00.123Z'),
      transactions,
      recipients: [recipient, otherRecipient],
      signingKey,
    });
    const name = segmentName(streamId, 1);
    const opened = openSegment(sealed.bytes, { identities: [identity], verifyKey, name });
    expect(opened.transactions).toEqual(transactions);
    const change = opened.transactions[0]!.records[1]!;
    expect(change.kind === 'change' && change.new).toEqual({
      id: '9007199254740993',
      payload: 'null',
      note: null,
    });
    expect(opened.header.createdAt.toISOString()).toBe('2026-12-03T17:05:00.123Z');
    expect(opened.header.recipients.map((r) => r.keyId).sort()).toEqual(
      [recipient.keyId, otherRecipient.keyId].sort(),
    );
    expect(opened.header.signerKeyId).toBe(verifyKey.keyId);
    expect(sealed.hash).toEqual(segmentHash(sealed.bytes));

    // Either recipient can open it.
    const byOther = openSegment(sealed.bytes, { identities: [otherIdentity] });
    expect(byOther.transactions).toEqual(transactions);
  });

  it('seals a payload serialised beforehand the same as the transactions themselves', () => {
    // A Buffer is JSON lines (encodeTransactions); encodePayload says its encoding itself.
    for (const [payload, encoding] of [
      [encodeTransactions(transactions), 'json-lines'],
      [encodePayload(transactions), 'text-fields'],
    ] as const) {
      const sealed = sealSegment({
        streamId,
        sequence: 1,
        previousHash: GENESIS_HASH,
        payload,
        recipients: [recipient],
        signingKey,
      });
      const opened = openSegment(sealed.bytes, { identities: [identity] });
      expect(opened.transactions).toEqual(transactions);
      expect(opened.header.payloadEncoding).toBe(encoding);
    }
    expect(() =>
      sealSegment({
        streamId,
        sequence: 1,
        previousHash: GENESIS_HASH,
        transactions,
        payload: encodeTransactions(transactions),
        recipients: [recipient],
        signingKey,
      }),
    ).toThrow(/exactly one of transactions and payload/);
  });

  it('chains the next segment to the hash of the previous one', () => {
    const first = sealSegment({
      streamId,
      sequence: 1,
      previousHash: GENESIS_HASH,
      transactions,
      recipients: [recipient],
      signingKey,
    });
    const second = sealSegment({
      streamId,
      sequence: 2,
      previousHash: first.hash,
      transactions,
      recipients: [recipient],
      signingKey,
    });
    const header = readSegmentHeader(second.bytes, { name: segmentName(streamId, 2), verifyKey });
    expect(header.previousHash).toEqual(segmentHash(first.bytes));
    expect(header.sequence).toBe(2);
  });

  it('refuses a segment signed by another key when a verify key is given', () => {
    const sealed = sealSegment({
      streamId,
      sequence: 1,
      previousHash: GENESIS_HASH,
      transactions,
      recipients: [recipient],
      signingKey,
    });
    expect(() => readSegmentHeader(sealed.bytes, { verifyKey: otherVerifyKey })).toThrow(
      AuthenticationError,
    );
  });

  it('refuses a segment stored under another sequence number', () => {
    const sealed = sealSegment({
      streamId,
      sequence: 1,
      previousHash: GENESIS_HASH,
      transactions,
      recipients: [recipient],
      signingKey,
    });
    expect(() => readSegmentHeader(sealed.bytes, { name: segmentName(streamId, 2) })).toThrow(
      IntegrityError,
    );
  });

  it('says no matching key when opened with a key it was not sealed for', () => {
    const sealed = sealSegment({
      streamId,
      sequence: 1,
      previousHash: GENESIS_HASH,
      transactions,
      recipients: [recipient],
      signingKey,
    });
    expect(() => openSegment(sealed.bytes, { identities: [otherIdentity] })).toThrow(
      /no matching key/,
    );
  });

  it('verifies a checkpoint and refuses one signed by another key', () => {
    const bytes = sealCheckpoint({
      streamId,
      sequence: 7,
      headHash: Buffer.alloc(32, 9),
      signingKey,
    });
    const checkpoint = openCheckpoint(bytes, { verifyKey, name: checkpointName(streamId, 7) });
    expect(checkpoint).toMatchObject({ streamId, sequence: 7, signerKeyId: verifyKey.keyId });
    expect(checkpoint.headHash).toEqual(Buffer.alloc(32, 9));
    expect(() => openCheckpoint(bytes, { verifyKey: otherVerifyKey })).toThrow(AuthenticationError);
  });

  it('names objects by stream and zero-padded sequence only', () => {
    const name = segmentName(streamId, 42);
    expect(name).toBe(`streams/${streamId}/segments/00000000000000000042.seg`);
    expect(parseObjectName(name)).toEqual({ kind: 'segment', streamId, sequence: 42 });
    expect(
      parseObjectName(`streams/${streamId}/segments/00000000000000000000.seg`),
    ).toBeUndefined();
    expect(
      parseObjectName(`streams/${streamId}/segments/00000000000000000001.ckpt`),
    ).toBeUndefined();
  });
});
