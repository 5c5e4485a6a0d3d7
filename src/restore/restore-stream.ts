import { comparePositions, type Transaction } from '../change/change.js';
import { IntegrityError } from '../errors.js';
import type { Identity, VerifyKey } from '../keys/index.js';
import { GENESIS_HASH } from '../segment/index.js';
import type { ObjectStore } from '../store/store.js';
import type { StreamPlan } from './plan-stream.js';
import { isBeyond, type RestorePoint } from './restore-point.js';
import type { RestoreProgress } from './restore-progress.js';
import type { StreamRestore } from './restore-report.js';
import type { RestoreTarget } from './restore-target.js';
import { type ReadSegment, readStream } from './segment-reader.js';

/** Changes applied per database transaction before a commit (at a segment boundary). */
export const GROUP_CHANGES = 250_000;

/** Progress figures for a terminal display. */
export interface RestoreProgressEvent {
  streamId: string;
  sequence: number;
  lastSequence: number;
  changesApplied: number;
  transactionsApplied: number;
}

export interface RestoreStreamOptions {
  store: ObjectStore;
  plan: StreamPlan;
  target: RestoreTarget;
  identities: Identity[];
  verifyKey?: VerifyKey;
  until?: RestorePoint;
  /** Read no segment after this one (the last intact point). */
  lastSequence: number;
  signal?: AbortSignal;
  onProgress?: (event: RestoreProgressEvent) => void;
  groupChanges?: number;
  prefetchSegments?: number;
  openInWorker?: boolean;
  /** Mutated as the restore goes, so a caller has the figures even when it fails. */
  result: StreamRestore;
  /** Identity key ids that matched a segment. */
  usedIdentities: Set<string>;
}

/** How the restore of a stream ended. */
export type StreamOutcome =
  | { kind: 'end' | 'until' | 'interrupted' }
  | { kind: 'problem'; error: Error; object?: string; sequence: number };

/**
 * Restore one stream: read its segments in order (verified, decrypted, a few prefetched),
 * skip transactions at or below the last applied position, stop at the restore point, and
 * commit at segment boundaries with the progress. A read problem ends the stream after
 * committing everything before it; an apply failure rolls back the open group and throws.
 *
 * @example
 * ```ts
 * const outcome = await restoreStream({ store, plan, target, identities, lastSequence, ... });
 * ```
 */
export async function restoreStream(options: RestoreStreamOptions): Promise<StreamOutcome> {
  const outcome = await applyStream(options);
  if (outcome.kind !== 'malformed') return outcome;

  // A segment's payload turned out malformed part way through (its transactions are decoded as
  // they are applied): the open group was rolled back, so apply again up to the segment before
  // it, then report the problem as if it had been met reading.
  const resumedAfter = options.result.resumedAfterSequence;
  const again = await applyStream({ ...options, lastSequence: outcome.sequence - 1 });
  options.result.resumedAfterSequence = resumedAfter;
  if (again.kind === 'malformed') {
    return { kind: 'problem', error: again.error, sequence: again.sequence };
  }
  if (again.kind !== 'end') return again;
  return { kind: 'problem', error: outcome.error, sequence: outcome.sequence };
}

/** Figures of a stream's result that a rollback to the last commit takes back. */
type AppliedFigures = Pick<
  StreamRestore,
  | 'appliedThroughSequence'
  | 'segmentsRead'
  | 'transactionsApplied'
  | 'transactionsSkipped'
  | 'changesApplied'
  | 'firstPosition'
  | 'lastPosition'
  | 'firstCommitTime'
  | 'lastCommitTime'
>;

function appliedFigures(result: StreamRestore): AppliedFigures {
  const { appliedThroughSequence, segmentsRead, transactionsApplied, transactionsSkipped } = result;
  const { changesApplied, firstPosition, lastPosition, firstCommitTime, lastCommitTime } = result;
  return {
    appliedThroughSequence,
    segmentsRead,
    transactionsApplied,
    transactionsSkipped,
    changesApplied,
    firstPosition,
    lastPosition,
    firstCommitTime,
    lastCommitTime,
  };
}

/** {@link StreamOutcome}, or a payload found malformed after part of its segment was applied. */
type ApplyOutcome = StreamOutcome | { kind: 'malformed'; error: Error; sequence: number };

async function applyStream(options: RestoreStreamOptions): Promise<ApplyOutcome> {
  const { target, plan, result } = options;
  const streamId = plan.streamId;
  const groupChanges = options.groupChanges ?? GROUP_CHANGES;

  // Resume where an earlier run of this target stopped, checking the chain from its hash.
  const resumed = await target.begin(streamId);
  let state: RestoreProgress = resumed ?? {
    streamId,
    sequence: 0,
    segmentHash: GENESIS_HASH.toString('hex'),
    position: undefined,
    commitTime: undefined,
  };
  result.resumedAfterSequence = state.sequence;
  result.appliedThroughSequence = state.sequence;
  if (state.sequence > plan.lastSequence) {
    throw new IntegrityError(
      `restore stream ${streamId}: the target already restored segment ${state.sequence}, but the store ends at segment ${plan.lastSequence}: the store was rolled back`,
      { hint: 'run "crypto-replicator verify" on the store; restore into a fresh database' },
    );
  }

  const segments = readStream({
    store: options.store,
    streamId,
    afterSequence: state.sequence,
    previousHash: Buffer.from(state.segmentHash, 'hex'),
    lastSequence: options.lastSequence,
    identities: options.identities,
    verifyKey: options.verifyKey,
    prefetchSegments: options.prefetchSegments,
    openInWorker: options.openInWorker,
  })[Symbol.asyncIterator]();

  let saved: RestoreProgress | undefined;
  let pending: { xid: string; position: string } | undefined;
  let sinceCommit = 0;
  let lastSequenceSeen = state.sequence;
  let committed = state.sequence;
  let committedFigures = appliedFigures(result);
  const commit = async (final: boolean) => {
    await target.commit(state, { final });
    committed = state.sequence;
    committedFigures = appliedFigures(result);
  };
  try {
    for (;;) {
      // Read the next segment; a problem here stops the stream, keeping what is intact.
      let segment: ReadSegment;
      try {
        const next = await segments.next();
        if (next.done) break;
        segment = next.value;
        checkAgainstCheckpoint(plan, segment);
      } catch (error) {
        if (pending !== undefined && saved !== undefined) {
          await target.abandonTransaction();
          state = saved;
        }
        await commit(true);
        result.appliedThroughSequence = state.sequence;
        return { kind: 'problem', error: error as Error, sequence: lastSequenceSeen + 1 };
      }
      lastSequenceSeen = segment.sequence;
      result.segmentsRead++;
      noteKeys(options, segment);

      // Apply its transactions in order, decoding each as it comes.
      const transactions = segment.transactions[Symbol.iterator]();
      for (;;) {
        let tx: Transaction;
        try {
          const next = transactions.next();
          if (next.done === true) break;
          tx = next.value;
        } catch (error) {
          // Part of this segment may be applied: undo back to the last commit.
          await target.rollback();
          Object.assign(result, committedFigures);
          return { kind: 'malformed', error: error as Error, sequence: segment.sequence };
        }
        if (pending !== undefined) {
          if (tx.xid !== pending.xid || tx.position !== pending.position) {
            throw new IntegrityError(
              `read segment ${segment.name}: transaction ${pending.xid} continues here, but the segment starts with another`,
            );
          }
        } else {
          if (state.position !== undefined && comparePositions(tx.position, state.position) <= 0) {
            result.transactionsSkipped++;
            continue;
          }
          if (options.until !== undefined && isBeyond(options.until, tx)) {
            await commit(true);
            result.stoppedAtUntil = true;
            return { kind: 'until' };
          }
          if (tx.continues) {
            saved = { ...state };
            await target.markTransaction();
          }
        }

        await target.apply({ streamId, sequence: segment.sequence }, tx);
        const changes = countChanges(tx);
        result.changesApplied += changes;
        sinceCommit += changes;
        if (tx.continues) {
          pending = { xid: tx.xid, position: tx.position };
          continue;
        }
        pending = undefined;
        saved = undefined;
        noteTransaction(result, tx);
        state = { ...state, position: tx.position, commitTime: tx.commitTime };
      }

      // A segment boundary outside a transaction is a safe point to commit and to stop.
      if (pending !== undefined) continue;
      state = { ...state, sequence: segment.sequence, segmentHash: segment.hash.toString('hex') };
      result.appliedThroughSequence = segment.sequence;
      options.onProgress?.({
        streamId,
        sequence: segment.sequence,
        lastSequence: plan.lastSequence,
        changesApplied: result.changesApplied,
        transactionsApplied: result.transactionsApplied,
      });
      if (sinceCommit >= groupChanges || options.signal?.aborted) {
        await commit(false);
        sinceCommit = 0;
      }
      if (options.signal?.aborted) return { kind: 'interrupted' };
    }

    // The stream ended inside a transaction whose rest is missing: it is not applied.
    if (pending !== undefined && saved !== undefined) {
      await target.abandonTransaction();
      state = saved;
      await commit(true);
      return {
        kind: 'problem',
        error: new IntegrityError(
          `read stream ${streamId}: it ends inside transaction ${pending.xid}, whose continuation (segment ${lastSequenceSeen + 1}) is missing`,
        ),
        sequence: lastSequenceSeen + 1,
      };
    }
    await commit(true);
    return { kind: 'end' };
  } catch (error) {
    await target.rollback();
    result.appliedThroughSequence = committed;
    throw error;
  } finally {
    await segments.return?.(undefined);
  }
}

/** The change records of a transaction (its schema records aside), counted without a copy. */
function countChanges(tx: Transaction): number {
  let changes = 0;
  for (const record of tx.records) if (record.kind === 'change') changes++;
  return changes;
}

/** Record which keys the segment names: its signer, recipients, and the identity used. */
function noteKeys(options: RestoreStreamOptions, segment: ReadSegment): void {
  const { result } = options;
  if (!result.signerKeyIds.includes(segment.header.signerKeyId)) {
    result.signerKeyIds.push(segment.header.signerKeyId);
  }
  for (const recipient of segment.header.recipients) {
    if (!result.recipientKeyIds.includes(recipient.keyId)) {
      result.recipientKeyIds.push(recipient.keyId);
    }
    if (options.identities.some((identity) => identity.keyId === recipient.keyId)) {
      options.usedIdentities.add(recipient.keyId);
    }
  }
}

function noteTransaction(result: StreamRestore, tx: Transaction): void {
  result.transactionsApplied++;
  result.firstPosition ??= tx.position;
  result.firstCommitTime ??= tx.commitTime;
  result.lastPosition = tx.position;
  result.lastCommitTime = tx.commitTime;
}

/** The newest checkpoint names the hash its segment must have. */
function checkAgainstCheckpoint(plan: StreamPlan, segment: ReadSegment): void {
  const checkpoint = plan.checkpoint;
  if (checkpoint === undefined || checkpoint.sequence !== segment.sequence) return;
  if (checkpoint.headHash.equals(segment.hash)) return;
  throw new IntegrityError(
    `verify segment ${segment.name}: checkpoint ${checkpoint.name} names another hash for it: the segment was replaced`,
    { hint: 'run "crypto-replicator verify" for a full report of the store' },
  );
}
