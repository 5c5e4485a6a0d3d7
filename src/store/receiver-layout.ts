/**
 * How object names map onto the Cloud Receiver API (the seed's API, extended for v2 streams).
 * The HTTPS client store and the vault server both use this one mapping.
 *
 * | object name                                   | API resource                         |
 * | --------------------------------------------- | ------------------------------------ |
 * | `envelopes/<id>.json`                         | `/envelopes/{id}`                    |
 * | `streams/<stream>/segments/<20 digits>.seg`   | `/streams/{stream}/segments/{seq}`   |
 * | `streams/<stream>/checkpoints/<20 digits>.ckpt` | `/streams/{stream}/checkpoints/{seq}` |
 */

/** Envelope ids: an allow-list, so no id can name a path outside its folder. */
export const RECEIVER_ID_PATTERN = /^[A-Za-z0-9_-]{1,128}$/;
/** Stream ids: 16 random bytes as 32 lowercase hex characters (the v2 format's stream id). */
export const STREAM_ID_PATTERN = /^[0-9a-f]{32}$/;
/** A sequence number in a URL: 1 to 16 digits, value 1 … 2^53-1. */
export const SEQUENCE_PATTERN = /^[0-9]{1,16}$/;
/** Width of the zero-padded sequence number in object names, so names sort numerically. */
export const SEQUENCE_DIGITS = 20;

export type StreamObjectKind = 'segment' | 'checkpoint';

export type ReceiverObject =
  | { kind: 'envelope'; id: string }
  | { kind: StreamObjectKind; stream: string; sequence: number };

const KIND_FOLDER: Record<StreamObjectKind, { folder: string; suffix: string }> = {
  segment: { folder: 'segments', suffix: '.seg' },
  checkpoint: { folder: 'checkpoints', suffix: '.ckpt' },
};

/**
 * The object name of an envelope, segment or checkpoint.
 *
 * @example
 * ```ts
 * receiverName({ kind: 'segment', stream: 'ab12', sequence: 42 });
 * // 'streams/ab12/segments/00000000000000000042.seg'
 * ```
 */
export function receiverName(object: ReceiverObject): string {
  if (object.kind === 'envelope') return `envelopes/${object.id}.json`;
  const { folder, suffix } = KIND_FOLDER[object.kind];
  const digits = String(object.sequence).padStart(SEQUENCE_DIGITS, '0');
  return `streams/${object.stream}/${folder}/${digits}${suffix}`;
}

/**
 * Parse an object name into the API resource it maps to, or `undefined` when the API has no
 * resource for it.
 *
 * @example
 * ```ts
 * parseReceiverName('envelopes/x-1.json'); // { kind: 'envelope', id: 'x-1' }
 * ```
 */
export function parseReceiverName(name: string): ReceiverObject | undefined {
  const envelope = /^envelopes\/([^/]+)\.json$/.exec(name);
  if (envelope !== null) {
    const id = envelope[1]!;
    return RECEIVER_ID_PATTERN.test(id) ? { kind: 'envelope', id } : undefined;
  }
  const stream = /^streams\/([^/]+)\/(segments|checkpoints)\/([0-9]{20})\.(seg|ckpt)$/.exec(name);
  if (stream === null) return undefined;
  const [, id, folder, digits, suffix] = stream as unknown as [
    string,
    string,
    string,
    string,
    string,
  ];
  const kind: StreamObjectKind = folder === 'segments' ? 'segment' : 'checkpoint';
  if (KIND_FOLDER[kind].suffix !== `.${suffix}` || !STREAM_ID_PATTERN.test(id)) return undefined;
  const sequence = Number(digits);
  if (!Number.isSafeInteger(sequence) || sequence < 1) return undefined;
  return { kind, stream: id, sequence };
}

/**
 * Parse a sequence number from a URL path or query; `undefined` when it is not 1 … 2^53-1.
 *
 * @example
 * ```ts
 * parseSequence('42'); // 42
 * parseSequence('0'); // undefined
 * ```
 */
export function parseSequence(text: string): number | undefined {
  if (!SEQUENCE_PATTERN.test(text)) return undefined;
  const value = Number(text);
  return Number.isSafeInteger(value) && value >= 1 ? value : undefined;
}
