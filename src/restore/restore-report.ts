import type { TableCounts } from './change-applier.js';

/** Segments a restore did not apply, and why. */
export interface LeftOut {
  streamId: string;
  fromSequence: number;
  /** Last sequence left out, when known (a checkpoint may say how far the stream reached). */
  toSequence?: number;
  object: string;
  reason: string;
}

/** What was restored of one stream. */
export interface StreamRestore {
  streamId: string;
  /** Sequence the restore started after (non-zero when it resumed an earlier run). */
  resumedAfterSequence: number;
  /** Last segment whose transactions are all applied. */
  appliedThroughSequence: number;
  /** Last segment the store holds. */
  lastSequenceInStore: number;
  segmentsRead: number;
  transactionsApplied: number;
  /** Transactions skipped because their position was not above the last applied one. */
  transactionsSkipped: number;
  changesApplied: number;
  firstPosition?: string;
  lastPosition?: string;
  firstCommitTime?: string;
  lastCommitTime?: string;
  /** True when `--until` stopped the restore before the end of the stream. */
  stoppedAtUntil: boolean;
  /** The store's head: sequence and segment hash (hex), for later rollback detection. */
  head?: { sequence: number; hash: string };
  newestCheckpoint?: { sequence: number; createdAt: string };
  signerKeyIds: string[];
  recipientKeyIds: string[];
}

/** Per table: what was applied, and the table's content afterwards. */
export interface TableRestore extends TableCounts {
  table: string;
  /** Rows in the target table after the restore (database targets). */
  rows?: number;
  /** {@link tableDigest} of the target table after the restore (database targets). */
  digest?: string;
}

/** The drill report `restore --report FILE` writes: what an auditor keeps. */
export interface RestoreReport {
  report: 'crypto-replicator restore';
  reportVersion: 1;
  format: 'v2' | 'v1';
  startedAt: string;
  finishedAt: string;
  /** Recovery time: the restore's duration in seconds. */
  rtoSeconds: number;
  /** Recovery point: seconds between the last change the store holds and the restore's start. */
  rpoSeconds?: number;
  lastChangeInStoreAt?: string;
  store: string;
  target: string;
  dryRun: boolean;
  until?: string;
  tablesSelected?: string[];
  keys: {
    /** Key ids of the identities that matched the segments' recipients. */
    identityKeyIds: string[];
    verifyKeyId?: string;
    authenticityProven: boolean;
  };
  streams: StreamRestore[];
  tables: TableRestore[];
  /** False when something was left out or a problem stopped the restore. */
  complete: boolean;
  /** True when the restore was interrupted on request and can be resumed. */
  interrupted: boolean;
  leftOut: LeftOut[];
  /** Set when a problem stopped the restore: the error line. */
  error?: string;
  warnings: string[];
}
