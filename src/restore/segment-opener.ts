import type { Transaction } from '../change/change.js';
import { IntegrityError, UsageError } from '../errors.js';
import type { Identity, VerifyKey } from '../keys/index.js';
import {
  badPayload,
  checkpointName,
  openCheckpoint,
  openSegmentPayload,
  parseObjectName,
  readPayload,
  readSegmentHeader,
  type SegmentHeader,
  segmentHash,
} from '../segment/index.js';

/** A segment's bytes as fetched, with the checkpoint of the same sequence when there is one. */
export interface FetchedSegment {
  name: string;
  buffer: Buffer;
  checkpoint?: Buffer;
}

/** What opening a segment needs: the stream and the keys. */
export interface OpenContext {
  streamId: string;
  identities: Identity[];
  verifyKey?: VerifyKey;
}

/** A segment verified and decrypted, with the facts the stream checks need. */
export interface OpenedSegment {
  name: string;
  sequence: number;
  hash: Buffer;
  header: SegmentHeader;
  /**
   * Decoded one at a time as they are iterated (once): a malformed transaction, possible only
   * in a segment its signer wrote wrongly, throws {@link IntegrityError} when it is reached.
   */
  transactions: Iterable<Transaction>;
  /** Encrypted size in bytes. */
  size: number;
}

/**
 * Authenticate, check and decrypt one fetched segment: its signature, that its header agrees
 * with its name, that one of our identities is a recipient, that the checkpoint of its sequence
 * (if any) names it; then decrypt and decode its transactions. Runs in the opening worker.
 *
 * @example
 * ```ts
 * const opened = openFetched({ streamId, identities, verifyKey }, { name, buffer });
 * ```
 */
export function openFetched(context: OpenContext, fetched: FetchedSegment): OpenedSegment {
  const { name, buffer } = fetched;
  const parsed = parseObjectName(name)!;

  // Header first: signature, and whether one of our identities is a recipient.
  const header = readSegmentHeader(buffer, { name, verifyKey: context.verifyKey });
  if (header.streamId !== parsed.streamId || header.sequence !== parsed.sequence) {
    throw new IntegrityError(
      `verify segment ${name}: its header says stream ${header.streamId} sequence ${header.sequence} (moved, swapped or spliced in from elsewhere)`,
      { hint: 'run "crypto-replicator verify" for a full report of the store' },
    );
  }
  const ours = new Set(context.identities.map((identity) => identity.keyId));
  const matching = context.identities.filter((identity) =>
    header.recipients.some((recipient) => recipient.keyId === identity.keyId),
  );
  if (matching.length === 0) {
    const wanted = header.recipients.map((recipient) => recipient.keyId).join(', ');
    throw new UsageError(
      `decrypt segment ${name}: none of the given identities is a recipient (it is sealed for key id ${wanted})`,
      {
        hint: `pass --identity with the private key of one of those key ids (given: ${[...ours].join(', ') || 'none'})`,
      },
    );
  }

  // A checkpoint for this sequence, when there is one, must name this very segment.
  const hash = segmentHash(buffer);
  checkOwnCheckpoint(context, fetched, hash);

  // Then the payload, with only the matching identities; its transactions are decoded as the
  // caller takes them, so that only the one being applied is alive as objects.
  const opened = openSegmentPayload(buffer, {
    identities: matching,
    verifyKey: context.verifyKey,
    name,
  });
  let transactions: Iterable<Transaction>;
  try {
    transactions = readPayload(opened.payload, header.payloadEncoding);
  } catch (error) {
    throw badPayload(name, error);
  }
  return {
    name,
    sequence: parsed.sequence,
    hash,
    header,
    transactions: named(name, transactions),
    size: buffer.length,
  };
}

/** The transactions, a decoding error becoming the segment's {@link IntegrityError}. */
function* named(name: string, transactions: Iterable<Transaction>): Generator<Transaction> {
  const iterator = transactions[Symbol.iterator]();
  for (;;) {
    let next: IteratorResult<Transaction>;
    try {
      next = iterator.next();
    } catch (error) {
      throw badPayload(name, error);
    }
    if (next.done === true) return;
    yield next.value;
  }
}

/**
 * Compare a segment with the checkpoint of the same sequence (the replicator writes one after
 * each stored segment): a segment replaced by another authentic one of the same sequence is
 * caught here, before it is applied, rather than at the next segment's chain link.
 */
function checkOwnCheckpoint(context: OpenContext, fetched: FetchedSegment, hash: Buffer): void {
  if (fetched.checkpoint === undefined) return;
  const parsed = parseObjectName(fetched.name)!;
  const checkpoint = checkpointName(context.streamId, parsed.sequence);
  const opened = openCheckpoint(fetched.checkpoint, {
    verifyKey: context.verifyKey,
    name: checkpoint,
  });
  if (!opened.headHash.equals(hash)) {
    throw new IntegrityError(
      `verify segment ${fetched.name}: checkpoint ${checkpoint} names another segment for this sequence: the segment was replaced`,
      { hint: 'run "crypto-replicator verify" for a full report of the store' },
    );
  }
}

/**
 * A Buffer over the same bytes, without a copy: stores and the worker's messages hand over
 * plain Uint8Arrays, the segment functions take Buffers.
 *
 * @example
 * ```ts
 * const buffer = asBuffer(await store.get(name));
 * ```
 */
export function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}
