export { BatchWriter, DEFAULT_MAX_IN_FLIGHT } from './batch-writer.js';
export { type Batch, Batcher, splitTransaction, transactionBytes } from './batcher.js';
export { ENVELOPE_PREFIX, EnvelopeSealer, envelopeName } from './envelope-sealer.js';
export { type RecoveredHead, recoverHead } from './head-recovery.js';
export { type OpenStream, openStream } from './open-stream.js';
export {
  DEFAULT_CHECKPOINT_INTERVAL_MS,
  DEFAULT_FLUSH_INTERVAL_MS,
  DEFAULT_MAX_SEGMENT_BYTES,
  Replicator,
  type ReplicatorOptions,
  type ReplicatorStatus,
} from './replicator.js';
export type { BatchSealer, SealedBatch, StoreObject } from './sealed-batch.js';
export { SegmentSealer } from './segment-sealer.js';
export {
  GENESIS_HASH_HEX,
  newState,
  type ReplicatorState,
  readState,
  STATE_FILE_NAME,
  writeState,
} from './state-file.js';
export { acquireStateLock, LOCK_FILE_NAME, type StateLock } from './state-lock.js';
export { ensureStateSigningKey } from './state-signing-key.js';
