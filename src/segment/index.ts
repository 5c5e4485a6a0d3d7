export { type Checkpoint, openCheckpoint, sealCheckpoint } from './checkpoint.js';
export {
  checkpointName,
  newStreamId,
  type ObjectNameInfo,
  parseObjectName,
  STREAM_ID_PATTERN,
  segmentName,
} from './object-names.js';
export {
  badPayload,
  type OpenSegmentOptions,
  openSegment,
  openSegmentPayload,
  type ReadSegmentOptions,
  readSegmentHeader,
} from './open-segment.js';
export { decodePayload, type EncodedPayload, encodePayload, readPayload } from './payload.js';
export { decodeTransactions, encodeTransactions } from './payload-codec.js';
export { type SealedSegment, type SealSegmentOptions, sealSegment } from './seal-segment.js';
export {
  CHECKPOINT_BYTES,
  Compression,
  type CompressionName,
  GENESIS_HASH,
  MAX_SEGMENT_PLAINTEXT_BYTES,
  PayloadEncoding,
  type PayloadEncodingName,
} from './segment-constants.js';
export { segmentHash } from './segment-hash.js';
export type { HeaderRecipient, SegmentHeader } from './segment-header.js';
