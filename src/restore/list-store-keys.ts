import { EncryptedEnvelope } from '../envelope/index.js';
import { readSegmentHeader } from '../segment/index.js';
import type { ObjectStore } from '../store/store.js';
import { listStreams } from './list-streams.js';
import { prefetch } from './prefetch.js';

/** One key a store's objects name, and where it is used. */
export interface StoreKey {
  keyId: string;
  /** `recipient` (wraps data keys) or `signer` (signs segments). */
  role: 'recipient' | 'signer';
  /** `rsa-oaep-sha256` for recipients, `ed25519` for signers. */
  type: string;
  /** Per stream, the sequence ranges of the segments that use the key. */
  segments: Array<{ streamId: string; ranges: Array<[number, number]> }>;
  /** v1 envelopes naming the key (their `key_id`). */
  envelopes: number;
}

/**
 * List the keys a store uses, from segment headers and envelope fields only (nothing is
 * decrypted): recipient key ids with their type, signer key ids, and which segments use each.
 * Segments whose header does not parse or verify are counted in `unreadable`.
 *
 * @example
 * ```ts
 * const { keys } = await listStoreKeys(store);
 * keys.map((k) => `${k.role} ${k.keyId}`);
 * ```
 */
export async function listStoreKeys(
  store: ObjectStore,
): Promise<{ keys: StoreKey[]; unreadable: string[] }> {
  const keys = new Map<string, StoreKey>();
  const unreadable: string[] = [];
  const use = (keyId: string, role: StoreKey['role'], type: string): StoreKey => {
    const id = `${role}:${type}:${keyId}`;
    let key = keys.get(id);
    if (key === undefined) {
      key = { keyId, role, type, segments: [], envelopes: 0 };
      keys.set(id, key);
    }
    return key;
  };

  // v2: every segment header names its recipients and signer.
  for (const streamId of await listStreams(store)) {
    const names = store.list(`streams/${streamId}/segments/`);
    const read = async (name: string) => ({ name, bytes: await store.get(name) });
    for await (const { name, bytes } of prefetch(names, read, 4)) {
      try {
        if (bytes === undefined) throw new Error('gone');
        const buffer = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
        const header = readSegmentHeader(buffer, {});
        addSequence(use(header.signerKeyId, 'signer', 'ed25519'), streamId, header.sequence);
        for (const recipient of header.recipients) {
          addSequence(use(recipient.keyId, 'recipient', recipient.type), streamId, header.sequence);
        }
      } catch {
        unreadable.push(name);
      }
    }
  }

  // v1: each envelope names the key id it was encrypted for.
  for await (const name of store.list('envelopes/')) {
    try {
      const bytes = await store.get(name);
      if (bytes === undefined) throw new Error('gone');
      const envelope = EncryptedEnvelope.fromJson(Buffer.from(bytes).toString('utf8'));
      use(envelope.key_id, 'recipient', 'rsa-oaep-sha256').envelopes++;
    } catch {
      unreadable.push(name);
    }
  }
  return { keys: [...keys.values()], unreadable };
}

function addSequence(key: StoreKey, streamId: string, sequence: number): void {
  let entry = key.segments.find((s) => s.streamId === streamId);
  if (entry === undefined) {
    entry = { streamId, ranges: [] };
    key.segments.push(entry);
  }
  const last = entry.ranges.at(-1);
  if (last !== undefined && last[1] + 1 === sequence) last[1] = sequence;
  else entry.ranges.push([sequence, sequence]);
}
