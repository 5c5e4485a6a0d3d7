import { IntegrityError, UsageError } from '../errors.js';
import type { VerifyKey } from '../keys/index.js';
import { type Logger, silentLogger } from '../log/logger.js';
import { parseObjectName, readSegmentHeader, segmentHash, segmentName } from '../segment/index.js';
import type { ObjectStore } from '../store/store.js';
import { ENVELOPE_PREFIX, envelopeName } from './envelope-sealer.js';
import type { StoreObject } from './sealed-batch.js';
import type { SegmentJournal } from './segment-journal.js';
import { GENESIS_HASH_HEX, type ReplicatorState } from './state-file.js';

/** The stream head after recovery, and how many stored objects the state file did not know. */
export interface RecoveredHead {
  lastSequence: number;
  headHash: Buffer;
  adopted: number;
  /** False when the store refused to be read with these credentials (write-only). */
  readable?: boolean;
}

export interface RecoverHeadOptions {
  store: ObjectStore;
  state: ReplicatorState;
  /** Public half of our signing key: adopted segments must be signed by it (v2). */
  verifyKey?: VerifyKey;
  logger?: Logger;
}

/**
 * Find the real head of the stream: the store is the source of truth. A crash between storing a
 * segment and writing the state file leaves segments the state does not know; they are adopted,
 * so no sequence number is ever sealed twice with different content. A state whose head segment
 * the store lacks or holds with other bytes continues from the chain the store holds; only a
 * store holding nothing of a stream whose state names several segments stops the start.
 *
 * @example
 * ```ts
 * const head = await recoverHead({ store, state, verifyKey: signingKey });
 * ```
 */
export async function recoverHead(options: RecoverHeadOptions): Promise<RecoveredHead> {
  const { store, state } = options;
  const log = options.logger ?? silentLogger;

  // A store this replicator may write but not read (the vault's write token) cannot be listed:
  // the state folder and its journal of sealed segments are then the only record of the head.
  try {
    await store.get(
      state.format === 'v1' ? envelopeName(state.streamId, 1) : segmentName(state.streamId, 1),
    );
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    log.warn(
      { store: store.url, error: error.message },
      'store cannot be read with these credentials: head taken from the state folder',
    );
    return {
      lastSequence: state.lastSequence,
      headHash: Buffer.from(state.headHash, 'hex'),
      adopted: 0,
      readable: false,
    };
  }

  const head =
    state.format === 'v1'
      ? await recoverEnvelopeCounter(store, state)
      : await recoverSegments(options);
  head.readable = true;
  if (head.adopted > 0) {
    log.info(
      { streamId: state.streamId, lastSequence: head.lastSequence, adopted: head.adopted },
      'adopted stored objects the state file did not record',
    );
  }
  return head;
}

async function recoverSegments(options: RecoverHeadOptions): Promise<RecoveredHead> {
  const { store, state } = options;
  const log = options.logger ?? silentLogger;

  // The head the state file names should be in the store, with the hash it recorded.
  if (state.lastSequence > 0) {
    const name = segmentName(state.streamId, state.lastSequence);
    const bytes = await store.get(name);
    const matches =
      bytes !== undefined &&
      segmentHash(Buffer.from(bytes)).equals(Buffer.from(state.headHash, 'hex'));
    if (!matches) {
      // NOTE: the store is the source of truth. A crash (or an older release that wrote the
      // state before the put) can leave a state naming a segment never stored, or one sealed
      // anew by a later incarnation; nothing after a stored segment is ever acknowledged, so
      // the chain the store holds is the head to continue. Only a store holding nothing of
      // this stream while the state names several segments is refused: a wrong or emptied store.
      const stored = await walkChain(options, 0, Buffer.from(GENESIS_HASH_HEX, 'hex'));
      if (stored.lastSequence === 0 && state.lastSequence > 1) {
        throw new UsageError(
          `recover stream ${state.streamId} from ${store.url}: segment ${state.lastSequence} is missing`,
          {
            hint: 'point --store at the store this state folder wrote to, or use a new --state-dir to start a new stream',
          },
        );
      }
      log.warn(
        {
          streamId: state.streamId,
          stateSequence: state.lastSequence,
          storedSequence: stored.lastSequence,
          reason: bytes === undefined ? 'missing' : 'differs',
        },
        'state file names a head the store does not hold: continuing from the stored head',
      );
      return { ...stored, adopted: 0 };
    }
  }

  // Segments after it were stored before a crash: each must chain to the one before.
  return walkChain(options, state.lastSequence, Buffer.from(state.headHash, 'hex'));
}

/** Follow the stored segments after `fromSequence`; each must chain to the one before. */
async function walkChain(
  options: RecoverHeadOptions,
  fromSequence: number,
  fromHash: Buffer,
): Promise<RecoveredHead> {
  const { store, state, verifyKey } = options;
  let lastSequence = fromSequence;
  let headHash = fromHash;
  let adopted = 0;
  const prefix = `streams/${state.streamId}/segments/`;
  const startAfter = lastSequence > 0 ? segmentName(state.streamId, lastSequence) : undefined;
  for await (const name of store.list(prefix, { startAfter })) {
    const parsed = parseObjectName(name);
    if (parsed?.kind !== 'segment' || parsed.sequence !== lastSequence + 1) {
      throw new IntegrityError(`recover stream ${state.streamId}: unexpected object ${name}`);
    }
    const bytes = Buffer.from((await store.get(name)) ?? []);
    const header = readSegmentHeader(bytes, { name, verifyKey });
    if (!header.previousHash.equals(headHash)) {
      throw new IntegrityError(`recover stream ${state.streamId}: ${name} does not chain`);
    }
    lastSequence = parsed.sequence;
    headHash = segmentHash(bytes);
    adopted += 1;
  }
  return { lastSequence, headHash, adopted };
}

async function recoverEnvelopeCounter(
  store: ObjectStore,
  state: ReplicatorState,
): Promise<RecoveredHead> {
  // Envelopes carry no chain: the highest counter stored is the head.
  let lastSequence = state.lastSequence;
  let adopted = 0;
  const prefix = `${ENVELOPE_PREFIX}${state.streamId}-`;
  const startAfter = lastSequence > 0 ? envelopeName(state.streamId, lastSequence) : undefined;
  for await (const name of store.list(prefix, { startAfter })) {
    const counter = Number(/-(\d{20})\.json$/.exec(name)?.[1]);
    if (Number.isSafeInteger(counter) && counter > lastSequence) {
      lastSequence = counter;
      adopted += 1;
    }
  }
  return { lastSequence, headHash: Buffer.from(state.headHash, 'hex'), adopted };
}

/**
 * Put again the sealed segments a crash left in the journal (stored or not, an identical put
 * succeeds) and adopt them as the head. Each must continue the chain from the state's head.
 *
 * @example
 * ```ts
 * const head = await replayJournal({ journal, state, put: (o) => putter.put(o), verifyKey });
 * ```
 */
export async function replayJournal(options: {
  journal: SegmentJournal;
  state: ReplicatorState;
  put: (object: StoreObject) => Promise<void>;
  verifyKey?: VerifyKey;
  logger?: Logger;
}): Promise<RecoveredHead> {
  const { journal, state } = options;
  let lastSequence = state.lastSequence;
  let headHash: Buffer = Buffer.from(state.headHash, 'hex');
  let adopted = 0;
  for (const entry of await journal.entries()) {
    // Already recorded as stored: only the removal was lost.
    if (entry.sequence <= lastSequence) {
      await journal.remove(entry.sequence);
      continue;
    }
    const header = readSegmentHeader(entry.bytes, {
      name: entry.name,
      verifyKey: options.verifyKey,
    });
    if (entry.sequence !== lastSequence + 1 || !header.previousHash.equals(headHash)) {
      throw new IntegrityError(
        `recover stream ${state.streamId}: journaled segment ${entry.sequence} does not continue the head ${lastSequence}`,
      );
    }
    await options.put({ name: entry.name, bytes: entry.bytes });
    lastSequence = entry.sequence;
    headHash = segmentHash(entry.bytes);
    adopted += 1;
  }
  if (adopted > 0) {
    (options.logger ?? silentLogger).info(
      { streamId: state.streamId, lastSequence, adopted },
      'stored journaled segments a crash left behind',
    );
  }
  return { lastSequence, headHash, adopted };
}
