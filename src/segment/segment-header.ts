import { IntegrityError } from '../errors.js';
import { KEY_ID_BYTES } from '../keys/key-id.js';
import { ed25519KeyIdOfRaw } from '../keys/signing-key.js';
import {
  CIPHER_AES_256_GCM,
  Compression,
  type CompressionName,
  FIXED_HEADER_BYTES,
  FORMAT_VERSION,
  GENESIS_HASH,
  HASH_BYTES,
  IV_BYTES,
  MAX_RECIPIENTS,
  MAX_SEGMENT_PAYLOAD_BYTES,
  MAX_WRAPPED_KEY_BYTES,
  MIN_WRAPPED_KEY_BYTES,
  PayloadEncoding,
  type PayloadEncodingName,
  RecipientTypeId,
  SEGMENT_MAGIC,
  SIGNATURE_BYTES,
  STREAM_ID_BYTES,
  TAG_BYTES,
} from './segment-constants.js';

/** One recipient entry of a header: who can unwrap the data key. */
export interface HeaderRecipient {
  /** `rsa-oaep-sha256`, or `unknown-N` for a type id this version does not know. */
  type: string;
  typeId: number;
  keyId: string;
  /** The wrapped data key (RSA-OAEP ciphertext for `rsa-oaep-sha256`). */
  wrappedKey: Buffer;
}

/**
 * Everything the header of a v2 segment says, as the store (and anyone) can read it.
 *
 * @example
 * ```ts
 * const header: SegmentHeader = readSegmentHeader(bytes);
 * header.sequence; // => 42
 * ```
 */
export interface SegmentHeader {
  version: number;
  compression: CompressionName;
  /** How the payload is serialised (docs/FORMAT.md 2.5). */
  payloadEncoding: PayloadEncodingName;
  streamId: string;
  sequence: number;
  previousHash: Buffer;
  createdAt: Date;
  iv: Buffer;
  /** Length of the encrypted payload, GCM tag included. */
  payloadLength: number;
  signerPublicKey: Buffer;
  signerKeyId: string;
  recipients: HeaderRecipient[];
  /** Length of the encoded header (the AEAD associated data). */
  headerLength: number;
  /** Length of the whole segment: header, payload and signature. */
  totalLength: number;
}

/** Header fields a writer chooses; the rest is derived. */
export type HeaderFields = Omit<
  SegmentHeader,
  'version' | 'signerKeyId' | 'headerLength' | 'totalLength'
>;

/**
 * Encode a header in its one canonical form (docs/FORMAT.md, "Segment layout"). Recipients must
 * already be sorted by type id then key id.
 *
 * @example
 * ```ts
 * const headerBytes = encodeHeader(fields);
 * ```
 */
export function encodeHeader(fields: HeaderFields): Buffer {
  // Fixed part.
  const fixed = Buffer.alloc(FIXED_HEADER_BYTES);
  SEGMENT_MAGIC.copy(fixed, 0);
  fixed.writeUInt8(FORMAT_VERSION, 4);
  fixed.writeUInt8(Compression[fields.compression], 5);
  fixed.writeUInt8(PayloadEncoding[fields.payloadEncoding], 6);
  fixed.writeUInt8(CIPHER_AES_256_GCM, 7);
  Buffer.from(fields.streamId, 'hex').copy(fixed, 8);
  fixed.writeBigUInt64BE(BigInt(fields.sequence), 24);
  fields.previousHash.copy(fixed, 32);
  fixed.writeBigUInt64BE(BigInt(fields.createdAt.getTime()), 64);
  fields.iv.copy(fixed, 72);
  fixed.writeUInt32BE(fields.payloadLength, 84);
  fields.signerPublicKey.copy(fixed, 88);
  fixed.writeUInt8(fields.recipients.length, 120);

  // Recipient entries: type, key id, length-prefixed body.
  const parts: Buffer[] = [fixed];
  for (const recipient of fields.recipients) {
    const entry = Buffer.alloc(1 + KEY_ID_BYTES + 2);
    entry.writeUInt8(recipient.typeId, 0);
    Buffer.from(recipient.keyId, 'hex').copy(entry, 1);
    entry.writeUInt16BE(recipient.wrappedKey.length, 1 + KEY_ID_BYTES);
    parts.push(entry, recipient.wrappedKey);
  }
  return Buffer.concat(parts);
}

/**
 * Parse and check the header of a segment without verifying anything cryptographic. Throws
 * IntegrityError (`bad header: …` or `truncated: …`) naming `name`.
 *
 * @example
 * ```ts
 * const header = decodeHeader(bytes, 'streams/…/00000000000000000001.seg');
 * ```
 */
export function decodeHeader(bytes: Buffer, name: string): SegmentHeader {
  const bad = (cause: string) => new IntegrityError(`read segment "${name}": bad header: ${cause}`);
  const truncated = (cause: string) =>
    new IntegrityError(`read segment "${name}": truncated: ${cause}`, {
      hint: 'the object is incomplete; fetch it again or restore up to the segment before it',
    });

  // Guard: magic, version and algorithm ids.
  if (bytes.length < 5) throw truncated(`${bytes.length} bytes`);
  if (!bytes.subarray(0, 4).equals(SEGMENT_MAGIC)) throw bad('not a v2 segment (wrong magic)');
  const version = bytes.readUInt8(4);
  if (version !== FORMAT_VERSION) throw bad(`unsupported format version ${version}`);
  if (bytes.length < FIXED_HEADER_BYTES) throw truncated(`${bytes.length} bytes`);
  const compressionId = bytes.readUInt8(5);
  const compression = (Object.keys(Compression) as CompressionName[]).find(
    (key) => Compression[key] === compressionId,
  );
  if (compression === undefined) throw bad(`unknown compression id ${compressionId}`);
  const encodingId = bytes.readUInt8(6);
  const payloadEncoding = (Object.keys(PayloadEncoding) as PayloadEncodingName[]).find(
    (key) => PayloadEncoding[key] === encodingId,
  );
  if (payloadEncoding === undefined) throw bad(`unknown payload encoding id ${encodingId}`);
  if (bytes.readUInt8(7) !== CIPHER_AES_256_GCM) throw bad(`unknown cipher`);

  // Stream position: sequence from 1, genesis hash exactly for sequence 1.
  const streamId = bytes.toString('hex', 8, 8 + STREAM_ID_BYTES);
  const sequenceBig = bytes.readBigUInt64BE(24);
  if (sequenceBig < 1n || sequenceBig > BigInt(Number.MAX_SAFE_INTEGER)) {
    throw bad(`sequence ${sequenceBig} outside 1 to 2^53 - 1`);
  }
  const sequence = Number(sequenceBig);
  const previousHash = Buffer.from(bytes.subarray(32, 32 + HASH_BYTES));
  if ((sequence === 1) !== previousHash.equals(GENESIS_HASH)) {
    throw bad('the previous hash is the genesis hash exactly when the sequence is 1');
  }
  const createdAtMs = bytes.readBigUInt64BE(64);
  if (createdAtMs > 8_640_000_000_000_000n) throw bad('creation time out of range');
  const createdAt = new Date(Number(createdAtMs));

  // Payload length and signer.
  const iv = Buffer.from(bytes.subarray(72, 72 + IV_BYTES));
  const payloadLength = bytes.readUInt32BE(84);
  if (payloadLength < TAG_BYTES || payloadLength > MAX_SEGMENT_PAYLOAD_BYTES) {
    throw bad(`payload length ${payloadLength} out of range`);
  }
  const signerPublicKey = Buffer.from(bytes.subarray(88, 120));
  const signerKeyId = ed25519KeyIdOfRaw(signerPublicKey);

  // Recipients: 1..255 entries, strictly ascending by (type id, key id), known types checked.
  const count = bytes.readUInt8(120);
  if (count < 1 || count > MAX_RECIPIENTS) throw bad('no recipients');
  const recipients: HeaderRecipient[] = [];
  let offset = FIXED_HEADER_BYTES;
  let previousSortKey: Buffer | undefined;
  for (let index = 0; index < count; index++) {
    if (bytes.length < offset + 1 + KEY_ID_BYTES + 2) throw truncated('inside the recipients');
    const sortKey = bytes.subarray(offset, offset + 1 + KEY_ID_BYTES);
    if (previousSortKey !== undefined && Buffer.compare(previousSortKey, sortKey) >= 0) {
      throw bad('recipients are not in strictly ascending order of type and key id');
    }
    previousSortKey = sortKey;
    const typeId = bytes.readUInt8(offset);
    const keyId = bytes.toString('hex', offset + 1, offset + 1 + KEY_ID_BYTES);
    const bodyLength = bytes.readUInt16BE(offset + 1 + KEY_ID_BYTES);
    offset += 1 + KEY_ID_BYTES + 2;
    if (bytes.length < offset + bodyLength) throw truncated('inside the recipients');
    const known = typeId === RecipientTypeId['rsa-oaep-sha256'];
    if (known && (bodyLength < MIN_WRAPPED_KEY_BYTES || bodyLength > MAX_WRAPPED_KEY_BYTES)) {
      throw bad(`wrapped key of ${bodyLength} bytes for an RSA recipient`);
    }
    if (bodyLength === 0) throw bad('empty recipient entry');
    const wrappedKey = Buffer.from(bytes.subarray(offset, offset + bodyLength));
    offset += bodyLength;
    recipients.push({
      type: known ? 'rsa-oaep-sha256' : `unknown-${typeId}`,
      typeId,
      keyId,
      wrappedKey,
    });
  }

  // Total length: the header says exactly how long the segment is.
  const totalLength = offset + payloadLength + SIGNATURE_BYTES;
  if (bytes.length < totalLength) {
    throw truncated(`${bytes.length} of ${totalLength} bytes`);
  }
  if (bytes.length > totalLength) {
    throw bad(`${bytes.length - totalLength} bytes after the signature`);
  }
  return {
    version,
    compression,
    payloadEncoding,
    streamId,
    sequence,
    previousHash,
    createdAt,
    iv,
    payloadLength,
    signerPublicKey,
    signerKeyId,
    recipients,
    headerLength: offset,
    totalLength,
  };
}
