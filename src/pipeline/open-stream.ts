import { isRetryable, UsageError } from '../errors.js';
import type { Recipient, SigningKey } from '../keys/index.js';
import { type Logger, silentLogger } from '../log/logger.js';
import { withRetry } from '../store/retry.js';
import type { ObjectStore } from '../store/store.js';
import { EnvelopeSealer } from './envelope-sealer.js';
import { recoverHead, replayJournal } from './head-recovery.js';
import type { BatchSealer } from './sealed-batch.js';
import { SegmentJournal } from './segment-journal.js';
import { SegmentSealer } from './segment-sealer.js';
import { newState, type ReplicatorState, readState, writeState } from './state-file.js';
import { acquireStateLock, type StateLock } from './state-lock.js';
import { ensureStateSigningKey } from './state-signing-key.js';
import { MAX_STORE_RETRY_DELAY_MS } from './store-putter.js';

export interface OpenStreamOptions {
  store: ObjectStore;
  recipients: Recipient[];
  signingKey?: SigningKey;
  stateDir: string;
  format?: 'v1' | 'v2';
  logger?: Logger;
  /** Ends the retries of an unreachable store at start. */
  signal?: AbortSignal;
  /** Told of each failed attempt to reach the store (for health), and of the first success. */
  onStoreAttempt?: (error: unknown | undefined) => void;
}

/** A stream ready to be appended to: locked state folder, recovered head, a sealer. */
export interface OpenStream {
  lock: StateLock;
  state: ReplicatorState;
  sealer: BatchSealer;
  signingKey?: SigningKey;
  /** v2 on a store that cannot be read: the journal of sealed segments not yet recorded. */
  journal?: SegmentJournal;
}

/**
 * Take the state folder's lock, read (or create) the state, get the signing key (v2; made once
 * in the state folder when none is given), adopt objects the store holds beyond the recorded
 * head, persist the result, and build the sealer that continues the stream.
 *
 * @example
 * ```ts
 * const { lock, state, sealer } = await openStream({ store, recipients, stateDir: './state' });
 * ```
 */
export async function openStream(options: OpenStreamOptions): Promise<OpenStream> {
  const log = options.logger ?? silentLogger;
  const format = options.format ?? 'v2';
  if (format === 'v1' && options.recipients.length > 1) {
    throw new UsageError('open stream: v1 envelopes are sealed for one recipient, got several', {
      hint: 'pass a single --recipient with --format v1, or use --format v2',
    });
  }
  const lock = await acquireStateLock(options.stateDir);
  try {
    // The state folder decides the stream; its format cannot change under it.
    const existing = await readState(options.stateDir);
    const state = existing ?? newState(format);
    if (state.format !== format) {
      throw new UsageError(
        `open stream ${state.streamId}: the state folder holds a ${state.format} stream, not ${format}`,
        { hint: `pass --format ${state.format}, or use a new --state-dir for a ${format} stream` },
      );
    }

    // v2 signs: the given key, else the one kept in the state folder.
    const signingKey =
      format === 'v2'
        ? (options.signingKey ?? (await ensureStateSigningKey(options.stateDir, { logger: log })))
        : undefined;

    // Retry an unreachable store for as long as it takes, telling health checks.
    const retrying = <T>(what: string, fn: () => Promise<T>) =>
      withRetry(
        async (attempt) => {
          try {
            const result = await fn();
            options.onStoreAttempt?.(undefined);
            return result;
          } catch (error) {
            if (!isRetryable(error)) throw error;
            options.onStoreAttempt?.(error);
            if (attempt === 1 || attempt % 10 === 0) {
              log.warn(
                { attempt, error: (error as Error).message },
                'store unreachable at start, retrying',
              );
            }
            throw error;
          }
        },
        {
          attempts: Number.POSITIVE_INFINITY,
          maxDelayMs: MAX_STORE_RETRY_DELAY_MS,
          signal: options.signal,
          logger: log,
          what,
        },
      );

    // Sealed segments a crash left in the journal go in first, as the bytes they were sealed as.
    const journal = format === 'v2' ? new SegmentJournal(options.stateDir) : undefined;
    if (journal !== undefined) {
      const replayed = await replayJournal({
        journal,
        state,
        verifyKey: signingKey,
        logger: log,
        put: async (object) => {
          await retrying(`put ${object.name}`, () => options.store.put(object.name, object.bytes));
        },
      });
      state.lastSequence = replayed.lastSequence;
      state.headHash = replayed.headHash.toString('hex');
    }

    // The store is the source of truth for the head; persist what it says before going on.
    const head = await retrying('recover stream head', () =>
      recoverHead({ store: options.store, state, verifyKey: signingKey, logger: log }),
    );
    state.lastSequence = head.lastSequence;
    state.headHash = head.headHash.toString('hex');
    await writeState(options.stateDir, state);
    await journal?.prune(state.lastSequence);
    // NOTE: the journal doubles the local writes, so it is kept only where it is needed: a
    // store that can be listed tells the head after a crash by itself.
    const keepJournal = head.readable === false ? journal : undefined;
    log.info(
      {
        streamId: state.streamId,
        format,
        lastSequence: state.lastSequence,
        store: options.store.url,
        created: existing === undefined,
      },
      existing === undefined ? 'stream created' : 'stream resumed',
    );

    const sealer: BatchSealer =
      format === 'v2'
        ? new SegmentSealer({
            streamId: state.streamId,
            lastSequence: state.lastSequence,
            headHash: head.headHash,
            recipients: options.recipients,
            signingKey: signingKey!,
          })
        : new EnvelopeSealer({
            streamId: state.streamId,
            lastCounter: state.lastSequence,
            recipient: options.recipients[0]!,
          });
    return { lock, state, sealer, signingKey, journal: keepJournal };
  } catch (error) {
    await lock.release();
    throw error;
  }
}
