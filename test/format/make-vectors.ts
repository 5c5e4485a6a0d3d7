/**
 * Writes the test vectors under test/fixtures/vectors (run once by hand, then commit the files):
 *
 *   npx tsx test/format/make-vectors.ts              # every vector
 *   npx tsx test/format/make-vectors.ts text-fields  # only those of payload encoding 02
 *
 * Every run draws new keys and IVs, so rewriting a vector changes its bytes: write only the set
 * you add (docs/FORMAT.md quotes ok-example.seg byte for byte). The JSON-lines vectors predate
 * payload encoding 02 and stay in encoding 01.
 * Every vector gets a sidecar `NAME.expect.json` saying its expected outcome. v1 vectors that
 * decrypt are sealed by the independent Python implementation (v1_interop.py); the rest are
 * made from them or from segments sealed here, then damaged on purpose. Segments whose damage
 * must pass the signature check are re-signed, so that the rule under test is the one that
 * fires.
 */
import { execFileSync } from 'node:child_process';
import { sign } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { loadIdentity, loadRecipient, loadSigningKey } from '../../src/keys/index.js';
import {
  encodeTransactions,
  GENESIS_HASH,
  openSegment,
  sealCheckpoint,
  sealSegment,
  segmentName,
} from '../../src/segment/index.js';
import { decodeHeader, encodeHeader } from '../../src/segment/segment-header.js';
import { keyPath } from './fixture-keys.js';
import { textFieldsVectors } from './make-text-fields-vectors.js';
import { EXAMPLE_TRANSACTIONS, SCHEMA_TRANSACTIONS } from './vector-transactions.js';

const VECTORS = fileURLToPath(new URL('../fixtures/vectors/', import.meta.url));
const STREAM = '00112233445566778899aabbccddeeff';
const CREATED_AT = new Date('2026-12-03T17:00:00.000Z');

function write(folder: string, name: string, bytes: Buffer | string, expect: object): void {
  mkdirSync(`${VECTORS}${folder}`, { recursive: true });
  writeFileSync(`${VECTORS}${folder}/${name}`, bytes);
  writeFileSync(`${VECTORS}${folder}/${name}.expect.json`, `${JSON.stringify(expect, null, 2)}\n`);
}

function flip(bytes: Buffer, offset: number): Buffer {
  const copy = Buffer.from(bytes);
  copy[offset]! ^= 0x01;
  return copy;
}

async function main(): Promise<void> {
  if (process.argv[2] === 'text-fields') {
    await textFieldsVectors(VECTORS);
    return;
  }
  const seedRecipient = await loadRecipient(keyPath('TEST-ONLY-seed-2048.pub'));
  const recoveryRecipient = await loadRecipient(keyPath('TEST-ONLY-recovery-3072.pub'));
  const otherRecipient = await loadRecipient(keyPath('TEST-ONLY-other-recovery-2048.pub'));
  const signingKey = await loadSigningKey(keyPath('TEST-ONLY-signing.pem'));
  const otherSigningKey = await loadSigningKey(keyPath('TEST-ONLY-other-signing.pem'));
  const seedIdentity = 'TEST-ONLY-seed-2048-pkcs1.pem';
  await loadIdentity(keyPath(seedIdentity));

  // v2: good segments.
  const example = sealSegment({
    streamId: STREAM,
    sequence: 1,
    previousHash: GENESIS_HASH,
    createdAt: CREATED_AT,
    payload: encodeTransactions(EXAMPLE_TRANSACTIONS),
    recipients: [seedRecipient],
    signingKey,
  });
  const base = { format: 'v2-segment', identity: seedIdentity };
  write('v2', 'ok-example.seg', example.bytes, {
    ...base,
    outcome: 'ok',
    description: 'the worked example of docs/FORMAT.md: one INSERT, one recipient',
    name: segmentName(STREAM, 1),
    verifyKey: 'TEST-ONLY-signing.pub',
    hash: example.hash.toString('hex'),
    expected: EXAMPLE_TRANSACTIONS,
  });
  const second = sealSegment({
    streamId: STREAM,
    sequence: 2,
    previousHash: example.hash,
    createdAt: CREATED_AT,
    payload: encodeTransactions(SCHEMA_TRANSACTIONS),
    recipients: [recoveryRecipient, seedRecipient, otherRecipient],
    signingKey,
  });
  write('v2', 'ok-three-recipients-schema.seg', second.bytes, {
    ...base,
    outcome: 'ok',
    description: 'sequence 2 chained to ok-example.seg; schema, UPDATE with unchanged, TRUNCATE',
    previousHash: example.hash.toString('hex'),
    expected: SCHEMA_TRANSACTIONS,
  });

  // v2: header rules, each with a valid signature so that only the rule can refuse it.
  const header = decodeHeader(example.bytes, 'example');
  const payload = example.bytes.subarray(
    header.headerLength,
    header.headerLength + header.payloadLength,
  );
  const resign = (headerBytes: Buffer, key = signingKey) => {
    const unsigned = Buffer.concat([headerBytes, payload]);
    return Buffer.concat([unsigned, sign(null, unsigned, key.privateKey)]);
  };
  const headerBytes = example.bytes.subarray(0, header.headerLength);
  const badHeader = (name: string, bytes: Buffer, description: string) =>
    write('v2', name, bytes, { ...base, outcome: 'bad header', description });
  badHeader(
    'bad-header-magic.seg',
    resign(Buffer.concat([Buffer.from('CRSH'), headerBytes.subarray(4)])),
    'wrong magic',
  );
  const version3 = Buffer.from(headerBytes);
  version3[4] = 3;
  badHeader('bad-header-version.seg', resign(version3), 'format version 3');
  const compression9 = Buffer.from(headerBytes);
  compression9[5] = 9;
  badHeader('bad-header-compression.seg', resign(compression9), 'unknown compression id 9');
  const sequence0 = Buffer.from(headerBytes);
  sequence0.writeBigUInt64BE(0n, 24);
  badHeader('bad-header-sequence-zero.seg', resign(sequence0), 'sequence 0');
  const notGenesis = Buffer.from(headerBytes);
  notGenesis[63] = 1;
  badHeader(
    'bad-header-genesis.seg',
    resign(notGenesis),
    'sequence 1 with a non-zero previous hash',
  );
  badHeader(
    'bad-header-trailing-bytes.seg',
    Buffer.concat([example.bytes, Buffer.from([0])]),
    'one byte after the signature',
  );
  const twoRecipients = decodeHeader(second.bytes, 'second');
  const swapped = encodeHeader({
    ...twoRecipients,
    recipients: [...twoRecipients.recipients].reverse(),
  });
  const secondPayload = second.bytes.subarray(
    twoRecipients.headerLength,
    twoRecipients.headerLength + twoRecipients.payloadLength,
  );
  const unsortedUnsigned = Buffer.concat([swapped, secondPayload]);
  badHeader(
    'bad-header-recipient-order.seg',
    Buffer.concat([unsortedUnsigned, sign(null, unsortedUnsigned, signingKey.privateKey)]),
    'recipients not in ascending order (a second encoding of the same header)',
  );

  // v2: authentication failures.
  const failed = (name: string, bytes: Buffer, description: string, extra: object = {}) =>
    write('v2', name, bytes, { ...base, outcome: 'failed authentication', description, ...extra });
  failed(
    'failed-authentication-payload-bit.seg',
    flip(example.bytes, header.headerLength + 3),
    'one payload bit flipped',
  );
  failed(
    'failed-authentication-signature-bit.seg',
    flip(example.bytes, example.bytes.length - 1),
    'one signature bit flipped',
  );
  const laterTime = Buffer.from(headerBytes);
  laterTime.writeBigUInt64BE(BigInt(CREATED_AT.getTime() + 1), 64);
  failed(
    'failed-authentication-header-aad.seg',
    resign(laterTime),
    'creation time changed and re-signed by the true signer: the AEAD tag (header as AAD) fails',
  );
  const forgedHeader = Buffer.from(headerBytes);
  decodeHeader(example.bytes, 'x');
  otherSigningKey.publicKey
    .export({ type: 'spki', format: 'der' })
    .subarray(12)
    .copy(forgedHeader, 88);
  failed(
    'failed-authentication-forged-signer.seg',
    resign(forgedHeader, otherSigningKey),
    'consistent segment signed by another key, refused against the expected verify key',
    { verifyKey: 'TEST-ONLY-signing.pub' },
  );

  // v2: no matching key, truncation.
  const forOther = sealSegment({
    streamId: STREAM,
    sequence: 1,
    previousHash: GENESIS_HASH,
    createdAt: CREATED_AT,
    payload: encodeTransactions(EXAMPLE_TRANSACTIONS),
    recipients: [otherRecipient],
    signingKey,
  });
  write('v2', 'no-matching-key.seg', forOther.bytes, {
    ...base,
    outcome: 'no matching key',
    description: 'sealed for TEST-ONLY-other-recovery-2048 only',
  });
  const truncated = (name: string, bytes: Buffer, description: string) =>
    write('v2', name, bytes, { ...base, outcome: 'truncated', description });
  truncated(
    'truncated-payload.seg',
    example.bytes.subarray(0, header.headerLength + 10),
    'cut inside the payload',
  );
  truncated(
    'truncated-signature.seg',
    example.bytes.subarray(0, example.bytes.length - 1),
    'last byte missing',
  );
  truncated(
    'truncated-recipients.seg',
    example.bytes.subarray(0, 200),
    'cut inside the recipient entry',
  );
  truncated('truncated-empty.seg', Buffer.alloc(0), 'an empty object');

  // Checkpoints.
  const checkpoint = sealCheckpoint({
    streamId: STREAM,
    sequence: 1,
    headHash: example.hash,
    createdAt: CREATED_AT,
    signingKey,
  });
  const ckpt = { format: 'v2-checkpoint', verifyKey: 'TEST-ONLY-signing.pub' };
  write('v2', 'ok-checkpoint.ckpt', checkpoint, {
    ...ckpt,
    outcome: 'ok',
    description: 'checkpoint: stream reached sequence 1 with ok-example.seg as head',
    expected: {
      streamId: STREAM,
      sequence: 1,
      headHash: example.hash.toString('hex'),
      createdAt: CREATED_AT.toISOString(),
    },
  });
  write('v2', 'failed-authentication-checkpoint-bit.ckpt', flip(checkpoint, 30), {
    ...ckpt,
    outcome: 'failed authentication',
    description: 'sequence bit flipped',
  });
  write('v2', 'truncated-checkpoint.ckpt', checkpoint.subarray(0, 100), {
    ...ckpt,
    outcome: 'truncated',
    description: 'cut before the signature',
  });

  // v1: sealed by the Python implementation, then damaged.
  const python = (args: string[], input: string) =>
    execFileSync('/usr/bin/python3', [`${VECTORS}v1_interop.py`, ...args], {
      input,
      encoding: 'utf8',
    });
  const changes = [
    { table: 'nis2_audit_log', operation: 'INSERT', data: { id: 1, actor: 'zoë', note: null } },
    { table: 'nis2_audit_log', operation: 'DELETE', data: { id: 2 } },
  ];
  const v1 = { format: 'v1', identity: seedIdentity };
  const compact = python(
    ['seal', keyPath('TEST-ONLY-seed-2048.pub')],
    changes.map((c) => JSON.stringify(c)).join('\n'),
  );
  const indented = python(
    ['seal', keyPath('TEST-ONLY-seed-2048.pub'), '--indent'],
    JSON.stringify(changes[0]),
  );
  write('v1', 'ok-python-lines.jsonl', compact, {
    ...v1,
    outcome: 'ok',
    description: 'two envelopes, one per line, sealed by pyca/cryptography',
    expected: changes,
  });
  write('v1', 'ok-python-indented.json', indented, {
    ...v1,
    outcome: 'ok',
    description: 'one indented envelope, as the seed wrote files',
    expected: [changes[0]],
  });
  const envelope = JSON.parse(compact.split('\n')[0]!) as Record<string, string>;
  const v1Bad = (
    name: string,
    changed: Record<string, string>,
    outcome: string,
    description: string,
  ) =>
    write('v1', name, `${JSON.stringify({ ...envelope, ...changed })}\n`, {
      ...v1,
      outcome,
      description,
    });
  v1Bad(
    'bad-header-key-unpadded.json',
    { encrypted_key: envelope.encrypted_key!.replace(/=+$/, '') },
    'bad header',
    'encrypted_key without its base64 padding',
  );
  v1Bad(
    'bad-header-iv-16-bytes.json',
    { iv: Buffer.alloc(16, 7).toString('base64') },
    'bad header',
    'a 16-byte iv',
  );
  v1Bad(
    'bad-header-tag-12-bytes.json',
    { tag: Buffer.alloc(12, 7).toString('base64') },
    'bad header',
    'a 12-byte tag',
  );
  v1Bad('bad-header-version.json', { version: '2.0' }, 'bad header', 'version 2.0');
  const flippedData = flip(Buffer.from(envelope.encrypted_data!, 'base64'), 0).toString('base64');
  v1Bad(
    'failed-authentication-data-bit.json',
    { encrypted_data: flippedData },
    'failed authentication',
    'one ciphertext bit flipped',
  );
  const flippedTag = flip(Buffer.from(envelope.tag!, 'base64'), 15).toString('base64');
  v1Bad(
    'failed-authentication-tag-bit.json',
    { tag: flippedTag },
    'failed authentication',
    'one tag bit flipped',
  );
  const otherEnvelope = python(
    ['seal', keyPath('TEST-ONLY-other-recovery-2048.pub')],
    JSON.stringify(changes[0]),
  );
  write('v1', 'no-matching-key.json', otherEnvelope, {
    ...v1,
    outcome: 'no matching key',
    description: 'sealed for TEST-ONLY-other-recovery-2048 (same size: only the unwrap can tell)',
  });
  write('v1', 'truncated.json', compact.slice(0, 200), {
    ...v1,
    outcome: 'truncated',
    description: 'file cut after 200 characters',
  });

  // The example's hex dump for docs/FORMAT.md.
  process.stdout.write(`${example.bytes.toString('hex')}\n`);
  openSegment(example.bytes, { identities: [await loadIdentity(keyPath(seedIdentity))] });
  readFileSync(`${VECTORS}v2/ok-example.seg`);
  await textFieldsVectors(VECTORS);
}

await main();
