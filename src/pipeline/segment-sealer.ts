import type { Recipient, SigningKey } from '../keys/index.js';
import { checkpointName, sealCheckpoint, sealSegment, segmentName } from '../segment/index.js';
import type { Batch } from './batcher.js';
import type { BatchSealer, SealedBatch, StoreObject } from './sealed-batch.js';

export interface SegmentSealerOptions {
  streamId: string;
  /** Sequence of the last stored segment (0 before the first). */
  lastSequence: number;
  /** Hash of the last stored segment (GENESIS_HASH before the first). */
  headHash: Buffer;
  recipients: Recipient[];
  signingKey: SigningKey;
}

/**
 * Seals batches as v2 segments: sequence numbers +1 each, every segment chained to the hash of
 * the one before, sealed for all recipients and signed; checkpoints signed with the same key.
 *
 * @example
 * ```ts
 * const sealer = new SegmentSealer({ streamId, lastSequence: 0, headHash: GENESIS_HASH,
 *   recipients, signingKey });
 * const sealed = sealer.seal(batch); // sealed.objects[0].name ends in 00000000000000000001.seg
 * ```
 */
export class SegmentSealer implements BatchSealer {
  readonly #options: SegmentSealerOptions;
  #lastSequence: number;
  #headHash: Buffer;

  constructor(options: SegmentSealerOptions) {
    if (options.recipients.length === 0) throw new TypeError('SegmentSealer: no recipient');
    this.#options = options;
    this.#lastSequence = options.lastSequence;
    this.#headHash = options.headHash;
  }

  seal(batch: Batch): SealedBatch {
    const { streamId, recipients, signingKey } = this.#options;
    const sequence = this.#lastSequence + 1;

    // Chain to the previous segment; the head advances now because storing keeps this order.
    const sealed = sealSegment({
      streamId,
      sequence,
      previousHash: this.#headHash,
      transactions: batch.transactions,
      recipients,
      signingKey,
    });
    this.#lastSequence = sequence;
    this.#headHash = sealed.hash;

    return {
      batch,
      objects: [{ name: segmentName(streamId, sequence), bytes: sealed.bytes }],
      sequence,
      headHash: sealed.hash,
      bytes: sealed.bytes.length,
    };
  }

  checkpoint(sequence: number, headHash: Buffer): StoreObject {
    const { streamId, signingKey } = this.#options;
    const bytes = sealCheckpoint({ streamId, sequence, headHash, signingKey });
    return { name: checkpointName(streamId, sequence), bytes };
  }
}
