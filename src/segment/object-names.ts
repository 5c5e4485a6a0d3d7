import { randomBytes } from 'node:crypto';

/** A stream id: 32 lowercase hex characters (16 random bytes). */
export const STREAM_ID_PATTERN = /^[0-9a-f]{32}$/;

const SEQUENCE_DIGITS = 20;
const OBJECT_NAME =
  /(?:^|\/)streams\/([0-9a-f]{32})\/(segments|checkpoints)\/([0-9]{20})\.(seg|ckpt)$/;

/** What an object name says about the object. */
export interface ObjectNameInfo {
  kind: 'segment' | 'checkpoint';
  streamId: string;
  sequence: number;
}

/**
 * A fresh random stream id.
 *
 * @example
 * ```ts
 * newStreamId(); // => '9f86d081884c7d659a2feaa0c55ad015'
 * ```
 */
export function newStreamId(): string {
  return randomBytes(16).toString('hex');
}

/**
 * The store name of a segment: `streams/<streamId>/segments/<sequence, 20 digits>.seg`.
 *
 * @example
 * ```ts
 * segmentName('9f86d081884c7d659a2feaa0c55ad015', 7);
 * // => 'streams/9f86d081884c7d659a2feaa0c55ad015/segments/00000000000000000007.seg'
 * ```
 */
export function segmentName(streamId: string, sequence: number): string {
  checkNameParts(streamId, sequence);
  return `streams/${streamId}/segments/${padSequence(sequence)}.seg`;
}

/**
 * The store name of a checkpoint: `streams/<streamId>/checkpoints/<sequence, 20 digits>.ckpt`.
 *
 * @example
 * ```ts
 * checkpointName('9f86d081884c7d659a2feaa0c55ad015', 7);
 * // => 'streams/9f86d081884c7d659a2feaa0c55ad015/checkpoints/00000000000000000007.ckpt'
 * ```
 */
export function checkpointName(streamId: string, sequence: number): string {
  checkNameParts(streamId, sequence);
  return `streams/${streamId}/checkpoints/${padSequence(sequence)}.ckpt`;
}

/**
 * Parse a segment or checkpoint name (also at the end of a longer path, such as a file in a
 * folder store). Returns undefined for any other name, including sequence 0 and sequences
 * beyond 2^53 - 1.
 *
 * @example
 * ```ts
 * parseObjectName('streams/9f86d081884c7d659a2feaa0c55ad015/segments/00000000000000000007.seg');
 * // => { kind: 'segment', streamId: '9f86…', sequence: 7 }
 * ```
 */
export function parseObjectName(name: string): ObjectNameInfo | undefined {
  const match = OBJECT_NAME.exec(name);
  if (match === null) return undefined;
  const [, streamId, folder, digits, extension] = match;
  const kind = folder === 'segments' ? 'segment' : 'checkpoint';
  if ((kind === 'segment') !== (extension === 'seg')) return undefined;
  const sequence = Number(digits);
  if (sequence < 1 || !Number.isSafeInteger(sequence)) return undefined;
  return { kind, streamId: streamId!, sequence };
}

function padSequence(sequence: number): string {
  return String(sequence).padStart(SEQUENCE_DIGITS, '0');
}

function checkNameParts(streamId: string, sequence: number): void {
  if (!STREAM_ID_PATTERN.test(streamId)) {
    throw new TypeError(`invalid stream id "${streamId}": expected 32 lowercase hex characters`);
  }
  if (!Number.isSafeInteger(sequence) || sequence < 1) {
    throw new TypeError(`invalid sequence ${sequence}: expected an integer from 1 to 2^53 - 1`);
  }
}
