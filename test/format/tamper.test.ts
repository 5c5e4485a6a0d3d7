import { sign } from 'node:crypto';
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
  encodeTransactions,
  GENESIS_HASH,
  openCheckpoint,
  openSegment,
  type SealedSegment,
  sealCheckpoint,
  sealSegment,
  segmentName,
} from '../../src/segment/index.js';
import { decodeHeader } from '../../src/segment/segment-header.js';
import { keyPath } from './fixture-keys.js';

const identity = await loadIdentity(keyPath('TEST-ONLY-seed-2048-pkcs8.pem'));
const recipient = await loadRecipient(keyPath('TEST-ONLY-seed-2048.pub'));
const signingKey = await loadSigningKey(keyPath('TEST-ONLY-signing.pem'));
const verifyKey = await loadVerifyKey(keyPath('TEST-ONLY-signing.pub'));
const streamId = 'a1a2a3a4a5a6a7a8a9aaabacadaeaf00';
const name = segmentName(streamId, 1);

const transactions: Transaction[] = [
  {
    xid: '1',
    commitTime: '2026-12-03T17:00:00.000001+00:00',
    position: '1',
    records: [
      {
        kind: 'change',
        table: { schema: 'public', name: 'accounts' },
        op: 'UPDATE',
        new: { id: '1', balance: '100.00' },
        old: { id: '1' },
      },
    ],
  },
];
const sealedOptions = {
  streamId,
  sequence: 1,
  previousHash: GENESIS_HASH,
  recipients: [recipient],
  signingKey,
};
/** The same transactions in each payload encoding: text fields (the default) and JSON lines. */
const SEGMENTS = {
  'text fields': sealSegment({ ...sealedOptions, transactions }),
  'JSON lines': sealSegment({ ...sealedOptions, payload: encodeTransactions(transactions) }),
};

/** Every byte region of a segment, by the field names of docs/FORMAT.md. */
function regionsOf(sealed: SealedSegment): Array<[string, number, number]> {
  const header = decodeHeader(sealed.bytes, name);
  const payloadEnd = header.headerLength + header.payloadLength;
  return [
    ['magic', 0, 4],
    ['version', 4, 5],
    ['compression', 5, 6],
    ['payload encoding', 6, 7],
    ['cipher', 7, 8],
    ['stream id', 8, 24],
    ['sequence', 24, 32],
    ['previous hash', 32, 64],
    ['created at', 64, 72],
    ['iv', 72, 84],
    ['payload length', 84, 88],
    ['signer public key', 88, 120],
    ['recipient count', 120, 121],
    ['recipient type', 121, 122],
    ['recipient key id', 122, 154],
    ['wrapped key length', 154, 156],
    ['wrapped key', 156, header.headerLength],
    ['ciphertext', header.headerLength, payloadEnd - 16],
    ['tag', payloadEnd - 16, payloadEnd],
    ['signature', payloadEnd, sealed.bytes.length],
  ];
}

function flipped(bytes: Buffer, offset: number, bit = 0): Buffer {
  const copy = Buffer.from(bytes);
  copy[offset]! ^= 1 << bit;
  return copy;
}

/** The kind of failure opening gives, or 'opened' when it wrongly succeeds. */
function failure(open: () => unknown): string {
  try {
    open();
    return 'opened';
  } catch (error) {
    if (error instanceof AuthenticationError) return 'authentication';
    if (error instanceof IntegrityError) return 'integrity';
    return `unexpected: ${(error as Error).message}`;
  }
}

describe.each(Object.entries(SEGMENTS))('tampering with a v2 segment in %s', (encoding, sealed) => {
  const REGIONS = regionsOf(sealed);
  const payloadEnd = REGIONS.at(-1)![1];

  it('covers every byte of the segment with the regions', () => {
    expect(REGIONS.map(([, start]) => start)).toEqual([
      0,
      ...REGIONS.slice(0, -1).map(([, , end]) => end),
    ]);
    expect(REGIONS.at(-1)![2]).toBe(sealed.bytes.length);
  });

  it.each(REGIONS)('refuses a flipped bit anywhere in the %s', (_region, start, end) => {
    for (let offset = start; offset < end; offset++) {
      for (const bit of [0, 7]) {
        const result = failure(() =>
          openSegment(flipped(sealed.bytes, offset, bit), { identities: [identity], name }),
        );
        expect(['authentication', 'integrity'], `byte ${offset} bit ${bit}`).toContain(result);
      }
    }
  });

  it.each(REGIONS.filter(([region]) => region !== 'signature'))(
    'refuses a flipped %s even when re-signed by the true signing key (AAD and tag bind it)',
    (region, start, end) => {
      for (const offset of new Set([start, Math.floor((start + end - 1) / 2), end - 1])) {
        const body = flipped(sealed.bytes.subarray(0, payloadEnd), offset);
        const resigned = Buffer.concat([body, sign(null, body, signingKey.privateKey)]);
        const result = failure(() =>
          openSegment(resigned, { identities: [identity], verifyKey, name }),
        );
        expect(['authentication', 'integrity'], `${region} byte ${offset}`).toContain(result);
      }
    },
  );

  it('refuses a segment cut at any length', () => {
    for (let length = 0; length < sealed.bytes.length; length += 7) {
      const result = failure(() =>
        openSegment(sealed.bytes.subarray(0, length), { identities: [identity], name }),
      );
      expect(['authentication', 'integrity'], `length ${length}`).toContain(result);
    }
  });

  it('opens the untouched segment (the tests above fail for the damage, not the fixture)', () => {
    expect(
      openSegment(sealed.bytes, { identities: [identity], verifyKey, name }).transactions,
    ).toEqual(transactions);
    const named = encoding === 'text fields' ? 'text-fields' : 'json-lines';
    expect(decodeHeader(sealed.bytes, name).payloadEncoding).toBe(named);
  });
});

describe('relabelling the payload encoding', () => {
  it.each([
    ['text fields', 'JSON lines', 1],
    ['JSON lines', 'text fields', 2],
  ] as const)(
    'refuses %s relabelled as %s even when re-signed: the header is AAD',
    (from, _to, id) => {
      const body = Buffer.from(SEGMENTS[from].bytes.subarray(0, -64));
      body[6] = id;
      const resigned = Buffer.concat([body, sign(null, body, signingKey.privateKey)]);
      expect(() => openSegment(resigned, { identities: [identity], verifyKey, name })).toThrow(
        AuthenticationError,
      );
    },
  );
});

describe('tampering with a checkpoint', () => {
  const headHash = SEGMENTS['text fields'].hash;
  const checkpoint = sealCheckpoint({ streamId, sequence: 9, headHash, signingKey });

  it('refuses a flipped bit in every byte, signature included', () => {
    for (let offset = 0; offset < checkpoint.length; offset++) {
      const result = failure(() => openCheckpoint(flipped(checkpoint, offset), { verifyKey }));
      expect(['authentication', 'integrity'], `byte ${offset}`).toContain(result);
    }
    expect(openCheckpoint(checkpoint, { verifyKey }).sequence).toBe(9);
  });
});
