import { IntegrityError } from '../errors.js';
import type { VerifyKey } from '../keys/index.js';
import { readSegmentHeader, type SegmentHeader, segmentHash } from '../segment/index.js';
import type { ObjectStore } from '../store/store.js';

/** What verify learns about one segment without decrypting it. */
export interface SegmentFacts {
  name: string;
  size: number;
  /** Set when the header parsed and its signature verified. */
  header?: SegmentHeader;
  /** Hash of the bytes as stored (what the next segment must name), when they could be read. */
  hash?: Buffer;
  /** Why the header did not parse or verify. */
  error?: Error;
}

/**
 * Fetch a segment and read its header, verifying its signature (against `verifyKey`, else the
 * key the header records). Failures are returned, not thrown, so verify can go on.
 *
 * @example
 * ```ts
 * const facts = await inspectSegment(store, name, verifyKey);
 * if (facts.error) report(facts.name, facts.error.message);
 * ```
 */
export async function inspectSegment(
  store: ObjectStore,
  name: string,
  verifyKey: VerifyKey | undefined,
): Promise<SegmentFacts> {
  const bytes = await store.get(name);
  if (bytes === undefined) {
    return { name, size: 0, error: new Error('listed but gone when fetched') };
  }
  const buffer = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const facts: SegmentFacts = { name, size: buffer.length };
  try {
    facts.hash = segmentHash(buffer);
  } catch (error) {
    facts.error = error as Error;
    return facts;
  }
  try {
    facts.header = readSegmentHeader(buffer, { name, verifyKey });
  } catch (error) {
    facts.error = error as Error;
  }

  // A header that verifies but disagrees with its name is reported by the caller as misplaced,
  // so read it once more without the name check.
  if (facts.error instanceof IntegrityError) {
    try {
      facts.header = readSegmentHeader(buffer, { verifyKey });
      facts.error = undefined;
    } catch {
      // The first error stands.
    }
  }
  return facts;
}
