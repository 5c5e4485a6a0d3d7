/** What kind of problem verify found; each names the object it concerns. */
export type ProblemKind =
  /** An object under `streams/` whose name is not a segment or checkpoint name. */
  | 'unexpected-object'
  /** The object could not be parsed, or its signature does not verify. */
  | 'unauthentic'
  /** The header names another stream or sequence than the object name (swap, splice, copy). */
  | 'misplaced'
  /** Sequence numbers skip: segments missing from the middle or the start. */
  | 'gap'
  /** A segment's previous hash is not the hash of the segment before it. */
  | 'chain'
  /** A segment or checkpoint signed by another key than the rest of the stream. */
  | 'signer'
  /** A checkpoint that is unauthentic, misplaced, or names a head the segments do not have. */
  | 'checkpoint'
  /** The stream ends before the sequence its newest checkpoint vouches for. */
  | 'truncated'
  /** The store is behind (or differs from) a head recorded earlier. */
  | 'rollback';

/** One problem, naming the object. */
export interface VerifyProblem {
  kind: ProblemKind;
  /** The object concerned (a store object name, or `streams/<id>/` for a whole stream). */
  object: string;
  message: string;
}

/** What verify saw of one stream. */
export interface StreamSummary {
  streamId: string;
  segments: number;
  firstSequence?: number;
  lastSequence?: number;
  /** The last segment: its sequence and hash (hex), what a later run can compare against. */
  head?: { sequence: number; hash: string };
  firstCreatedAt?: string;
  lastCreatedAt?: string;
  signerKeyIds: string[];
  recipientKeyIds: string[];
  bytes: number;
  checkpoints: number;
  newestCheckpoint?: { sequence: number; createdAt: string; ageSeconds: number };
}

/** The result of {@link verifyStore}, printed as text or JSON. */
export interface VerifyReport {
  store: string;
  checkedAt: string;
  /** True when no problem was found. */
  intact: boolean;
  /** True only when signatures were checked against a verify key the user gave. */
  authenticityProven: boolean;
  verifyKeyId?: string;
  streams: StreamSummary[];
  problems: VerifyProblem[];
  warnings: string[];
  segmentsChecked: number;
  durationMs: number;
}

/** A head recorded earlier (by a drill report or by hand) that the store must still reach. */
export interface ExpectedHead {
  /** Which stream; may be left out when the store holds one stream. */
  streamId?: string;
  sequence: number;
  /** Segment hash, hex. */
  hash: string;
}
