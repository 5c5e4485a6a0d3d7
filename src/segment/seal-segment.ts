import { createCipheriv, type KeyObject, publicEncrypt, randomBytes, sign } from 'node:crypto';
import type { Transaction } from '../change/change.js';
import type { Recipient, SigningKey } from '../keys/key-types.js';
import { rawEd25519PublicKey } from '../keys/signing-key.js';
import { compress } from './compression.js';
import { STREAM_ID_PATTERN } from './object-names.js';
import { type EncodedPayload, encodePayload } from './payload.js';
import {
  type CompressionName,
  DATA_KEY_BYTES,
  GENESIS_HASH,
  HASH_BYTES,
  IV_BYTES,
  MAX_RECIPIENTS,
  MAX_SEGMENT_PLAINTEXT_BYTES,
  RecipientTypeId,
  TAG_BYTES,
} from './segment-constants.js';
import { segmentHash } from './segment-hash.js';
import {
  decodeHeader,
  encodeHeader,
  type HeaderRecipient,
  type SegmentHeader,
} from './segment-header.js';

/** What {@link sealSegment} needs. */
export interface SealSegmentOptions {
  streamId: string;
  sequence: number;
  /** {@link segmentHash} of segment `sequence - 1`, or GENESIS_HASH for sequence 1. */
  previousHash: Buffer;
  /** Seal time recorded in the header; now by default. Millisecond precision. */
  createdAt?: Date;
  /** The transactions to seal; or give `payload` instead. */
  transactions?: readonly Transaction[];
  /**
   * The transactions already serialised (for sealing in a worker thread without copying the
   * records twice): by {@link encodePayload}, or a Buffer of JSON lines by `encodeTransactions`.
   * Exactly one of `transactions` and `payload`.
   */
  payload?: EncodedPayload | Buffer;
  recipients: readonly Recipient[];
  signingKey: SigningKey;
  /** Payload compression; brotli by default. */
  compression?: CompressionName;
}

/** A sealed segment. */
export interface SealedSegment {
  bytes: Buffer;
  /** {@link segmentHash} of `bytes`: what the next segment's previousHash holds. */
  hash: Buffer;
  header: SegmentHeader;
}

/**
 * Seal transactions into one v2 segment: serialise, compress, encrypt under a fresh data key
 * wrapped for every recipient, authenticate the header as associated data, sign everything
 * with Ed25519. Throws TypeError on arguments outside the contract (a programming error).
 *
 * @example
 * ```ts
 * const sealed = sealSegment({
 *   streamId, sequence: 1, previousHash: GENESIS_HASH, transactions, recipients, signingKey,
 * });
 * await store.put(segmentName(streamId, 1), sealed.bytes);
 * ```
 */
export function sealSegment(options: SealSegmentOptions): SealedSegment {
  // Guard: the stream position, the recipients and the payload size.
  const { streamId, sequence, previousHash, recipients, signingKey } = options;
  const createdAt = options.createdAt ?? new Date();
  if (!STREAM_ID_PATTERN.test(streamId)) throw new TypeError(`invalid stream id "${streamId}"`);
  if (!Number.isSafeInteger(sequence) || sequence < 1) {
    throw new TypeError(`invalid sequence ${sequence}: expected an integer from 1`);
  }
  if (previousHash.length !== HASH_BYTES) throw new TypeError('previousHash must be 32 bytes');
  if ((sequence === 1) !== previousHash.equals(GENESIS_HASH)) {
    throw new TypeError('previousHash must be GENESIS_HASH exactly when sequence is 1');
  }
  if (recipients.length < 1 || recipients.length > MAX_RECIPIENTS) {
    throw new TypeError(`a segment needs 1 to ${MAX_RECIPIENTS} recipients`);
  }
  if (Number.isNaN(createdAt.getTime()) || createdAt.getTime() < 0) {
    throw new TypeError('createdAt must be a valid time after 1970');
  }
  if ((options.transactions === undefined) === (options.payload === undefined)) {
    throw new TypeError('give exactly one of transactions and payload');
  }
  const encoded = payloadOf(options);
  if (options.transactions?.length === 0 || encoded.bytes.length === 0) {
    throw new TypeError('a segment holds one transaction or more');
  }
  const payload = encoded.bytes;
  if (payload.length > MAX_SEGMENT_PLAINTEXT_BYTES) {
    throw new RangeError(
      `payload of ${payload.length} bytes exceeds MAX_SEGMENT_PLAINTEXT_BYTES; cut the batch`,
    );
  }

  // A fresh data key per segment, wrapped once per distinct recipient, in canonical order.
  const dataKey = randomBytes(DATA_KEY_BYTES);
  const entries = new Map<string, HeaderRecipient>();
  for (const recipient of recipients) {
    const wrappedKey = publicEncrypt({ key: recipient.publicKey, oaepHash: 'sha256' }, dataKey);
    const typeId = RecipientTypeId[recipient.type];
    entries.set(recipient.keyId, {
      type: recipient.type,
      typeId,
      keyId: recipient.keyId,
      wrappedKey,
    });
  }
  const sortedRecipients = [...entries.values()].sort((a, b) =>
    a.typeId !== b.typeId ? a.typeId - b.typeId : a.keyId < b.keyId ? -1 : 1,
  );

  // Compress, then encrypt with the header as associated data.
  const compression = options.compression ?? 'brotli';
  const packed = compress(compression, payload);
  const iv = randomBytes(IV_BYTES);
  const headerBytes = encodeHeader({
    compression,
    payloadEncoding: encoded.encoding,
    streamId,
    sequence,
    previousHash,
    createdAt,
    iv,
    payloadLength: packed.length + TAG_BYTES,
    signerPublicKey: rawSignerKey(signingKey.publicKey),
    recipients: sortedRecipients,
  });
  const cipher = createCipheriv('aes-256-gcm', dataKey, iv, { authTagLength: TAG_BYTES });
  cipher.setAAD(headerBytes);
  const ciphertext = cipher.update(packed);
  cipher.final();
  const tag = cipher.getAuthTag();
  dataKey.fill(0);

  // Sign header and payload; the signature closes the segment.
  const unsigned = Buffer.concat([headerBytes, ciphertext, tag]);
  const signature = sign(null, unsigned, signingKey.privateKey);
  const bytes = Buffer.concat([unsigned, signature]);
  return { bytes, hash: segmentHash(bytes), header: decodeHeader(bytes, 'new segment') };
}

function payloadOf(options: SealSegmentOptions): EncodedPayload {
  const given = options.payload;
  if (given === undefined) return encodePayload(options.transactions!);
  return Buffer.isBuffer(given) ? { encoding: 'json-lines', bytes: given } : given;
}

/** Raw signer public keys by key object, so that a key is exported once, not on every seal. */
const RAW_SIGNER_KEYS = new WeakMap<KeyObject, Buffer>();

function rawSignerKey(publicKey: KeyObject): Buffer {
  let raw = RAW_SIGNER_KEYS.get(publicKey);
  if (raw === undefined) {
    raw = rawEd25519PublicKey(publicKey);
    RAW_SIGNER_KEYS.set(publicKey, raw);
  }
  return raw;
}
