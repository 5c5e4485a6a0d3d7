import { sign, verify } from 'node:crypto';
import { AuthenticationError, IntegrityError } from '../errors.js';
import type { SigningKey, VerifyKey } from '../keys/key-types.js';
import { rawEd25519PublicKey, verifyKeyFromRaw } from '../keys/signing-key.js';
import { parseObjectName, STREAM_ID_PATTERN } from './object-names.js';
import {
  CHECKPOINT_BYTES,
  CHECKPOINT_MAGIC,
  FORMAT_VERSION,
  HASH_BYTES,
  SIGNATURE_BYTES,
} from './segment-constants.js';

/**
 * A signed statement by the replicator: "stream S reached sequence N with head hash H at T".
 *
 * @example
 * ```ts
 * const checkpoint: Checkpoint = openCheckpoint(bytes, { verifyKey });
 * ```
 */
export interface Checkpoint {
  streamId: string;
  /** The last sequence number stored when the checkpoint was written. */
  sequence: number;
  /** {@link segmentHash} of that segment. */
  headHash: Buffer;
  createdAt: Date;
  signerPublicKey: Buffer;
  signerKeyId: string;
}

/**
 * Seal a checkpoint (168 bytes, docs/FORMAT.md "Checkpoint layout").
 *
 * @example
 * ```ts
 * const bytes = sealCheckpoint({ streamId, sequence: 42, headHash: sealed.hash, signingKey });
 * await store.put(checkpointName(streamId, 42), bytes);
 * ```
 */
export function sealCheckpoint(options: {
  streamId: string;
  sequence: number;
  headHash: Buffer;
  createdAt?: Date;
  signingKey: SigningKey;
}): Buffer {
  // Guard: the same rules a reader applies.
  const createdAt = options.createdAt ?? new Date();
  if (!STREAM_ID_PATTERN.test(options.streamId)) {
    throw new TypeError(`invalid stream id "${options.streamId}"`);
  }
  if (!Number.isSafeInteger(options.sequence) || options.sequence < 1) {
    throw new TypeError(`invalid sequence ${options.sequence}: expected an integer from 1`);
  }
  if (options.headHash.length !== HASH_BYTES) throw new TypeError('headHash must be 32 bytes');
  if (Number.isNaN(createdAt.getTime()) || createdAt.getTime() < 0) {
    throw new TypeError('createdAt must be a valid time after 1970');
  }

  // Fixed layout, then the signature over everything before it.
  const body = Buffer.alloc(CHECKPOINT_BYTES - SIGNATURE_BYTES);
  CHECKPOINT_MAGIC.copy(body, 0);
  body.writeUInt8(FORMAT_VERSION, 4);
  Buffer.from(options.streamId, 'hex').copy(body, 8);
  body.writeBigUInt64BE(BigInt(options.sequence), 24);
  options.headHash.copy(body, 32);
  body.writeBigUInt64BE(BigInt(createdAt.getTime()), 64);
  rawEd25519PublicKey(options.signingKey.publicKey).copy(body, 72);
  return Buffer.concat([body, sign(null, body, options.signingKey.privateKey)]);
}

/**
 * Parse and verify a checkpoint: against `verifyKey` when given, else against the signer key it
 * records. When `name` is a checkpoint name its stream and sequence must match.
 *
 * @example
 * ```ts
 * const { sequence, headHash } = openCheckpoint(bytes, { verifyKey, name });
 * ```
 */
export function openCheckpoint(
  bytes: Buffer,
  options: { verifyKey?: VerifyKey; name?: string } = {},
): Checkpoint {
  // Guard: exact size, magic, version, reserved bytes.
  const name = options.name ?? 'checkpoint';
  const bad = (cause: string) =>
    new IntegrityError(`read checkpoint "${name}": bad header: ${cause}`);
  if (bytes.length < CHECKPOINT_BYTES) {
    throw new IntegrityError(`read checkpoint "${name}": truncated: ${bytes.length} of 168 bytes`);
  }
  if (bytes.length > CHECKPOINT_BYTES) throw bad(`${bytes.length} bytes, expected 168`);
  if (!bytes.subarray(0, 4).equals(CHECKPOINT_MAGIC)) throw bad('not a checkpoint (wrong magic)');
  if (bytes.readUInt8(4) !== FORMAT_VERSION) throw bad(`unsupported version ${bytes.readUInt8(4)}`);
  if (bytes.readUIntBE(5, 3) !== 0) throw bad('reserved bytes are not zero');

  // Fields.
  const sequenceBig = bytes.readBigUInt64BE(24);
  if (sequenceBig < 1n || sequenceBig > BigInt(Number.MAX_SAFE_INTEGER)) {
    throw bad(`sequence ${sequenceBig} outside 1 to 2^53 - 1`);
  }
  const createdAtMs = bytes.readBigUInt64BE(64);
  if (createdAtMs > 8_640_000_000_000_000n) throw bad('creation time out of range');
  const signerPublicKey = Buffer.from(bytes.subarray(72, 104));
  let signer: VerifyKey;
  try {
    signer = verifyKeyFromRaw(signerPublicKey);
  } catch {
    throw bad('the signer public key is not an Ed25519 key');
  }
  const checkpoint: Checkpoint = {
    streamId: bytes.toString('hex', 8, 24),
    sequence: Number(sequenceBig),
    headHash: Buffer.from(bytes.subarray(32, 64)),
    createdAt: new Date(Number(createdAtMs)),
    signerPublicKey,
    signerKeyId: signer.keyId,
  };

  // Signature, against the expected key when given.
  if (options.verifyKey !== undefined && options.verifyKey.keyId !== signer.keyId) {
    throw new AuthenticationError(
      `verify checkpoint "${name}": signed by key ${signer.keyId}, not by the verify key ${options.verifyKey.keyId}`,
      { hint: 'the checkpoint was not written by the expected replicator; do not trust it' },
    );
  }
  const body = bytes.subarray(0, CHECKPOINT_BYTES - SIGNATURE_BYTES);
  const signature = bytes.subarray(CHECKPOINT_BYTES - SIGNATURE_BYTES);
  if (!verify(null, body, (options.verifyKey ?? signer).publicKey, signature)) {
    throw new AuthenticationError(
      `verify checkpoint "${name}": failed authentication: wrong key, corrupted or tampered with`,
    );
  }

  // The name, when it is one, must agree.
  const parsed = parseObjectName(name);
  if (
    parsed !== undefined &&
    (parsed.kind !== 'checkpoint' ||
      parsed.streamId !== checkpoint.streamId ||
      parsed.sequence !== checkpoint.sequence)
  ) {
    throw new IntegrityError(
      `read checkpoint "${name}": wrong stream or sequence: it says stream ${checkpoint.streamId} sequence ${checkpoint.sequence}`,
    );
  }
  return checkpoint;
}
