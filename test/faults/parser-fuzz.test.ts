import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import type { Transaction } from '../../src/change/change.js';
import { EncryptedEnvelope, HybridDecryptor, HybridEncryptor } from '../../src/envelope/index.js';
import { ReplicatorError } from '../../src/errors.js';
import {
  type Identity,
  loadIdentity,
  loadRecipient,
  loadSigningKey,
  type Recipient,
  type SigningKey,
} from '../../src/keys/index.js';
import {
  GENESIS_HASH,
  openCheckpoint,
  openSegment,
  readSegmentHeader,
  sealCheckpoint,
  sealSegment,
} from '../../src/segment/index.js';
import { longForm, scenarioRandom } from '../support/faults/seed.js';

// The 2048-bit test key keeps RSA unwraps cheap; a thousand cases per parser (30,000 in the long form).
const key = (name: string) => fileURLToPath(new URL(`../fixtures/keys/${name}`, import.meta.url));
const RUNS = longForm() ? 30_000 : 1_000;
/** A parser that takes longer than this on one input of a few KiB is treated as hung. */
const MAX_CASE_MS = 2_000;

/** One edit of a byte string: what fuzzing does to a valid object. */
const mutation = fc.oneof(
  fc.record({
    kind: fc.constant('flip' as const),
    at: fc.nat(),
    bit: fc.integer({ min: 0, max: 7 }),
  }),
  fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
  fc.record({
    kind: fc.constant('append' as const),
    bytes: fc.uint8Array({ minLength: 1, maxLength: 64 }),
  }),
  fc.record({
    kind: fc.constant('overwrite' as const),
    at: fc.nat(),
    bytes: fc.uint8Array({ minLength: 1, maxLength: 16 }),
  }),
  fc.record({ kind: fc.constant('splice' as const), at: fc.nat() }),
  fc.record({ kind: fc.constant('replace' as const), bytes: fc.uint8Array({ maxLength: 2048 }) }),
);
type Mutation = typeof mutation extends fc.Arbitrary<infer T> ? T : never;

function mutate(original: Buffer, edits: Mutation[], donor: Buffer): Buffer {
  let bytes = Buffer.from(original);
  for (const edit of edits) {
    const at = bytes.length === 0 ? 0 : ('at' in edit ? edit.at : 0) % bytes.length;
    if (edit.kind === 'flip' && bytes.length > 0) bytes[at] = (bytes[at] ?? 0) ^ (1 << edit.bit);
    if (edit.kind === 'truncate') bytes = bytes.subarray(0, at);
    if (edit.kind === 'append') bytes = Buffer.concat([bytes, edit.bytes]);
    if (edit.kind === 'overwrite') Buffer.from(edit.bytes).copy(bytes, at);
    if (edit.kind === 'splice') bytes = Buffer.concat([bytes.subarray(0, at), donor.subarray(at)]);
    if (edit.kind === 'replace') bytes = Buffer.from(edit.bytes);
  }
  return bytes;
}

/** Run one parser call: it must throw a ReplicatorError or return, within the time bound. */
function attempt<T>(call: () => T): { value?: T; error?: unknown; ms: number } {
  const started = performance.now();
  try {
    const value = call();
    return { value, ms: performance.now() - started };
  } catch (error) {
    return { error, ms: performance.now() - started };
  }
}

function expectClean(outcome: { error?: unknown; ms: number }): void {
  expect(outcome.ms).toBeLessThan(MAX_CASE_MS);
  if (outcome.error !== undefined) {
    // A crash is any error outside the project's classes (TypeError, RangeError, ...).
    if (!(outcome.error instanceof ReplicatorError)) throw outcome.error;
  }
}

const tx = (n: number): Transaction => ({
  xid: String(700 + n),
  commitTime: '2026-12-03T17:00:00.123456Z',
  position: `0/16B37${String(40 + n)}`,
  records: [
    {
      kind: 'change',
      table: { schema: 'public', name: 'fault_events' },
      op: 'INSERT',
      new: { seq: String(n), row_id: String(n), writer: '1', payload: `row ${n} ✓`, at: null },
    },
  ],
});

describe('fuzzed parsers: no crash, no hang, no unauthenticated output', {
  timeout: 600_000,
}, () => {
  let recipient: Recipient;
  let identity: Identity;
  let signingKey: SigningKey;
  let seed: number;

  beforeAll(async () => {
    recipient = await loadRecipient(key('TEST-ONLY-seed-2048.pub'));
    identity = await loadIdentity(key('TEST-ONLY-seed-2048-pkcs8.pem'), {});
    signingKey = await loadSigningKey(key('TEST-ONLY-signing.pem'));
    seed = scenarioRandom('parser fuzz').seed;
  });

  it(`v2 segments: ${RUNS} mutated segments are refused or open to exactly what was sealed`, () => {
    const first = sealSegment({
      streamId: 'ab'.repeat(16),
      sequence: 1,
      previousHash: GENESIS_HASH,
      transactions: [tx(1), tx(11)],
      recipients: [recipient],
      signingKey,
    });
    const second = sealSegment({
      streamId: 'ab'.repeat(16),
      sequence: 2,
      previousHash: first.hash,
      transactions: [tx(2), tx(12)],
      recipients: [recipient],
      signingKey,
    });
    const sealed = [first, second];
    const original = first.bytes;
    // A splice at offset 0 is the donor whole: an authentic object too.
    const authentic = [JSON.stringify([tx(1), tx(11)]), JSON.stringify([tx(2), tx(12)])];
    let accepted = 0;
    fc.assert(
      fc.property(fc.array(mutation, { minLength: 1, maxLength: 3 }), (edits) => {
        const bytes = mutate(original, edits, sealed[1]!.bytes);
        const header = attempt(() => readSegmentHeader(bytes, { name: 'fuzz.seg' }));
        expectClean(header);
        const opened = attempt(() =>
          openSegment(bytes, { identities: [identity], name: 'fuzz.seg' }),
        );
        expectClean(opened);
        if (opened.value !== undefined) {
          accepted += 1;
          expect(authentic).toContain(JSON.stringify(opened.value.transactions));
        }
      }),
      { seed, numRuns: RUNS },
    );
    console.log(
      `[faults] parser fuzz: ${RUNS} segments, ${accepted} accepted (all equal to the sealed ones)`,
    );
  });

  it(`checkpoints: ${RUNS} mutated checkpoints are refused or read exactly as sealed`, () => {
    const checkpoint = sealCheckpoint({
      streamId: 'ab'.repeat(16),
      sequence: 7,
      headHash: Buffer.alloc(32, 7),
      signingKey,
    });
    const other = sealCheckpoint({
      streamId: 'cd'.repeat(16),
      sequence: 8,
      headHash: Buffer.alloc(32, 8),
      signingKey,
    });
    const authentic = [checkpoint, other].map((bytes) => JSON.stringify(openCheckpoint(bytes, {})));
    fc.assert(
      fc.property(fc.array(mutation, { minLength: 1, maxLength: 3 }), (edits) => {
        const opened = attempt(() => openCheckpoint(mutate(checkpoint, edits, other), {}));
        expectClean(opened);
        if (opened.value !== undefined) expect(authentic).toContain(JSON.stringify(opened.value));
      }),
      { seed, numRuns: RUNS },
    );
  });

  it(`v1 envelopes: ${RUNS} mutated envelope texts are refused or decrypt to exactly the row`, () => {
    const row = { id: 42, name: 'fuzz ✓', nested: { k: null } };
    const encryptor = new HybridEncryptor(recipient);
    const decryptor = new HybridDecryptor(identity);
    const text = encryptor.encrypt(row, { table: 'accounts', operation: 'INSERT' }).toJson();
    const donor = encryptor.encrypt({ other: true }, { table: 'x', operation: 'DELETE' }).toJson();
    fc.assert(
      fc.property(fc.array(mutation, { minLength: 1, maxLength: 3 }), (edits) => {
        const mutated = mutate(Buffer.from(text), edits, Buffer.from(donor)).toString('latin1');
        const parsed = attempt(() => EncryptedEnvelope.fromJson(mutated, { name: 'fuzz.json' }));
        expectClean(parsed);
        if (parsed.value === undefined) return;
        const opened = attempt(() => decryptor.decrypt(parsed.value!, { name: 'fuzz.json' }));
        expectClean(opened);
        if (opened.error === undefined) {
          expect([JSON.stringify(row), '{"other":true}']).toContain(JSON.stringify(opened.value));
        }
      }),
      { seed, numRuns: RUNS },
    );
  });

  it('v1 envelopes: structurally odd JSON values are refused with a ReplicatorError', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        expectClean(attempt(() => EncryptedEnvelope.fromJson(JSON.stringify(value))));
        if (typeof value === 'object' && value !== null) {
          expectClean(attempt(() => EncryptedEnvelope.fromJson(value as object)));
        }
      }),
      { seed, numRuns: RUNS },
    );
  });
});
