import { readFile } from 'node:fs/promises';
import { UsageError } from '../errors.js';
import type { VerifyKey } from '../keys/index.js';
import { segmentName } from '../segment/index.js';
import type { ObjectStore } from '../store/store.js';
import type { RestoreReport } from './restore-report.js';
import { inspectSegment } from './segment-facts.js';
import type { ExpectedHead, VerifyProblem } from './verify-types.js';

/** A stream as found in the store: its last sequence and head, what expected heads meet. */
export interface FoundStream {
  streamId: string;
  /** 0 for a stream without segments. */
  lastSequence: number;
  head?: { sequence: number; hash: string };
}

/**
 * The expected heads that concern a stream: those naming it and those naming no stream.
 *
 * @example
 * ```ts
 * expectedHeadsOf(heads, streamId).length; // => 1
 * ```
 */
export function expectedHeadsOf(heads: ExpectedHead[], streamId: string): ExpectedHead[] {
  return heads.filter((head) => head.streamId === undefined || head.streamId === streamId);
}

/**
 * A rollback problem when the stream ends before an expected head.
 *
 * @example
 * ```ts
 * streamEndProblem(head, { streamId, lastSequence: 2 }); // => { kind: 'rollback', … }
 * ```
 */
export function streamEndProblem(
  head: ExpectedHead,
  found: FoundStream,
): VerifyProblem | undefined {
  if (found.lastSequence >= head.sequence) return undefined;
  const now =
    found.head === undefined
      ? `segment ${found.lastSequence}`
      : `head ${found.head.sequence}:${found.head.hash}`;
  return {
    kind: 'rollback',
    object: `streams/${found.streamId}/`,
    message:
      `${expectedText(found.streamId, head)}, found the stream ending at ${now}: ` +
      'the store was rolled back or truncated',
  };
}

/**
 * A rollback problem when the segment at an expected head's sequence has another hash.
 *
 * @example
 * ```ts
 * headHashProblem(head, streamId, facts.name, facts.hash);
 * ```
 */
export function headHashProblem(
  head: ExpectedHead,
  streamId: string,
  object: string,
  hash: Buffer | undefined,
): VerifyProblem | undefined {
  // NOTE: a segment that cannot be hashed is a damaged segment, reported as such elsewhere.
  if (hash === undefined) return undefined;
  const found = hash.toString('hex');
  if (found === head.hash.toLowerCase()) return undefined;
  return {
    kind: 'rollback',
    object,
    message:
      `${expectedText(streamId, head)}, found segment ${head.sequence} with hash ${found}: ` +
      'the stream was rewritten',
  };
}

/**
 * Rollback problems for expected heads whose stream the store no longer holds (a head naming
 * no stream fails only when the store holds no stream at all).
 *
 * @example
 * ```ts
 * missingStreamProblems(heads, ['…']);
 * ```
 */
export function missingStreamProblems(heads: ExpectedHead[], streamIds: string[]): VerifyProblem[] {
  const problems: VerifyProblem[] = [];
  for (const head of heads) {
    if (head.streamId === undefined ? streamIds.length > 0 : streamIds.includes(head.streamId)) {
      continue;
    }
    const stream = head.streamId ?? '(any)';
    problems.push({
      kind: 'rollback',
      object: head.streamId === undefined ? 'streams/' : `streams/${head.streamId}/`,
      message:
        `${expectedText(stream, head)}, found no such stream in the store: ` +
        'the store was rolled back or replaced',
    });
  }
  return problems;
}

/** `stream S: expected head N:HASH (recorded earlier)`, the first half of each message. */
function expectedText(streamId: string, head: ExpectedHead): string {
  const recorded = `${head.sequence}:${head.hash.toLowerCase()}`;
  return `stream ${streamId}: expected head ${recorded} (recorded earlier)`;
}

/**
 * Check expected heads against streams whose ends are known (e.g. from a restore plan),
 * fetching only the segment at each expected sequence. Returns the problems, empty when the
 * store still holds every expected head.
 *
 * @example
 * ```ts
 * const problems = await checkExpectedHeads(store, found, heads, verifyKey);
 * ```
 */
export async function checkExpectedHeads(
  store: ObjectStore,
  streams: FoundStream[],
  heads: ExpectedHead[],
  verifyKey: VerifyKey | undefined,
): Promise<VerifyProblem[]> {
  const problems = missingStreamProblems(
    heads,
    streams.map((s) => s.streamId),
  );

  // Each stream must reach each of its expected heads, with the same hash there.
  for (const stream of streams) {
    for (const head of expectedHeadsOf(heads, stream.streamId)) {
      const short = streamEndProblem(head, stream);
      if (short !== undefined) {
        problems.push(short);
        continue;
      }
      const name = segmentName(stream.streamId, head.sequence);
      const facts = await inspectSegment(store, name, verifyKey);
      const rewritten = headHashProblem(head, stream.streamId, name, facts.hash);
      if (rewritten !== undefined) problems.push(rewritten);
    }
  }
  return problems;
}

/**
 * Parse `--expect-head [stream:]seq:hash`.
 *
 * @example
 * ```ts
 * parseExpectedHead('42:ab12…'); // => { sequence: 42, hash: 'ab12…' }
 * ```
 */
export function parseExpectedHead(text: string): ExpectedHead {
  const match = /^(?:([0-9a-f]{32}):)?([1-9][0-9]*):([0-9a-fA-F]{64})$/.exec(text);
  if (match === null) {
    throw new UsageError(`invalid --expect-head "${text}": expected [stream:]sequence:hash`, {
      hint: 'copy the head a drill report or an earlier verify printed, e.g. 42:<64 hex digits>',
    });
  }
  return { streamId: match[1], sequence: Number(match[2]), hash: match[3]!.toLowerCase() };
}

/**
 * The stream heads a drill report (`restore --report`) recorded.
 *
 * @example
 * ```ts
 * const heads = await headsFromReport('drills/2026-12-01.json');
 * ```
 */
export async function headsFromReport(path: string): Promise<ExpectedHead[]> {
  let report: RestoreReport;
  try {
    report = JSON.parse(await readFile(path, 'utf8')) as RestoreReport;
  } catch (error) {
    throw new UsageError(`read drill report "${path}": ${(error as Error).message}`, {
      hint: 'pass the JSON file that "restore --report" wrote',
    });
  }
  const heads = (Array.isArray(report?.streams) ? report.streams : [])
    .filter((s) => s.head !== undefined)
    .map((s) => ({ streamId: s.streamId, sequence: s.head!.sequence, hash: s.head!.hash }));
  if (heads.length === 0) {
    throw new UsageError(`read drill report "${path}": it records no stream head`, {
      hint: 'pass the report of a restore that read at least one segment',
    });
  }
  return heads;
}
