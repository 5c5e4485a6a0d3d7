import { UsageError } from '../errors.js';
import { MAX_OBJECT_BYTES, OBJECT_NAME_PATTERN } from './store.js';

/** Longest object name any backend accepts, in bytes (S3 keys stop at 1024). */
export const MAX_OBJECT_NAME_BYTES = 512;

/**
 * Reject a name that is not a safe relative object name (see {@link OBJECT_NAME_PATTERN}).
 * Backends call this first so that no name can climb out of a folder or a prefix.
 *
 * @example
 * ```ts
 * checkObjectName('streams/ab/segments/00000000000000000001.seg'); // ok
 * checkObjectName('../etc/passwd'); // throws UsageError
 * ```
 */
export function checkObjectName(name: string): void {
  if (name.length > MAX_OBJECT_NAME_BYTES || !OBJECT_NAME_PATTERN.test(name)) {
    throw new UsageError(`invalid object name ${JSON.stringify(name.slice(0, 80))}`, {
      hint: 'object names are slash-separated segments of A-Z a-z 0-9 . _ - without . or ..',
    });
  }
}

/**
 * Reject a list prefix that could not select any valid object name. An empty prefix lists
 * everything; otherwise it must be a valid name or a valid name followed by a slash.
 *
 * @example
 * ```ts
 * checkListPrefix('streams/'); // ok
 * ```
 */
export function checkListPrefix(prefix: string): void {
  if (prefix === '') return;
  const trimmed = prefix.endsWith('/') ? prefix.slice(0, -1) : prefix;
  // A prefix may end in the middle of a segment ("envelopes/abc"), which the pattern allows.
  const segments = trimmed.split('/');
  const climbs = segments.some((segment) => segment === '' || segment === '.' || segment === '..');
  if (trimmed.length > MAX_OBJECT_NAME_BYTES || !/^[A-Za-z0-9._/-]+$/.test(trimmed) || climbs) {
    throw new UsageError(`invalid list prefix ${JSON.stringify(prefix.slice(0, 80))}`, {
      hint: 'a prefix is the start of an object name, such as "streams/" or "envelopes/"',
    });
  }
}

/**
 * Reject an object larger than {@link MAX_OBJECT_BYTES}.
 *
 * @example
 * ```ts
 * checkObjectSize('envelopes/a.json', bytes);
 * ```
 */
export function checkObjectSize(name: string, bytes: Uint8Array): void {
  if (bytes.byteLength > MAX_OBJECT_BYTES) {
    throw new UsageError(
      `store object ${name}: ${bytes.byteLength} bytes exceeds the ${MAX_OBJECT_BYTES}-byte limit`,
    );
  }
}

/**
 * Compare two byte arrays for equality (not constant time: object bytes are not secrets).
 *
 * @example
 * ```ts
 * sameBytes(new Uint8Array([1]), new Uint8Array([1])); // true
 * ```
 */
export function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(
    Buffer.from(b.buffer, b.byteOffset, b.byteLength),
  );
}
