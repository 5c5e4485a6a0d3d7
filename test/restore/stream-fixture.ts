import { generateKeyPairSync } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Transaction } from '../../src/change/change.js';
import type { Identity, Recipient, SigningKey } from '../../src/keys/index.js';
import { generateSigningKey, identityFromKey, recipientFromKey } from '../../src/keys/index.js';
import {
  checkpointName,
  GENESIS_HASH,
  sealCheckpoint,
  sealSegment,
  segmentName,
} from '../../src/segment/index.js';
import type { ObjectStore } from '../../src/store/store.js';

/** A TEST-ONLY key set generated for one test file (never written outside its temp dir). */
export interface TestKeys {
  identity: Identity;
  recipient: Recipient;
  signingKey: SigningKey;
  /** PEM texts, for writing key files that the CLI loads. */
  pem: { identity: string; recipient: string; signing: string; verify: string };
}

/**
 * Generate TEST-ONLY keys: an RSA-2048 recovery pair and an Ed25519 signing pair.
 *
 * @example
 * ```ts
 * const keys = makeTestKeys();
 * ```
 */
export function makeTestKeys(): TestKeys {
  const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const signingKey = generateSigningKey();
  return {
    identity: identityFromKey(rsa.privateKey),
    recipient: recipientFromKey(rsa.publicKey),
    signingKey,
    pem: {
      identity: rsa.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
      recipient: rsa.publicKey.export({ type: 'spki', format: 'pem' }).toString(),
      signing: signingKey.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
      verify: signingKey.publicKey.export({ type: 'spki', format: 'pem' }).toString(),
    },
  };
}

/** Write the keys as files named TEST-ONLY-… into `dir`; returns their paths. */
export async function writeTestKeys(
  keys: TestKeys,
  dir: string,
): Promise<{ identity: string; recipient: string; signing: string; verify: string }> {
  const paths = {
    identity: join(dir, 'TEST-ONLY-recovery.pem'),
    recipient: join(dir, 'TEST-ONLY-recovery.pub'),
    signing: join(dir, 'TEST-ONLY-signing.pem'),
    verify: join(dir, 'TEST-ONLY-signing.pub'),
  };
  await writeFile(paths.identity, keys.pem.identity, { mode: 0o600 });
  await writeFile(paths.recipient, keys.pem.recipient);
  await writeFile(paths.signing, keys.pem.signing, { mode: 0o600 });
  await writeFile(paths.verify, keys.pem.verify);
  return paths;
}

export interface WrittenSegment {
  name: string;
  sequence: number;
  hash: Buffer;
  bytes: Buffer;
}

/**
 * Seal each group of transactions as one segment of a stream and put it in the store, with a
 * checkpoint after each segment (unless `checkpoints: false`).
 *
 * @example
 * ```ts
 * const written = await writeStream(store, { streamId, keys, segments: [[tx1], [tx2]] });
 * ```
 */
export async function writeStream(
  store: ObjectStore,
  options: {
    streamId: string;
    keys: TestKeys;
    segments: Transaction[][];
    checkpoints?: boolean;
    recipients?: Recipient[];
    signingKey?: SigningKey;
    firstSequence?: number;
    previousHash?: Buffer;
  },
): Promise<WrittenSegment[]> {
  const written: WrittenSegment[] = [];
  let previousHash = options.previousHash ?? GENESIS_HASH;
  let sequence = options.firstSequence ?? 1;
  const signingKey = options.signingKey ?? options.keys.signingKey;
  for (const transactions of options.segments) {
    const sealed = sealSegment({
      streamId: options.streamId,
      sequence,
      previousHash,
      transactions,
      recipients: options.recipients ?? [options.keys.recipient],
      signingKey,
    });
    const name = segmentName(options.streamId, sequence);
    await store.put(name, sealed.bytes);
    if (options.checkpoints !== false) {
      const checkpoint = sealCheckpoint({
        streamId: options.streamId,
        sequence,
        headHash: sealed.hash,
        signingKey,
      });
      await store.put(checkpointName(options.streamId, sequence), checkpoint);
    }
    written.push({ name, sequence, hash: sealed.hash, bytes: sealed.bytes });
    previousHash = sealed.hash;
    sequence++;
  }
  return written;
}

/**
 * A transaction at a counter position with a commit time `seconds` after a fixed epoch.
 *
 * @example
 * ```ts
 * tx(1, [insert('items', { id: '1' })]);
 * ```
 */
export function tx(
  position: number,
  records: Transaction['records'],
  extra: Partial<Transaction> = {},
): Transaction {
  const commit = new Date(Date.UTC(2026, 0, 1, 0, 0, position));
  return {
    xid: String(1000 + position),
    commitTime: commit.toISOString().replace('Z', '000Z'),
    position: String(position),
    records,
    ...extra,
  };
}

/** The commit time `tx(position)` gives. */
export function commitTimeOf(position: number): string {
  return new Date(Date.UTC(2026, 0, 1, 0, 0, position)).toISOString();
}
