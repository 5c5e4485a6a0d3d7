import { setImmediate } from 'node:timers/promises';
import type { Transaction } from '../change/change.js';
import { AuthenticationError, IntegrityError, UsageError } from '../errors.js';
import type { Identity, VerifyKey } from '../keys/index.js';
import {
  checkpointName,
  openCheckpoint,
  openSegment,
  parseObjectName,
  readSegmentHeader,
  type SegmentHeader,
  segmentHash,
  segmentName,
} from '../segment/index.js';
import type { ObjectStore } from '../store/store.js';
import { prefetch } from './prefetch.js';

/** Segments fetched ahead of the one being applied (one of them is also decrypted ahead). */
export const DEFAULT_PREFETCH_SEGMENTS = 4;

/** One verified, decrypted segment. */
export interface ReadSegment {
  name: string;
  sequence: number;
  hash: Buffer;
  header: SegmentHeader;
  transactions: Transaction[];
  /** Encrypted size in bytes. */
  size: number;
}

export interface ReadStreamOptions {
  store: ObjectStore;
  streamId: string;
  /** Start after this sequence (0: from the first segment). */
  afterSequence: number;
  /** Hash of segment `afterSequence` (32 zero bytes before the first). */
  previousHash: Buffer;
  /** Stop after this sequence (inclusive); the end of the listing when undefined. */
  lastSequence?: number;
  identities: Identity[];
  verifyKey?: VerifyKey;
  /** Without a verify key: the signer every segment must name (key id). */
  signerKeyId?: string;
  prefetchSegments?: number;
}

/**
 * Read a stream's segments in sequence order, fetching and decrypting a few ahead, and check
 * each as it comes: its name, signature, stream id, sequence (no gaps) and the hash chain.
 * The first problem ends the sequence with an error naming the object.
 *
 * @example
 * ```ts
 * for await (const segment of readStream({ store, streamId, afterSequence: 0,
 *   previousHash: GENESIS_HASH, identities, verifyKey })) {
 *   apply(segment.transactions);
 * }
 * ```
 */
export async function* readStream(options: ReadStreamOptions): AsyncGenerator<ReadSegment> {
  const { store, streamId } = options;
  const prefix = `streams/${streamId}/segments/`;
  const startAfter =
    options.afterSequence > 0 ? segmentName(streamId, options.afterSequence) : undefined;
  const names = limitNames(store.list(prefix, { startAfter }), options.lastSequence);
  const depth = options.prefetchSegments ?? DEFAULT_PREFETCH_SEGMENTS;

  let expected = options.afterSequence + 1;
  let previousHash = options.previousHash;
  let signer = options.signerKeyId;
  // Raw bytes are fetched `depth` ahead (they are small, compressed); only the next segment is
  // decrypted and decoded ahead, in the time the caller spends waiting on its database.
  const fetched = prefetch(names, (name) => fetchObjects(options, name), depth);
  const decode = async (objects: FetchedSegment) => {
    await setImmediate();
    return openFetched(options, objects);
  };
  for await (const segment of prefetch(fetched, decode, 1)) {
    // The listing must hold exactly the next sequence number.
    if (segment.sequence !== expected) {
      throw new IntegrityError(
        `read stream ${streamId}: segment ${expected} is missing (next object is ${segment.name})`,
        { hint: 'the store lost or hides segments; run "crypto-replicator verify" on it' },
      );
    }

    // Each segment names the hash of the one before it.
    if (!segment.header.previousHash.equals(previousHash)) {
      throw new IntegrityError(
        `verify segment ${segment.name}: it does not follow segment ${expected - 1} (previous hash differs: a segment was removed, reordered or replaced)`,
        { hint: 'run "crypto-replicator verify" for a full report of the store' },
      );
    }

    // Without a verify key, all segments must at least come from one signer.
    if (options.verifyKey === undefined) {
      signer ??= segment.header.signerKeyId;
      if (segment.header.signerKeyId !== signer) {
        throw new AuthenticationError(
          `verify segment ${segment.name}: signed by key ${segment.header.signerKeyId}, the stream by ${signer}`,
          { hint: 'pass --verify-key with the replicator signing key to tell which is genuine' },
        );
      }
    }

    yield segment;
    previousHash = segment.hash;
    expected++;
  }
}

async function* limitNames(
  names: AsyncIterable<string>,
  lastSequence: number | undefined,
): AsyncGenerator<string> {
  for await (const name of names) {
    const parsed = parseObjectName(name);
    if (parsed === undefined || parsed.kind !== 'segment') {
      throw new IntegrityError(`read store object ${name}: not a segment name`, {
        hint: 'remove objects that do not belong to the stream, or run "crypto-replicator verify"',
      });
    }
    if (lastSequence !== undefined && parsed.sequence > lastSequence) return;
    yield name;
  }
}

/** Fetch, authenticate and decrypt one segment. */
interface FetchedSegment {
  name: string;
  buffer: Buffer;
  /** The checkpoint of the same sequence, when the store has one. */
  checkpoint?: Buffer;
}

/** Fetch a segment and the checkpoint of its sequence. */
async function fetchObjects(options: ReadStreamOptions, name: string): Promise<FetchedSegment> {
  const bytes = await options.store.get(name);
  if (bytes === undefined) {
    throw new IntegrityError(`read segment ${name}: listed but gone`, {
      hint: 'the store changed while reading; run the command again',
    });
  }
  const parsed = parseObjectName(name)!;
  const checkpoint = await options.store.get(checkpointName(options.streamId, parsed.sequence));
  return {
    name,
    buffer: Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength),
    checkpoint:
      checkpoint === undefined
        ? undefined
        : Buffer.from(checkpoint.buffer, checkpoint.byteOffset, checkpoint.byteLength),
  };
}

/** Authenticate, check and decrypt one fetched segment. */
function openFetched(options: ReadStreamOptions, fetched: FetchedSegment): ReadSegment {
  const { name, buffer } = fetched;
  const parsed = parseObjectName(name)!;

  // Header first: signature, and whether one of our identities is a recipient.
  const header = readSegmentHeader(buffer, { name, verifyKey: options.verifyKey });
  if (header.streamId !== parsed.streamId || header.sequence !== parsed.sequence) {
    throw new IntegrityError(
      `verify segment ${name}: its header says stream ${header.streamId} sequence ${header.sequence} (moved, swapped or spliced in from elsewhere)`,
      { hint: 'run "crypto-replicator verify" for a full report of the store' },
    );
  }
  const ours = new Set(options.identities.map((identity) => identity.keyId));
  const matching = options.identities.filter((identity) =>
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
  checkOwnCheckpoint(options, fetched, hash);

  // Then the payload, with only the matching identities.
  const opened = openSegment(buffer, { identities: matching, verifyKey: options.verifyKey, name });
  return {
    name,
    sequence: parsed.sequence,
    hash,
    header,
    transactions: opened.transactions,
    size: buffer.length,
  };
}

/**
 * Compare a segment with the checkpoint of the same sequence (the replicator writes one after
 * each stored segment): a segment replaced by another authentic one of the same sequence is
 * caught here, before it is applied, rather than at the next segment's chain link.
 */
function checkOwnCheckpoint(
  options: ReadStreamOptions,
  fetched: FetchedSegment,
  hash: Buffer,
): void {
  if (fetched.checkpoint === undefined) return;
  const parsed = parseObjectName(fetched.name)!;
  const checkpoint = checkpointName(options.streamId, parsed.sequence);
  const opened = openCheckpoint(fetched.checkpoint, {
    verifyKey: options.verifyKey,
    name: checkpoint,
  });
  if (!opened.headHash.equals(hash)) {
    throw new IntegrityError(
      `verify segment ${fetched.name}: checkpoint ${checkpoint} names another segment for this sequence: the segment was replaced`,
      { hint: 'run "crypto-replicator verify" for a full report of the store' },
    );
  }
}
