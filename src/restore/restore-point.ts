import type { Transaction } from '../change/change.js';
import { comparePositions, positionValue } from '../change/change.js';
import { UsageError } from '../errors.js';

/** Where a point-in-time restore stops: after a commit time, or after a position. */
export type RestorePoint =
  | { kind: 'time'; text: string; micros: bigint }
  | { kind: 'position'; text: string };

const ISO_TIME =
  /^(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2}(?::\d{2})?)(?:\.(\d{1,9}))?(Z|[+-]\d{2}(?::?\d{2})?)?$/i;

/**
 * Microseconds since 1970 of an ISO 8601 time, keeping the microseconds a JS Date drops.
 * A time without an offset is read as UTC. Returns undefined when the text is not such a time.
 *
 * @example
 * ```ts
 * epochMicros('1970-01-01T00:00:00.000001Z'); // => 1n
 * ```
 */
export function epochMicros(text: string): bigint | undefined {
  const match = ISO_TIME.exec(text.trim());
  if (match === null) return undefined;
  const [, date, time, fraction = '', zone = 'Z'] = match;
  const offset = zone.toUpperCase() === 'Z' ? 'Z' : normaliseOffset(zone);
  const millis = Date.parse(`${date}T${time!.length === 5 ? `${time}:00` : time}${offset}`);
  if (Number.isNaN(millis)) return undefined;
  const micros = BigInt(`${fraction}000000`.slice(0, 6));
  return BigInt(millis) * 1000n + micros;
}

function normaliseOffset(zone: string): string {
  const digits = zone.slice(1).replace(':', '');
  const hours = digits.slice(0, 2);
  const minutes = digits.slice(2, 4) || '00';
  return `${zone[0]}${hours}:${minutes}`;
}

/**
 * Parse `--until`: an LSN (`16/B374D848`), a decimal position, or an ISO 8601 time.
 *
 * @example
 * ```ts
 * parseRestorePoint('2026-12-03T17:00:00Z').kind; // => 'time'
 * parseRestorePoint('0/16B3748').kind; // => 'position'
 * ```
 */
export function parseRestorePoint(text: string): RestorePoint {
  try {
    positionValue(text);
    return { kind: 'position', text };
  } catch {
    // Not a position; try a time.
  }
  const micros = epochMicros(text);
  if (micros === undefined) {
    throw new UsageError(
      `invalid --until "${text}": expected an ISO 8601 time, an LSN like 0/16B3748, or a position`,
      { hint: 'for example --until 2026-12-03T17:00:00Z' },
    );
  }
  return { kind: 'time', text, micros };
}

/**
 * True when the transaction lies after the restore point (and must not be applied).
 *
 * @example
 * ```ts
 * if (isBeyond(point, tx)) stop();
 * ```
 */
export function isBeyond(point: RestorePoint, tx: Transaction): boolean {
  if (point.kind === 'position') return comparePositions(tx.position, point.text) > 0;
  const commit = epochMicros(tx.commitTime);
  return commit !== undefined && commit > point.micros;
}
