import type { VerifyKey } from '../keys/index.js';
import { type Logger, silentLogger } from '../log/logger.js';
import { GENESIS_HASH, parseObjectName } from '../segment/index.js';
import type { ObjectStore } from '../store/store.js';
import { CheckpointCursor } from './checkpoint-cursor.js';
import {
  expectedHeadsOf,
  headHashProblem,
  missingStreamProblems,
  streamEndProblem,
} from './expected-heads.js';
import { listStreams } from './list-streams.js';
import { prefetch } from './prefetch.js';
import { inspectSegment, type SegmentFacts } from './segment-facts.js';
import type { ExpectedHead, StreamSummary, VerifyProblem, VerifyReport } from './verify-types.js';

export interface VerifyStoreOptions {
  store: ObjectStore;
  /** The replicator's public signing key; without it authenticity is not proven. */
  verifyKey?: VerifyKey;
  /** Heads recorded earlier: the store must still hold them (rollback detection). */
  expectHeads?: ExpectedHead[];
  /** The clock for checkpoint ages (tests). */
  now?: Date;
  prefetchSegments?: number;
  logger?: Logger;
}

/**
 * Check every stream of a store with public keys only: segment signatures, names against
 * headers, sequence numbers without gaps, the hash chain, one signer per stream, checkpoints
 * (authentic, naming an existing head, not beyond the last segment) and their age. Reads one
 * segment at a time plus a few prefetched: memory does not grow with the store.
 *
 * @example
 * ```ts
 * const report = await verifyStore({ store, verifyKey });
 * if (!report.intact) for (const p of report.problems) console.log(p.object, p.message);
 * ```
 */
export async function verifyStore(options: VerifyStoreOptions): Promise<VerifyReport> {
  const started = Date.now();
  const now = options.now ?? new Date();
  const logger = options.logger ?? silentLogger;
  const problems: VerifyProblem[] = [];
  const warnings: string[] = [];
  const streams: StreamSummary[] = [];
  let segmentsChecked = 0;

  // Each stream is checked on its own; problems accumulate so one run shows them all.
  for (const streamId of await listStreams(options.store)) {
    const expect = expectedHeadsOf(options.expectHeads ?? [], streamId);
    const result = await verifyStream({ ...options, streamId, now, expect, problems });
    streams.push(result.summary);
    segmentsChecked += result.summary.segments;
    warnings.push(...result.warnings);
  }

  // Expected heads of streams the store no longer has are a rollback too.
  problems.push(
    ...missingStreamProblems(
      options.expectHeads ?? [],
      streams.map((s) => s.streamId),
    ),
  );
  if (streams.length === 0) warnings.push('the store holds no v2 stream');
  if (options.verifyKey === undefined && streams.length > 0) {
    warnings.push(
      'authenticity not proven: signatures were checked against the signer key recorded in each stream, which a forger could also have written; pass --verify-key',
    );
  }

  const report: VerifyReport = {
    store: options.store.url,
    checkedAt: now.toISOString(),
    intact: problems.length === 0,
    authenticityProven: options.verifyKey !== undefined && problems.length === 0,
    verifyKeyId: options.verifyKey?.keyId,
    streams,
    problems,
    warnings,
    segmentsChecked,
    durationMs: Date.now() - started,
  };
  logger.info(
    { streams: streams.length, segments: segmentsChecked, problems: problems.length },
    'store verified',
  );
  return report;
}

interface StreamCheck extends VerifyStoreOptions {
  streamId: string;
  now: Date;
  expect: ExpectedHead[];
  problems: VerifyProblem[];
}

async function verifyStream(
  check: StreamCheck,
): Promise<{ summary: StreamSummary; warnings: string[] }> {
  const { store, streamId, problems } = check;
  const prefix = `streams/${streamId}/`;
  const summary: StreamSummary = {
    streamId,
    segments: 0,
    signerKeyIds: [],
    recipientKeyIds: [],
    bytes: 0,
    checkpoints: 0,
  };
  const signers = new Set<string>();
  const recipients = new Set<string>();
  const checkpoints = new CheckpointCursor({ ...check, problems, signers });

  // Segments come in name order, which is sequence order (20-digit names).
  let previous: (SegmentFacts & { sequence: number }) | undefined;
  const names = store.list(`${prefix}segments/`);
  const fetch = (name: string) => inspectSegment(store, name, check.verifyKey);
  for await (const facts of prefetch(names, fetch, check.prefetchSegments ?? 4)) {
    const parsed = parseObjectName(facts.name);
    if (parsed === undefined || parsed.kind !== 'segment' || parsed.streamId !== streamId) {
      problems.push({
        kind: 'unexpected-object',
        object: facts.name,
        message: 'not a segment name',
      });
      continue;
    }
    summary.segments++;
    summary.bytes += facts.size;
    if (facts.error !== undefined) {
      problems.push({ kind: 'unauthentic', object: facts.name, message: facts.error.message });
    }
    const header = facts.header;

    // The header must say what the name says.
    if (header !== undefined) {
      if (header.streamId !== streamId || header.sequence !== parsed.sequence) {
        problems.push({
          kind: 'misplaced',
          object: facts.name,
          message: `its header says stream ${header.streamId} sequence ${header.sequence}: a segment moved, swapped, duplicated with other content or spliced in from another stream`,
        });
      }
      signers.add(header.signerKeyId);
      for (const recipient of header.recipients) recipients.add(recipient.keyId);
      const firstSigner = summary.signerKeyIds[0];
      if (firstSigner === undefined) summary.signerKeyIds.push(header.signerKeyId);
      else if (header.signerKeyId !== firstSigner && check.verifyKey === undefined) {
        problems.push({
          kind: 'signer',
          object: facts.name,
          message: `signed by key ${header.signerKeyId}, while the stream is signed by ${firstSigner}`,
        });
      }
    }

    // Sequence numbers start at 1 and have no gaps; the chain links each to the one before.
    const expected = (previous?.sequence ?? 0) + 1;
    if (parsed.sequence > expected) {
      const missing =
        parsed.sequence - 1 === expected ? `${expected}` : `${expected} to ${parsed.sequence - 1}`;
      problems.push({
        kind: 'gap',
        object: facts.name,
        message: `segment(s) ${missing} missing before it`,
      });
    } else if (header !== undefined) {
      const wanted = previous === undefined ? GENESIS_HASH : previous.hash;
      if (wanted !== undefined && !header.previousHash.equals(wanted)) {
        problems.push({
          kind: 'chain',
          object: facts.name,
          message: `its previous hash is not the hash of segment ${expected - 1}: a segment was removed, reordered or replaced`,
        });
      }
    }

    // Dates and range for the summary.
    summary.firstSequence ??= parsed.sequence;
    summary.lastSequence = parsed.sequence;
    if (header !== undefined) {
      const created = header.createdAt.toISOString();
      summary.firstCreatedAt ??= created;
      summary.lastCreatedAt = created;
    }
    if (facts.hash !== undefined) {
      summary.head = { sequence: parsed.sequence, hash: facts.hash.toString('hex') };
    }
    for (const head of check.expect.filter((h) => h.sequence === parsed.sequence)) {
      const rewritten = headHashProblem(head, streamId, facts.name, facts.hash);
      if (rewritten !== undefined) problems.push(rewritten);
    }
    await checkpoints.advanceTo(parsed.sequence, facts.hash);
    previous = { ...facts, sequence: parsed.sequence };
  }

  // Checkpoints beyond the last segment: the newest segments were removed.
  await checkpoints.finish(summary.lastSequence ?? 0);
  summary.checkpoints = checkpoints.count;
  summary.newestCheckpoint = checkpoints.newest;
  summary.signerKeyIds = [...signers].sort();
  summary.recipientKeyIds = [...recipients].sort();
  const found = { streamId, lastSequence: summary.lastSequence ?? 0, head: summary.head };
  for (const head of check.expect) {
    const short = streamEndProblem(head, found);
    if (short !== undefined) problems.push(short);
  }

  const warnings: string[] = [];
  if (checkpoints.count === 0 && summary.segments > 0) {
    warnings.push(
      `stream ${streamId} has no checkpoint: removal of its newest segments cannot be detected`,
    );
  }
  return { summary, warnings };
}
