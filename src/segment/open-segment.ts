import { createDecipheriv, privateDecrypt, verify } from 'node:crypto';
import type { Transaction } from '../change/change.js';
import { AuthenticationError, IntegrityError } from '../errors.js';
import type { Identity, VerifyKey } from '../keys/key-types.js';
import { verifyKeyFromRaw } from '../keys/signing-key.js';
import { decompress } from './compression.js';
import { parseObjectName } from './object-names.js';
import { decodePayload } from './payload.js';
import {
  DATA_KEY_BYTES,
  MAX_SEGMENT_PLAINTEXT_BYTES,
  SIGNATURE_BYTES,
  TAG_BYTES,
} from './segment-constants.js';
import { decodeHeader, type SegmentHeader } from './segment-header.js';

/** Options of {@link readSegmentHeader}. */
export interface ReadSegmentOptions {
  /** The object's name, used in errors and checked against the header when it is a segment name. */
  name?: string;
  /** The replicator's key; without it the signer key recorded in the header is used. */
  verifyKey?: VerifyKey;
}

/** Options of {@link openSegment}. */
export interface OpenSegmentOptions extends ReadSegmentOptions {
  identities: readonly Identity[];
}

const FAILED = 'failed authentication: wrong key, corrupted or tampered with';

/**
 * Parse a segment's header, check its structure and verify its Ed25519 signature: against
 * `verifyKey` when given (a segment signed by another key is refused), else against the signer
 * key recorded in the header (which proves integrity, not origin). When `name` is a segment
 * name its stream id and sequence must match the header. No private key needed.
 *
 * @example
 * ```ts
 * const header = readSegmentHeader(bytes, { name, verifyKey });
 * ```
 */
export function readSegmentHeader(bytes: Buffer, options: ReadSegmentOptions = {}): SegmentHeader {
  // Structure first: the header says where the signature is.
  const name = options.name ?? 'segment';
  const header = decodeHeader(bytes, name);

  // The signature covers every byte before it.
  if (options.verifyKey !== undefined && options.verifyKey.keyId !== header.signerKeyId) {
    throw new AuthenticationError(
      `verify segment "${name}": signed by key ${header.signerKeyId}, not by the verify key ${options.verifyKey.keyId}`,
      { hint: 'the segment was not written by the expected replicator; do not trust it' },
    );
  }
  let verifyKey = options.verifyKey;
  if (verifyKey === undefined) {
    try {
      verifyKey = verifyKeyFromRaw(header.signerPublicKey);
    } catch {
      throw new AuthenticationError(`verify segment "${name}": ${FAILED}`);
    }
  }
  const signedLength = header.totalLength - SIGNATURE_BYTES;
  const signature = bytes.subarray(signedLength);
  if (!verify(null, bytes.subarray(0, signedLength), verifyKey.publicKey, signature)) {
    throw new AuthenticationError(`verify segment "${name}": ${FAILED}`, {
      hint: 'fetch the object again; if it persists, the store holds a damaged or forged object',
    });
  }

  // The name, when it is one, must agree with the authenticated header.
  const parsed = parseObjectName(name);
  if (parsed !== undefined) {
    if (parsed.kind !== 'segment') {
      throw new IntegrityError(`read segment "${name}": the name is not a segment name`);
    }
    if (parsed.streamId !== header.streamId || parsed.sequence !== header.sequence) {
      throw new IntegrityError(
        `read segment "${name}": wrong stream or sequence: the header says stream ${header.streamId} sequence ${header.sequence}`,
        { hint: 'a segment was copied or moved to another name; do not trust the name' },
      );
    }
  }
  return header;
}

/**
 * Verify, decrypt and decode a segment with one of the given identities.
 *
 * @example
 * ```ts
 * const { header, transactions } = openSegment(bytes, { identities: [identity], verifyKey, name });
 * ```
 */
export function openSegment(
  bytes: Buffer,
  options: OpenSegmentOptions,
): { header: SegmentHeader; transactions: Transaction[] } {
  const { header, payload } = openSegmentPayload(bytes, options);
  const name = options.name ?? 'segment';
  try {
    return { header, transactions: decodePayload(payload, header.payloadEncoding) };
  } catch (error) {
    throw badPayload(name, error);
  }
}

/**
 * Verify, decrypt and decompress a segment as {@link openSegment} does, without decoding its
 * transactions: for a reader that decodes them one at a time ({@link readTextFields}).
 *
 * @example
 * ```ts
 * const { header, payload } = openSegmentPayload(bytes, { identities, verifyKey, name });
 * ```
 */
export function openSegmentPayload(
  bytes: Buffer,
  options: OpenSegmentOptions,
): { header: SegmentHeader; payload: Buffer } {
  // Signature and structure first: nothing is decrypted from an unauthenticated segment.
  const name = options.name ?? 'segment';
  const header = readSegmentHeader(bytes, options);

  // Find an identity the data key was wrapped for.
  let dataKey: Buffer | undefined;
  for (const recipient of header.recipients) {
    if (recipient.type !== 'rsa-oaep-sha256') continue;
    const identity = options.identities.find((candidate) => candidate.keyId === recipient.keyId);
    if (identity === undefined) continue;
    if (recipient.wrappedKey.length !== Math.ceil(identity.bits / 8)) {
      throw new AuthenticationError(`open segment "${name}": ${FAILED}`);
    }
    try {
      dataKey = privateDecrypt(
        { key: identity.privateKey, oaepHash: 'sha256' },
        recipient.wrappedKey,
      );
    } catch {
      throw new AuthenticationError(`open segment "${name}": ${FAILED}`);
    }
    break;
  }
  if (dataKey === undefined) {
    const wanted = header.recipients.map((r) => r.keyId).join(', ');
    throw new AuthenticationError(
      `open segment "${name}": no matching key: sealed for key ids ${wanted}`,
      { hint: 'pass the recovery key (--identity) whose public half the replicator used' },
    );
  }
  if (dataKey.length !== DATA_KEY_BYTES) {
    throw new AuthenticationError(`open segment "${name}": ${FAILED}`);
  }

  // Decrypt with the header as associated data.
  const headerBytes = bytes.subarray(0, header.headerLength);
  const payloadEnd = header.headerLength + header.payloadLength;
  const ciphertext = bytes.subarray(header.headerLength, payloadEnd - TAG_BYTES);
  const tag = bytes.subarray(payloadEnd - TAG_BYTES, payloadEnd);
  const decipher = createDecipheriv('aes-256-gcm', dataKey, header.iv, {
    authTagLength: TAG_BYTES,
  });
  decipher.setAAD(headerBytes);
  decipher.setAuthTag(tag);
  let packed: Buffer;
  try {
    packed = Buffer.concat([decipher.update(ciphertext), decipher.final()]);
  } catch {
    throw new AuthenticationError(`open segment "${name}": ${FAILED}`);
  } finally {
    dataKey.fill(0);
  }

  // Decompress under the size cap.
  try {
    return { header, payload: decompress(header.compression, packed, MAX_SEGMENT_PLAINTEXT_BYTES) };
  } catch (error) {
    throw badPayload(name, error);
  }
}

/**
 * The error for a payload that does not decompress or decode (its message from the decoder
 * says where, without row data).
 *
 * @example
 * ```ts
 * throw badPayload(name, error);
 * ```
 */
export function badPayload(name: string, error: unknown): IntegrityError {
  return new IntegrityError(`open segment "${name}": bad payload: ${(error as Error).message}`);
}
