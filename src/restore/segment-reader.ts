import { setImmediate } from 'node:timers/promises';
import { AuthenticationError, IntegrityError } from '../errors.js';
import type { Identity, VerifyKey } from '../keys/index.js';
import { checkpointName, parseObjectName, segmentName } from '../segment/index.js';
import type { ObjectStore } from '../store/store.js';
import { prefetch } from './prefetch.js';
import { SegmentOpenWorker, unpackSegment } from './segment-open-worker.js';
import {
  asBuffer,
  type FetchedSegment,
  type OpenedSegment,
  openFetched,
} from './segment-opener.js';

/** Segments fetched ahead of the one being applied. */
export const DEFAULT_PREFETCH_SEGMENTS = 4;
/**
 * Segments handed to the opening worker ahead of the one being applied: two, so that the
 * worker starts the next one as soon as it finishes one, while the caller still applies.
 */
const WORKER_OPEN_AHEAD_SEGMENTS = 2;
/** Without the worker, the next segment is opened while the caller waits on its database. */
const IN_THREAD_OPEN_AHEAD_SEGMENTS = 1;

/** One verified, decrypted segment. */
export type ReadSegment = OpenedSegment;

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
  /**
   * Open (verify, decrypt, decode) segments in a worker thread, in parallel with applying;
   * otherwise on this thread, between database round trips. See {@link restore}'s option.
   */
  openInWorker?: boolean;
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
  // Raw bytes are fetched `depth` ahead (they are small, compressed), and opened a little ahead,
  // on a worker thread or on this one; each is rebuilt as objects only when its turn comes.
  const fetched = prefetch(names, (name) => fetchObjects(options, name), depth);
  const opener = options.openInWorker ? workerOpener(options) : inThreadOpener(options);
  try {
    for await (const opened of prefetch(fetched, opener.open, opener.ahead)) {
      const segment = opened();
      checkLink(options, segment, { expected, previousHash });
      signer = checkSigner(options, segment, signer);
      yield segment;
      previousHash = segment.hash;
      expected++;
    }
  } finally {
    await opener.close();
  }
}

/** Opens fetched segments; each result is called when the segment's turn comes. */
interface SegmentOpener {
  open: (fetched: FetchedSegment) => Promise<() => ReadSegment>;
  /** Segments opened ahead of the one being applied. */
  ahead: number;
  close: () => Promise<void>;
}

function workerOpener(options: ReadStreamOptions): SegmentOpener {
  const worker = SegmentOpenWorker.start(options);
  return {
    open: async (fetched) => {
      const packed = await worker.open(fetched);
      return () => unpackSegment(packed);
    },
    ahead: WORKER_OPEN_AHEAD_SEGMENTS,
    close: () => worker.close(),
  };
}

function inThreadOpener(options: ReadStreamOptions): SegmentOpener {
  return {
    open: async (fetched) => {
      // Let the database's answers in before the thread is busy for a while.
      await setImmediate();
      const segment = openFetched(options, fetched);
      return () => segment;
    },
    ahead: IN_THREAD_OPEN_AHEAD_SEGMENTS,
    close: async () => {},
  };
}

/** The segment must be the next sequence number and name the hash of the one before it. */
function checkLink(
  options: ReadStreamOptions,
  segment: ReadSegment,
  link: { expected: number; previousHash: Buffer },
): void {
  const { expected, previousHash } = link;
  // The listing must hold exactly the next sequence number.
  if (segment.sequence !== expected) {
    throw new IntegrityError(
      `read stream ${options.streamId}: segment ${expected} is missing (next object is ${segment.name})`,
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
}

/** Without a verify key, all segments must at least come from one signer; returns it. */
function checkSigner(
  options: ReadStreamOptions,
  segment: ReadSegment,
  signer: string | undefined,
): string | undefined {
  if (options.verifyKey !== undefined) return signer;
  const first = signer ?? segment.header.signerKeyId;
  if (segment.header.signerKeyId !== first) {
    throw new AuthenticationError(
      `verify segment ${segment.name}: signed by key ${segment.header.signerKeyId}, the stream by ${first}`,
      { hint: 'pass --verify-key with the replicator signing key to tell which is genuine' },
    );
  }
  return first;
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
    buffer: asBuffer(bytes),
    checkpoint: checkpoint === undefined ? undefined : asBuffer(checkpoint),
  };
}
