import { createHash } from 'node:crypto';

/**
 * The hash that chains segments: SHA-256 of the whole segment, signature included. The next
 * segment's header carries it as its previous hash; checkpoints carry it as the head hash.
 *
 * @example
 * ```ts
 * const next = sealSegment({ ..., sequence: 2, previousHash: segmentHash(first.bytes) });
 * ```
 */
export function segmentHash(bytes: Buffer): Buffer {
  return createHash('sha256').update(bytes).digest();
}
