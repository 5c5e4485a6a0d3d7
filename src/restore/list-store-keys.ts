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
  /**
   * Key size in bits, read without any private key: for an RSA-OAEP recipient the wrapped key
   * length (which equals the modulus length) × 8; 256 for an Ed25519 signer. Undefined for a
   * recipient type this version does not know. When objects disagree (they cannot for one
   * key id unless tampered with), this is the first size seen and `otherBits` the rest.
   */
  bits?: number;
  /** Further sizes seen for the same key id, when objects disagree. */
  otherBits?: number[];
  /** Per stream, the sequence ranges of the segments that use the key. */
  segments: Array<{ streamId: string; ranges: Array<[number, number]> }>;
  /** v1 envelopes naming the key (their `key_id`). */
  envelopes: number;
}

/**
 * List the keys a store uses, from segment headers and envelope fields only (nothing is
 * decrypted): recipient key ids with their type and size (RSA: wrapped key length × 8), signer
 * key ids (Ed25519, 256 bits), and which segments use each.
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
  const use = (
    keyId: string,
    role: StoreKey['role'],
    type: string,
    bits: number | undefined,
  ): StoreKey => {
    const id = `${role}:${type}:${keyId}`;
    let key = keys.get(id);
    if (key === undefined) {
      key = { keyId, role, type, bits, segments: [], envelopes: 0 };
      keys.set(id, key);
    }
    noteBits(key, bits);
    return key;
  };

  // v2: every segment header names its recipients and signer.
  for (const streamId of await listStreams(store)) {
    const names = store.list(`streams/${streamId}/segments/`);
    const read = async (name: string) => ({ name, bytes: await store.get(name) });
    // NOTE: headers are read with their own recorded signer key; keys list proves no
    // authenticity (verify does), it only reports what the objects say.
    for await (const { name, bytes } of prefetch(names, read, 4)) {
      try {
        if (bytes === undefined) throw new Error('gone');
        const buffer = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
        const header = readSegmentHeader(buffer, {});
        const signer = use(header.signerKeyId, 'signer', 'ed25519', ED25519_BITS);
        addSequence(signer, streamId, header.sequence);
        for (const recipient of header.recipients) {
          const bits = recipientBits(recipient.type, recipient.wrappedKey.length);
          const key = use(recipient.keyId, 'recipient', recipient.type, bits);
          addSequence(key, streamId, header.sequence);
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
      const wrapped = envelope.binary().wrappedKey.length;
      use(envelope.key_id, 'recipient', RSA_OAEP, recipientBits(RSA_OAEP, wrapped)).envelopes++;
    } catch {
      unreadable.push(name);
    }
  }
  return { keys: [...keys.values()], unreadable };
}

const RSA_OAEP = 'rsa-oaep-sha256';
/** An Ed25519 key is 32 bytes (docs/FORMAT.md). */
const ED25519_BITS = 256;

/** RSA-OAEP ciphertext is exactly as long as the modulus: its length gives the key size. */
function recipientBits(type: string, wrappedKeyBytes: number): number | undefined {
  return type === RSA_OAEP && wrappedKeyBytes > 0 ? wrappedKeyBytes * 8 : undefined;
}

function noteBits(key: StoreKey, bits: number | undefined): void {
  if (bits === undefined || bits === key.bits || key.otherBits?.includes(bits)) return;
  if (key.bits === undefined) key.bits = bits;
  else key.otherBits = [...(key.otherBits ?? []), bits].sort((a, b) => a - b);
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
